import { builder } from './builder.ts';
import { chargeDecimals, type Money, roundToMinor, toMinorUnits } from './core/index.ts';

/**
 * Money: `amount` exact (unrounded); `rounded` and `amountMinor` are it rounded once, half-up, to
 * what the currency can be charged in (money.ts `roundToMinor`), `amountMinor` counted in the ISO
 * 4217 minor unit (so a multiple of 10 for KWD, of 100 for MGA).
 */
export const MoneyRef = builder.objectRef<Money>('Money').implement({
  description:
    'An amount of money. `amount` is exact; `rounded` is it rounded once, half-up, to what the currency can be charged in (the cent for USD; whole units of JPY, MGA, ISK and UGX; hundredths of KWD, BHD, JOD, OMR and TND), the amount an invoice shows and Stripe charges; `amountMinor` is `rounded` in the ISO 4217 minor unit.',
  fields: (t) => ({
    amount: t.field({ type: 'Decimal', resolve: (m) => m.amount }),
    currency: t.exposeString('currency'),
    amountMinor: t.field({
      type: 'SafeInt',
      description:
        '`rounded` in the ISO 4217 minor unit of the currency (cents for USD, 1 ISK is 1, 1 MGA is 100, 1 KWD is 1000).',
      resolve: (m) => toMinorUnits(m.amount, m.currency),
    }),
    rounded: t.field({
      type: 'Decimal',
      description: '`amount` rounded once, half-up, to what the currency can be charged in.',
      resolve: (m) => roundToMinor(m.amount, m.currency),
    }),
    decimals: t.int({
      description:
        'The decimal places the currency is charged in, and `rounded` is shown with: 2 for USD, 0 for JPY and ISK, 2 for KWD (Stripe charges it in hundredths).',
      resolve: (m) => chargeDecimals(m.currency),
    }),
  }),
});
