import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Amount,
  type CounterState,
  canRefuse,
  computeOverageLine,
  Dec,
  decideOnCounter,
  decideQuota,
  type Entitlement,
  type MetricAggregation,
  type OverageBudget,
  type OveragePrice,
  overageTotalAfter,
  summarizeOverages,
  ZERO,
} from '../../../src/core/index.ts';
import { currencyArb, overagePriceArb } from './arbitraries.ts';

const small = fc.bigInt({ min: 0n, max: 50n });
/** Any price, or one of a few that make lines of a few units round (half a cent, a third of a unit). */
const priceArb = fc.oneof(
  overagePriceArb,
  fc
    .constantFrom('0.001', '0.005', '0.125', '0.5', '3.3333')
    .map((p): OveragePrice => ({ model: 'PER_UNIT', unitPrice: new Dec(p) })),
);
const meteredArb = fc.record({
  aggregation: fc.constantFrom<MetricAggregation>('SUM', 'COUNT', 'MAX', 'LATEST'),
  entitlement: fc.tuple(small, fc.option(small), fc.option(small), fc.option(priceArb)).map(
    ([included, soft, hardExtra, overagePrice]): Entitlement => ({
      included,
      softLimit: soft === null ? null : included + soft,
      hardLimit: hardExtra === null ? null : included + (soft ?? 0n) + hardExtra,
      overagePrice,
    }),
  ),
});
const capArb = fc
  .tuple(fc.bigInt({ min: 0n, max: 1_000n }), fc.integer({ min: 0, max: 2 }))
  .map(([m, scale]): Amount => new Dec(`${m}e-${scale}`));
const stepArb = fc.record({
  metric: fc.nat(2),
  quantity: fc.bigInt({ min: 1n, max: 40n }),
  minute: fc.integer({ min: 0, max: 60 }),
});
const at = (minute: number) => new Date(Date.UTC(2026, 10, 16, 10, minute));

describe('the budget carried across consumptions', () => {
  it('equals the invoiced total (the sum of rounded lines) recomputed from scratch, at every step', () => {
    fc.assert(
      fc.property(
        fc.array(meteredArb, { minLength: 3, maxLength: 3 }),
        currencyArb,
        capArb,
        fc.constantFrom<OverageBudget['action']>('BLOCK', 'ALERT'),
        fc.constantFrom(true, true, true, false), // billing mostly on: that is where budgets bite
        fc.array(stepArb, { maxLength: 25 }),
        (metered, currency, cap, action, billingEnabled, steps) => {
          const counters: (CounterState | undefined)[] = metered.map(() => undefined);
          const lineAt = (i: number, used: bigint) =>
            computeOverageLine({ used, entitlement: metered[i]!.entitlement, currency, billingEnabled });
          const invoiced = () =>
            summarizeOverages(
              metered.map((_, i) => lineAt(i, counters[i]?.value ?? 0n)),
              currency,
            ).total;
          let soFar: Amount = ZERO; // an empty period: nothing billed yet
          for (const step of steps) {
            const { aggregation, entitlement } = metered[step.metric]!;
            const budget: OverageBudget = { cap, action, overageCostSoFar: soFar, currency };
            const before = counters[step.metric]?.value ?? 0n;
            const d = decideOnCounter(
              aggregation,
              entitlement,
              counters[step.metric],
              { quantity: step.quantity, at: at(step.minute) },
              { budget, billingEnabled },
            );
            if (action === 'ALERT') expect(d.reason).not.toBe('BUDGET_CAP');
            if (!d.allowed) continue;
            soFar = overageTotalAfter(budget, entitlement, before, d.usedAfter, billingEnabled);
            counters[step.metric] = d.counterAfter;
            const total = invoiced();
            expect(soFar.equals(total), `${soFar} carried, ${total} invoiced`).toBe(true);
            // Flagged exactly when the step added cost and took the invoice past the cap.
            const added = lineAt(step.metric, d.usedAfter).cost.greaterThan(lineAt(step.metric, before).cost);
            expect(d.budgetExceeded).toBe(added && total.greaterThan(cap));
            // From an empty period, a BLOCK budget keeps the invoice within its cap.
            if (action === 'BLOCK') expect(total.lessThanOrEqualTo(cap)).toBe(true);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('moves by the rounded line difference, in either direction (a LATEST reading may lower it)', () => {
    const e: Entitlement = {
      included: 5n,
      softLimit: null,
      hardLimit: null,
      overagePrice: { model: 'PER_UNIT', unitPrice: new Dec('0.005') },
    };
    const budget: OverageBudget = {
      cap: new Dec(100),
      action: 'BLOCK',
      overageCostSoFar: new Dec('7.5'),
      currency: 'USD',
    };
    // 5 units of $0.005 past 5: $0.025, invoiced $0.03; 1 unit: $0.005, invoiced $0.01.
    expect(overageTotalAfter(budget, e, 0n, 10n, true).toFixed()).toBe('7.53');
    expect(overageTotalAfter(budget, e, 10n, 6n, true).toFixed()).toBe('7.48');
    expect(overageTotalAfter(budget, e, 10n, 10n, true).toFixed()).toBe('7.5');
    expect(overageTotalAfter(budget, e, 0n, 10n, false).toFixed()).toBe('7.5'); // billing off: no cost
  });
});

describe('canRefuse: a consumption that cannot be refused is decided from the usage after it', () => {
  it('decides (used, quantity) as it decides asking nothing at used + quantity', () => {
    const count = fc.bigInt({ min: 0n, max: 10n ** 7n });
    const entitlementArb = fc
      .tuple(fc.option(count), fc.option(count), fc.option(count), fc.option(overagePriceArb))
      .map(
        ([included, soft, hardExtra, overagePrice]): Entitlement => ({
          included,
          softLimit: included === null ? null : soft,
          hardLimit: included === null || hardExtra === null ? null : included + hardExtra + (soft ?? 0n),
          overagePrice,
        }),
      );
    fc.assert(
      fc.property(entitlementArb, count, count, (entitlement, used, quantity) => {
        if (canRefuse(entitlement, { hasBudget: false })) return;
        const d = decideQuota({ entitlement, used, quantity });
        expect(d.allowed).toBe(true);
        expect(d).toEqual(decideQuota({ entitlement, used: used + quantity, quantity: 0n }));
      }),
    );
  });
});
