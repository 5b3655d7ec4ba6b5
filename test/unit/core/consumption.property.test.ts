import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Dec,
  decideConsumption,
  decideOnCounter,
  type Entitlement,
  isOutdatedReading,
  type MetricAggregation,
  NOT_ENTITLED,
} from '../../../src/core/index.ts';
import { overagePriceArb } from './arbitraries.ts';

/** A BLOCK budget far past its cap: whatever adds cost is refused by it. */
const overBudget = {
  cap: new Dec('0'),
  action: 'BLOCK' as const,
  overageCostSoFar: new Dec('1000'),
  currency: 'USD',
};

describe('decideOnCounter properties', () => {
  const count = fc.bigInt({ min: 0n, max: 100n });
  const entitlementArb = fc.oneof(
    fc.constant(NOT_ENTITLED),
    fc.tuple(count, fc.option(count), fc.option(overagePriceArb)).map(
      ([included, hardExtra, overagePrice]): Entitlement => ({
        included,
        softLimit: null,
        hardLimit: hardExtra === null ? null : included + hardExtra,
        overagePrice,
      }),
    ),
  );
  const instant = fc.integer({ min: 0, max: 600 }).map((s) => new Date(Date.UTC(2026, 10, 16) + s * 1000));
  const counterArb = fc.option(
    fc.record({ value: fc.bigInt({ min: 0n, max: 300n }), latestAt: fc.option(instant) }),
    {
      nil: undefined,
    },
  );
  const aggregationArb = fc.constantFrom<MetricAggregation>('SUM', 'COUNT', 'MAX', 'LATEST');

  it('never refuses an outdated LATEST reading: the counter stays as it was', () => {
    fc.assert(
      fc.property(
        entitlementArb,
        counterArb,
        fc.bigInt({ min: 1n, max: 500n }),
        instant,
        (e, counter, q, at) => {
          const d = decideOnCounter('LATEST', e, counter, { quantity: q, at }, { budget: overBudget });
          if (!isOutdatedReading({ at, heldAt: counter?.latestAt ?? null })) return;
          expect([d.allowed, d.usedAfter, d.counterAfter]).toEqual([true, counter!.value, counter]);
        },
      ),
    );
  });

  it('never lets the budget refuse a LATEST reading that lowers usage', () => {
    fc.assert(
      fc.property(
        entitlementArb,
        fc.bigInt({ min: 1n, max: 300n }),
        fc.bigInt({ min: 1n, max: 300n }),
        (e, used, q) => {
          fc.pre(q < used);
          const d = decideConsumption('LATEST', e, used, q, { budget: overBudget });
          expect(d.reason).not.toBe('BUDGET_CAP');
          if (d.allowed) expect(d.usedAfter).toBe(q);
          else expect(e.hardLimit !== null && q > e.hardLimit).toBe(true);
        },
      ),
    );
  });

  it('moves the counter to usedAfter when allowed: MAX to the larger, SUM and COUNT never past the wall', () => {
    fc.assert(
      fc.property(
        entitlementArb,
        aggregationArb,
        counterArb,
        fc.bigInt({ min: 1n, max: 500n }),
        instant,
        (e, agg, counter, q, at) => {
          const d = decideOnCounter(agg, e, counter, { quantity: q, at });
          const used = counter?.value ?? 0n;
          expect(d.counterAfter.value).toBe(d.allowed ? d.usedAfter : used);
          if (d.allowed && agg === 'MAX') expect(d.usedAfter).toBe(used > q ? used : q);
          if (d.allowed && (agg === 'SUM' || agg === 'COUNT') && e.hardLimit !== null)
            expect(d.usedAfter <= e.hardLimit).toBe(true);
        },
      ),
    );
  });
});
