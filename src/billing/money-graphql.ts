import { builder } from '../builder.ts';
import { type Money, toMinorUnits } from './money.ts';

/** Money: `amount` exact (unrounded); `amountMinor` rounded once, half-up, to the minor unit. */
export const MoneyRef = builder.objectRef<Money>('Money').implement({
  description:
    'An amount of money. `amount` is exact; `amountMinor` is it rounded half-up to the minor unit.',
  fields: (t) => ({
    amount: t.field({ type: 'Decimal', resolve: (m) => m.amount }),
    currency: t.exposeString('currency'),
    amountMinor: t.field({ type: 'SafeInt', resolve: (m) => toMinorUnits(m.amount, m.currency) }),
  }),
});
