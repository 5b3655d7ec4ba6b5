import { describe, expect, it } from 'vitest';
import { MAX_SAFE_BIGINT } from '../../../src/core/index.ts';
import { catalog } from './catalog.ts';
import { at, budget, counter, decide, ev, priced, row } from './decide-batch-helpers.ts';

const api = (quantity: bigint, plan: keyof typeof catalog = 'free') =>
  ev({ quantity, entitlement: catalog[plan].api_calls });

describe('decideBatch: hard limits', () => {
  it.each([
    // plan, used, quantities, rows (outcome, reason, before, after)
    [
      'free',
      990n,
      [6n, 5n, 4n],
      [
        ['COUNTED', 'WITHIN_INCLUDED', 990n, 996n],
        ['REFUSED', 'HARD_LIMIT', 996n, 996n], // refused whole: never counted up to the limit
        ['COUNTED', 'WITHIN_INCLUDED', 996n, 1_000n],
      ],
    ],
    ['free', 1_000n, [1n], [['REFUSED', 'HARD_LIMIT', 1_000n, 1_000n]]], // the 1,001st call
    [
      'pro',
      99_999n,
      [1n, 1n],
      [
        ['COUNTED', 'WITHIN_INCLUDED', 99_999n, 100_000n],
        ['COUNTED', 'OVERAGE', 100_000n, 100_001n],
      ],
    ],
    ['enterprise', 10n ** 12n, [10n ** 9n], [['COUNTED', 'UNLIMITED', 10n ** 12n, 10n ** 12n + 10n ** 9n]]],
  ] as const)('%s at %d: quantities %s', (plan, used, quantities, rows) => {
    const out = decide(
      quantities.map((q) => api(q, plan)),
      { counters: { 'o1|api_calls': counter(used) } },
    );
    expect(out.decisions.map(row)).toEqual(rows);
    expect(out.counters.get('o1|api_calls')!.value).toBe(rows.at(-1)![3]);
  });

  it('answers limit and remaining after each decision, null when unlimited', () => {
    const [free] = decide([api(4n)], { counters: { 'o1|api_calls': counter(990n) } }).decisions;
    expect(free).toMatchObject({ limit: 1_000n, remaining: 6n, budgetExceeded: false });
    const [unlimited] = decide([api(4n, 'enterprise')]).decisions;
    expect(unlimited).toMatchObject({ limit: null, remaining: null });
  });

  it.each([
    // a hard limit of 10 lowered below the period's 12: nothing that adds is counted
    ['SUM', 1n, 1, ['REFUSED', 'HARD_LIMIT', 12n, 12n]],
    ['COUNT', 1n, 1, ['REFUSED', 'HARD_LIMIT', 12n, 12n]],
    ['LATEST', 11n, 6, ['REFUSED', 'HARD_LIMIT', 12n, 12n]],
    ['LATEST', 3n, 6, ['COUNTED', 'WITHIN_INCLUDED', 12n, 3n]], // a reading that lowers usage fits
    // Older than the held one: moves nothing, so allowed; the reason says where usage stands.
    ['LATEST', 50n, 1, ['COUNTED', 'OVERAGE', 12n, 12n]],
    ['MAX', 3n, 6, ['COUNTED', 'OVERAGE', 12n, 12n]], // below the maximum: moves nothing
    ['MAX', 12n, 6, ['COUNTED', 'OVERAGE', 12n, 12n]], // equal to it: moves nothing either
    ['MAX', 13n, 6, ['REFUSED', 'HARD_LIMIT', 12n, 12n]], // raises it: the reading must fit
  ] as const)('a hard limit lowered below usage: %s %d at :%d', (aggregation, quantity, minute, expected) => {
    const entitlement = { included: 10n, softLimit: null, hardLimit: 10n, overagePrice: null };
    const out = decide([ev({ aggregation, entitlement, quantity, at: at(minute) })], {
      counters: { 'o1|api_calls': counter(12n, at(5), 'held') },
    });
    expect(row(out.decisions[0]!)).toEqual(expected);
  });
});

describe('decideBatch: COUNT and MAX', () => {
  const runs = { included: 5n, softLimit: null, hardLimit: 5n, overagePrice: null };

  it('counts a COUNT event as one, whatever its quantity, up to the hard limit', () => {
    const events = [100n, 7n, 1n].map((quantity) =>
      ev({ aggregation: 'COUNT', entitlement: runs, quantity }),
    );
    const out = decide(events, { counters: { 'o1|api_calls': counter(3n) } });
    expect(out.decisions.map(row)).toEqual([
      ['COUNTED', 'WITHIN_INCLUDED', 3n, 4n],
      ['COUNTED', 'WITHIN_INCLUDED', 4n, 5n],
      ['REFUSED', 'HARD_LIMIT', 5n, 5n],
    ]);
  });

  it('keeps the maximum of MAX readings (seats)', () => {
    const seats = catalog.pro.seats;
    const events = [3n, 7n, 4n].map((quantity) => ev({ aggregation: 'MAX', entitlement: seats, quantity }));
    expect(decide(events).decisions.map((d) => d.usedAfter)).toEqual([3n, 7n, 7n]);
  });
});

describe('decideBatch: LATEST readings', () => {
  const gauge = { included: 10n, softLimit: null, hardLimit: 10n, overagePrice: null };
  const reading = (id: string | null, quantity: bigint, minute = 0) =>
    ev({
      id: id ?? 'check',
      eventId: id,
      aggregation: 'LATEST',
      entitlement: gauge,
      quantity,
      at: at(minute),
    });

  it('takes the first reading of an empty counter (made by a lock), then the latest by time', () => {
    const out = decide([reading('r1', 5n, 30), reading('r2', 7n, 40), reading('r0', 9n, 20)], {
      counters: { 'o1|api_calls': counter(0n) },
    });
    expect(out.decisions.map((d) => d.usedAfter)).toEqual([5n, 7n, 7n]);
    expect(out.counters.get('o1|api_calls')).toEqual(counter(7n, at(40), 'r2'));
  });

  it.each([
    // held reading 5 taken at :00 under id 'm'; a reading of the same instant under id...
    ['l', 50n, 'COUNTED', 5n, 'm'], // smaller: not the latest, kept without moving the value
    ['n', 50n, 'REFUSED', 5n, 'm'], // larger: the new value, past the hard limit of 10
    ['n', 7n, 'COUNTED', 7n, 'n'],
    ['m0', 9n, 'COUNTED', 9n, 'm0'], // a longer id after its prefix
    [null, 50n, 'REFUSED', 5n, 'm'], // no id (a check): decided as the new value, the safe side
  ] as const)(
    'a tie of the instant under id %s: %d -> %s, value %d held from %s',
    (id, q, outcome, value, held) => {
      const out = decide([reading(id, q)], { counters: { 'o1|api_calls': counter(5n, at(0), 'm') } });
      expect(out.decisions[0]!.outcome).toBe(outcome);
      expect(out.counters.get('o1|api_calls')).toMatchObject({ value, latestEventId: held });
    },
  );

  it('breaks a tie in byte order (code points), not in UTF-16 units', () => {
    // U+1F600 is after U+E000 in code points; in UTF-16 units its surrogate D83D is before.
    const held = (id: string) => ({ counters: { 'o1|api_calls': counter(5n, at(0), id) } });
    expect(decide([reading('\u{1F600}', 50n)], held('\uE000')).decisions[0]!.outcome).toBe('REFUSED');
    expect(decide([reading('\uE000', 50n)], held('\u{1F600}')).decisions[0]!.outcome).toBe('COUNTED');
  });

  it('decides a tie as the new value when the held id is unknown', () => {
    const out = decide([reading('a', 50n)], { counters: { 'o1|api_calls': counter(5n, at(0), null) } });
    expect(out.decisions[0]!.outcome).toBe('REFUSED');
  });

  it('answers an older reading past the hard limit with the value the counter keeps', () => {
    const [d] = decide([reading('now', 50n, 0)], {
      counters: { 'o1|api_calls': counter(5n, at(2), 'ahead') },
    }).decisions;
    expect(d).toMatchObject({ outcome: 'COUNTED', allowed: true, usedAfter: 5n, remaining: 5n });
  });
});

describe('decideBatch: budgets', () => {
  // Metric a: $1 a unit, b: $2 a unit, from the first unit; a $10 cap.
  const a = (quantity: bigint, org = 'o1') => ev({ org, metricKey: 'a', entitlement: priced('1'), quantity });
  const b = (quantity: bigint) => ev({ metricKey: 'b', entitlement: priced('2'), quantity });

  it('carries the overage total across the metrics of one org (BLOCK refuses past the cap)', () => {
    const out = decide([a(4n), b(2n), a(3n), b(1n), a(5n, 'o2')], {
      budgets: { o1: budget('10', 'BLOCK'), o2: budget('10', 'BLOCK') },
    });
    expect(out.decisions.map((d) => [d.outcome, d.reason])).toEqual([
      ['COUNTED', 'OVERAGE'], // $4
      ['COUNTED', 'OVERAGE'], // $8
      ['REFUSED', 'BUDGET_CAP'], // $11 > $10
      ['COUNTED', 'OVERAGE'], // $10: at the cap is within it
      ['COUNTED', 'OVERAGE'], // another org, its own budget: $5
    ]);
    expect(out.decisions[2]!.budgetExceeded).toBe(true);
    expect(out.budgets.get('o1')!.overageCostSoFar.toString()).toBe('10');
    expect(out.budgets.get('o2')!.overageCostSoFar.toString()).toBe('5');
    expect(out.budgetAlerts).toEqual([]);
  });

  it('keeps events past an ALERT cap and raises the alert once', () => {
    const out = decide([a(8n), a(3n), b(1n), a(1n, 'o2')], {
      budgets: { o1: budget('10', 'ALERT'), o2: budget('10', 'ALERT') },
    });
    expect(out.decisions.map((d) => [d.outcome, d.budgetExceeded])).toEqual([
      ['COUNTED', false],
      ['COUNTED', true],
      ['COUNTED', true],
      ['COUNTED', false],
    ]);
    expect(out.budgetAlerts).toEqual(['o1']);
    expect(out.budgets.get('o1')!.overageCostSoFar.toString()).toBe('13');
  });

  it('passes no cap while overage is not billed, and none with what adds no cost', () => {
    const unbilled = decide([a(50n)], { budgets: { o1: budget('10', 'BLOCK') }, billingEnabled: false });
    expect(unbilled.decisions[0]).toMatchObject({ outcome: 'COUNTED', budgetExceeded: false });
    // Already $20 over a $10 cap (the cap was lowered): usage within the included amount still fits.
    const included = ev({ metricKey: 'c', entitlement: priced('1', 100n), quantity: 5n });
    const over = decide([included, a(1n)], { budgets: { o1: budget('10', 'BLOCK', '20') } });
    expect(over.decisions.map((d) => d.outcome)).toEqual(['COUNTED', 'REFUSED']);
  });

  it('applies no budget to an event without one', () => {
    expect(decide([a(50n)]).decisions[0]).toMatchObject({ outcome: 'COUNTED', budgetExceeded: false });
  });
});

describe('decideBatch: replays and repeats', () => {
  it('counts nothing for an id the ledger holds, answering the usage as it stands', () => {
    const held = { metricKey: 'api_calls', quantity: 3n };
    const out = decide([api(2n), ev({ id: 'k', quantity: 3n, recorded: held })], {
      counters: { 'o1|api_calls': counter(10n) },
    });
    expect(out.decisions[1]).toMatchObject({
      outcome: 'REPLAY',
      allowed: true,
      usedBefore: 12n,
      holder: held,
    });
    expect(out.counters.get('o1|api_calls')!.value).toBe(12n);
  });

  it('answers the repeat of a counted id as a replay held by the first', () => {
    const out = decide([ev({ id: 'k', quantity: 3n }), ev({ id: 'k', quantity: 4n, metricKey: 'tokens' })]);
    expect(out.decisions[1]).toMatchObject({
      outcome: 'REPLAY',
      usedBefore: 0n,
      holder: { metricKey: 'api_calls', quantity: 3n },
    });
  });

  it('decides the repeat of a refused id again, and tells ids of two orgs apart', () => {
    const over = ev({ id: 'x', quantity: 5n });
    const fits = ev({ id: 'y', quantity: 2n });
    const out = decide([over, fits, { ...over }, ev({ org: 'o2', id: 'y', quantity: 2n })], {
      counters: { 'o1|api_calls': counter(998n) },
    });
    expect(out.decisions.map((d) => d.outcome)).toEqual(['REFUSED', 'COUNTED', 'REFUSED', 'COUNTED']);
  });

  it('answers a replay under a limit lowered below usage as allowed (it adds nothing)', () => {
    const entitlement = { included: 10n, softLimit: null, hardLimit: 10n, overagePrice: null };
    const replay = ev({ entitlement, recorded: { metricKey: 'api_calls', quantity: 1n } });
    const [d] = decide([replay], { counters: { 'o1|api_calls': counter(12n) } }).decisions;
    expect(d).toMatchObject({ outcome: 'REPLAY', allowed: true, usedAfter: 12n, remaining: 0n });
  });
});

describe('decideBatch: the 2^53-1 ceiling', () => {
  it.each([
    ['SUM', MAX_SAFE_BIGINT - 5n, [5n, 1n, 0n], ['COUNTED', 'PAST_SAFE_USAGE', 'COUNTED']],
    ['COUNT', MAX_SAFE_BIGINT - 1n, [9n, 9n], ['COUNTED', 'PAST_SAFE_USAGE']],
  ] as const)('%s from %d: quantities %s', (aggregation, used, quantities, outcomes) => {
    const events = quantities.map((quantity) =>
      ev({ aggregation, quantity, entitlement: catalog.enterprise.api_calls }),
    );
    const out = decide(events, { counters: { 'o1|api_calls': counter(used) } });
    expect(out.decisions.map((d) => d.outcome)).toEqual(outcomes);
    expect(out.decisions.find((d) => d.outcome === 'PAST_SAFE_USAGE')).toMatchObject({ allowed: false });
    expect(out.counters.get('o1|api_calls')!.value).toBe(MAX_SAFE_BIGINT);
  });

  it('decides the repeat of an event refused at the ceiling again', () => {
    const big = ev({ id: 'big', quantity: 10n, entitlement: catalog.enterprise.api_calls });
    const out = decide([big, { ...big }], { counters: { 'o1|api_calls': counter(MAX_SAFE_BIGINT) } });
    expect(out.decisions.map((d) => d.outcome)).toEqual(['PAST_SAFE_USAGE', 'PAST_SAFE_USAGE']);
  });
});
