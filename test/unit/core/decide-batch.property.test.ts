import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BatchEvent,
  type CounterState,
  computeOverageLine,
  Dec,
  decideBatch,
  EMPTY_COUNTER,
  type Entitlement,
  type EventDecision,
  foldCounter,
  MAX_SAFE_BIGINT,
  type MetricAggregation,
  type OverageBudget,
  type PeriodCounter,
  type RecordedEvent,
} from '../../../src/core/index.ts';
import { at, budget } from './decide-batch-helpers.ts';

const ORGS = ['o1', 'o2'] as const;
const METRICS = ['a', 'b', 'c'] as const;
/** Few ids and instants, so batches repeat ids and LATEST readings tie. */
const idArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'ab', '\uE000', '\u{1F600}');
const instantArb = fc.integer({ min: 0, max: 3 }).map(at);
const quantityArb = fc.oneof(
  { weight: 9, arbitrary: fc.bigInt({ min: 0n, max: 30n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: MAX_SAFE_BIGINT - 40n, max: MAX_SAFE_BIGINT }) },
);

const entitlementArb: fc.Arbitrary<Entitlement> = fc.oneof(
  fc.constant({ included: null, softLimit: null, hardLimit: null, overagePrice: null }),
  fc
    .tuple(
      fc.bigInt({ min: 0n, max: 20n }),
      fc.option(fc.bigInt({ min: 0n, max: 20n })),
      fc.option(fc.constantFrom('0.5', '1', '2.25', '0.001')),
    )
    .map(([included, hardExtra, price]) => ({
      included,
      softLimit: null,
      hardLimit: hardExtra === null ? null : included + hardExtra,
      overagePrice: price === null ? null : { model: 'PER_UNIT' as const, unitPrice: new Dec(price) },
    })),
);

const counterArb: fc.Arbitrary<PeriodCounter> = fc.oneof(
  fc.record({
    value: fc.bigInt({ min: 0n, max: 40n }),
    latestAt: fc.constant(null),
    latestEventId: fc.constant(null),
  }),
  fc.record({ value: quantityArb, latestAt: instantArb, latestEventId: idArb }),
);

const perOrgAndMetric = <T>(arb: fc.Arbitrary<T>) =>
  fc.tuple(...ORGS.flatMap(() => METRICS.map(() => arb))).map((values) => {
    const map = new Map<string, T>();
    for (const [i, org] of ORGS.entries())
      for (const [j, metric] of METRICS.entries())
        map.set(`${org}|${metric}`, values[i * METRICS.length + j]!);
    return map;
  });

const scenarioArb = fc
  .record({
    aggregations: fc.tuple(
      ...METRICS.map(() => fc.constantFrom<MetricAggregation>('SUM', 'COUNT', 'MAX', 'LATEST')),
    ),
    entitlements: perOrgAndMetric(entitlementArb),
    counters: perOrgAndMetric(fc.option(counterArb, { nil: undefined })),
    budgets: fc.tuple(
      ...ORGS.map(() =>
        fc.option(
          fc
            .tuple(
              fc.constantFrom('0', '5', '12', '40'),
              fc.constantFrom('BLOCK', 'ALERT' as const),
              fc.constantFrom('0', '3', '50'),
            )
            .map(([cap, action, soFar]) => budget(cap, action, soFar)),
        ),
      ),
    ),
    ledger: fc.uniqueArray(
      fc.tuple(fc.constantFrom(...ORGS), idArb, fc.constantFrom(...METRICS), quantityArb),
      {
        selector: ([org, id]) => `${org}|${id}`,
        maxLength: 4,
      },
    ),
    events: fc.array(
      fc.record({
        org: fc.constantFrom(...ORGS),
        metric: fc.constantFrom(...METRICS),
        quantity: quantityArb,
        at: instantArb,
        id: idArb,
      }),
      { maxLength: 25 },
    ),
    billingEnabled: fc.boolean(),
  })
  .map((s) => {
    const aggregationOf = (metric: string) => s.aggregations[METRICS.indexOf(metric as never)]!;
    const ledger = new Map<string, RecordedEvent>(
      s.ledger.map(([org, id, metricKey, quantity]) => [`${org}|${id}`, { metricKey, quantity }]),
    );
    const budgets = new Map<string, OverageBudget>();
    for (const [i, org] of ORGS.entries()) if (s.budgets[i]) budgets.set(org, s.budgets[i]!);
    const counters = new Map<string, CounterState>();
    for (const [key, c] of s.counters) if (c) counters.set(key, c);
    const events = s.events.map(
      (e): BatchEvent => ({
        counter: `${e.org}|${e.metric}`,
        budget: budgets.has(e.org) ? e.org : null,
        id: `${e.org}|${e.id}`,
        eventId: e.id,
        metricKey: e.metric,
        aggregation: aggregationOf(e.metric),
        entitlement: s.entitlements.get(`${e.org}|${e.metric}`)!,
        quantity: e.quantity,
        at: e.at,
        recorded: ledger.get(`${e.org}|${e.id}`) ?? null,
      }),
    );
    return { events, counters, budgets, billingEnabled: s.billingEnabled, entitlements: s.entitlements };
  });

const totals = (budgets: ReadonlyMap<string, OverageBudget>) =>
  Object.fromEntries([...budgets].map(([k, b]) => [k, b.overageCostSoFar.toString()]));

describe('decideBatch (properties)', () => {
  it('decides a batch as its events one at a time, carrying counters, budgets and counted ids', () => {
    fc.assert(
      fc.property(scenarioArb, ({ events, counters, budgets, billingEnabled }) => {
        const batch = decideBatch({ events, counters, budgets, billingEnabled });
        let running = { counters: new Map(counters), budgets: new Map(budgets) };
        const counted = new Map<string, RecordedEvent>();
        const alerts = new Set<string>();
        const decisions: EventDecision[] = [];
        for (const e of events) {
          const recorded = e.recorded ?? counted.get(e.id) ?? null;
          const one = decideBatch({ events: [{ ...e, recorded }], ...running, billingEnabled });
          const d = one.decisions[0]!;
          decisions.push(d);
          running = { counters: one.counters, budgets: one.budgets };
          for (const key of one.budgetAlerts) alerts.add(key);
          if (d.outcome === 'COUNTED') counted.set(e.id, { metricKey: e.metricKey, quantity: e.quantity });
        }
        expect(batch.decisions).toEqual(decisions);
        expect(batch.counters).toEqual(running.counters);
        expect(totals(batch.budgets)).toEqual(totals(running.budgets));
        expect(new Set(batch.budgetAlerts)).toEqual(alerts);
      }),
    );
  });

  it('leaves each counter as aggregation.ts folds the counted events into it', () => {
    fc.assert(
      fc.property(scenarioArb, ({ events, counters, budgets, billingEnabled }) => {
        const batch = decideBatch({ events, counters, budgets, billingEnabled });
        const folded = new Map<string, PeriodCounter>();
        for (const [i, e] of events.entries()) {
          if (batch.decisions[i]!.outcome !== 'COUNTED') continue;
          const from =
            folded.get(e.counter) ?? (counters.get(e.counter) as PeriodCounter | undefined) ?? EMPTY_COUNTER;
          const event = { eventId: e.eventId!, quantity: e.quantity, occurredAt: e.at };
          folded.set(e.counter, foldCounter(e.aggregation, from, event));
        }
        for (const [key, c] of folded) expect(batch.counters.get(key)).toEqual(c);
      }),
    );
  });

  it('carries each budget to the invoiced total of the counters after, and passes no limit', () => {
    fc.assert(
      fc.property(scenarioArb, ({ events, counters, budgets, billingEnabled, entitlements }) => {
        const batch = decideBatch({ events, counters, budgets, billingEnabled });
        for (const [org, b] of budgets) {
          const line = (key: string, used: bigint) =>
            computeOverageLine({
              used,
              entitlement: entitlements.get(key)!,
              currency: b.currency,
              billingEnabled,
            }).costRounded;
          let expected = new Dec(b.overageCostSoFar);
          for (const metric of METRICS) {
            const key = `${org}|${metric}`;
            const before = counters.get(key)?.value ?? 0n;
            const after = batch.counters.get(key)?.value ?? before;
            expected = expected.minus(line(key, before)).plus(line(key, after));
          }
          expect(batch.budgets.get(org)!.overageCostSoFar.toString()).toBe(expected.toString());
          if (b.action === 'BLOCK' && b.overageCostSoFar.lessThanOrEqualTo(b.cap))
            expect(batch.budgets.get(org)!.overageCostSoFar.lessThanOrEqualTo(b.cap)).toBe(true);
        }
        for (const [key, c] of batch.counters) {
          const hardLimit = entitlements.get(key)!.hardLimit;
          const before = counters.get(key)?.value ?? 0n;
          if (hardLimit !== null && before <= hardLimit) expect(c.value <= hardLimit).toBe(true);
          expect(c.value <= MAX_SAFE_BIGINT).toBe(true);
        }
        for (const d of batch.decisions)
          if (d.outcome !== 'COUNTED') expect(d.outcome === 'REPLAY' || !d.allowed).toBe(true);
      }),
    );
  });
});
