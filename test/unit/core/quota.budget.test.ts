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
import { catalog } from './catalog.ts';

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

describe("one budget across an org's metrics, carried from one consumption to the next", () => {
  type Step = [metric: string, quantity: bigint, minute?: number];
  const seats: Entitlement = {
    ...catalog.pro.seats,
    overagePrice: { model: 'PER_UNIT', unitPrice: new Dec('10') },
  };
  const metered: Record<string, [MetricAggregation, Entitlement]> = {
    api_calls: ['SUM', catalog.pro.api_calls],
    tokens: ['SUM', catalog.pro.tokens],
    playbook_runs: ['SUM', catalog.pro.playbook_runs],
    seats: ['MAX', seats],
    gauge: ['LATEST', seats],
  };
  /** Decides each step with the budget carried; answers [allowed, reason, budgetExceeded, total after]. */
  function run(cap: string, action: OverageBudget['action'], usage: Record<string, bigint>, steps: Step[]) {
    const counters = new Map<string, CounterState>();
    let soFar: Amount = ZERO;
    for (const [key, value] of Object.entries(usage)) {
      counters.set(key, { value, latestAt: null });
      soFar = soFar.plus(
        computeOverageLine({
          used: value,
          entitlement: metered[key]![1],
          currency: 'USD',
          billingEnabled: true,
        }).costRounded,
      );
    }
    return steps.map(([key, quantity, minute = 0]) => {
      const [aggregation, entitlement] = metered[key]!;
      const budget: OverageBudget = { cap: new Dec(cap), action, overageCostSoFar: soFar, currency: 'USD' };
      const counter = counters.get(key);
      const at = new Date(Date.UTC(2026, 10, 16, 10, 30 + minute));
      const d = decideOnCounter(
        aggregation,
        entitlement,
        counter,
        { quantity, at },
        { budget, billingEnabled: true },
      );
      if (d.allowed) {
        soFar = overageTotalAfter(budget, entitlement, counter?.value ?? 0n, d.usedAfter, true);
        counters.set(key, d.counterAfter);
      }
      return [d.allowed, d.reason, d.budgetExceeded, soFar.toFixed()];
    });
  }

  it.each<[string, string, OverageBudget['action'], Record<string, bigint>, Step[], unknown[]]>([
    [
      'BLOCK $10 from $9.00 of tokens: up to the cap, then every metric that adds cost is refused',
      '10',
      'BLOCK',
      { tokens: 590_000n },
      [
        ['tokens', 10_000n],
        ['tokens', 100n],
        ['playbook_runs', 51n],
        ['playbook_runs', 50n],
        ['api_calls', 1_000n],
        ['tokens', 5_000n],
      ],
      [
        [true, 'OVERAGE', false, '10'],
        [false, 'BUDGET_CAP', true, '10'], // $10.01
        [false, 'BUDGET_CAP', true, '10'], // +$1.00 of runs
        [true, 'WITHIN_INCLUDED', false, '10'], // included runs cost nothing
        [true, 'WITHIN_INCLUDED', false, '10'],
        [false, 'BUDGET_CAP', true, '10'],
      ],
    ],
    [
      'BLOCK $5 at $5.00: ten more calls are $5.01',
      '5',
      'BLOCK',
      { api_calls: 105_000n },
      [['api_calls', 10n]],
      [[false, 'BUDGET_CAP', true, '5']],
    ],
    [
      'ALERT $1: allowed past the cap, flagged',
      '1',
      'ALERT',
      { api_calls: 100_000n },
      [
        ['api_calls', 2_000n],
        ['api_calls', 2_000n],
      ],
      [
        [true, 'OVERAGE', true, '2'],
        [true, 'OVERAGE', true, '4'],
      ],
    ],
    [
      'BLOCK $50 on priced seats (MAX): decided on the value a reading makes',
      '50',
      'BLOCK',
      {},
      [
        ['seats', 10n],
        ['seats', 11n],
        ['seats', 9n],
        ['seats', 12n],
      ],
      [
        [true, 'OVERAGE', false, '50'],
        [false, 'BUDGET_CAP', true, '50'],
        [true, 'OVERAGE', false, '50'],
        [false, 'BUDGET_CAP', true, '50'],
      ],
    ],
    [
      'BLOCK $50 on a LATEST gauge: an older reading costs nothing',
      '50',
      'BLOCK',
      {},
      [
        ['gauge', 6n, 2],
        ['gauge', 20n, -30],
        ['gauge', 7n, 3],
      ],
      [
        [true, 'OVERAGE', false, '10'],
        [true, 'OVERAGE', false, '10'],
        [true, 'OVERAGE', false, '20'],
      ],
    ],
  ])('%s', (_name, cap, action, usage, steps, expected) => {
    expect(run(cap, action, usage, steps)).toEqual(expected);
  });
});
