import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKey } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import {
  expectRefusal,
  expectTypedErrors,
  fuzzParameters,
  fuzzTimeout,
  ledgerOf,
  notASafeInt,
  oddString,
  unstorableString,
} from '../helpers/fuzz.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';
import { RECORD_USAGE, record, usedByMetric } from '../helpers/usage.ts';

// Mid-period, so every accepted timestamp (back to June 1) counts in the period read back.
const NOW = new Date('2026-06-20T12:00:00Z');
const DAY = 86_400_000;
const SUM_METRICS = ['api_calls', 'tokens', 'playbook_runs'] as const;
const MAX_SAFE = 2 ** 53 - 1;

/** What one generated event is meant to be: good, a repeat, or good but for exactly one defect. */
const DEFECTS = [
  'none',
  'none',
  'none',
  'none',
  'repeat',
  'idBlank',
  'idTooLong',
  'idUnstorable',
  'unknownMetric',
  'quantityNotPositive',
  'future',
  'tooOld',
  'propertiesNotObject',
  'propertiesTooBig',
  'propertiesUnstorable',
  'orgMalformed',
  'orgOther',
  'orgOmitted',
] as const;
type Defect = (typeof DEFECTS)[number];

const deepObject = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
};
const deepArray = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

const goodProperties = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.dictionary(oddString, fc.oneof(oddString, fc.integer(), fc.boolean(), fc.constant(null)), {
    maxKeys: 6,
  }),
  fc.integer({ min: 1, max: 60 }).map(deepObject),
  fc.constant({ endpoint: `${'a'.repeat(199)}😀` }), // the analytics cut falls inside the emoji
  fc.constant({ '😀': 'é', ключ: ['中文', 1.5e300, -0] }),
);

const spec = fc.record({
  defect: fc.constantFrom(...DEFECTS),
  idText: oddString,
  metric: fc.constantFrom(...SUM_METRICS),
  quantity: fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: 1, max: 1_000 }),
    fc.integer({ min: 1, max: 2 ** 40 }),
  ),
  timestamp: fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: 0, max: 19 * DAY }).map((back) => new Date(NOW.getTime() - back).toISOString()),
    fc.integer({ min: 0, max: 4 * 60_000 }).map((ahead) => new Date(NOW.getTime() + ahead).toISOString()),
  ),
  properties: goodProperties,
  badId: fc.oneof(fc.constantFrom('', ' ', '\t\n'), unstorableString),
  longId: fc.integer({ min: 129, max: 2_000 }).chain((n) => fc.constantFrom('x'.repeat(n), '😀'.repeat(65))),
  badMetric: fc.oneof(oddString, unstorableString, fc.constantFrom('API_CALLS', 'api_calls ', '')),
  badQuantity: fc.oneof(fc.constantFrom(0, -1, -MAX_SAFE), fc.integer({ min: -MAX_SAFE, max: 0 })),
  future: fc.oneof(
    fc
      .integer({ min: 5 * 60_000 + 1_000, max: 3_650 * DAY })
      .map((a) => new Date(NOW.getTime() + a).toISOString()),
    fc.constantFrom('9999-12-31T23:59:59.999Z', '2026-06-20T12:00:00-23:59'),
  ),
  old: fc.oneof(
    fc
      .integer({ min: 35 * DAY + 1_000, max: 10_000 * DAY })
      .map((b) => new Date(NOW.getTime() - b).toISOString()),
    fc.constantFrom('0001-01-01T00:00:00Z', '1970-01-01T00:00:00Z'),
  ),
  notObject: fc.constantFrom<unknown>([1, 2], [], 'endpoint', 0, 5, false, true),
  tooBig: fc.oneof(
    fc.integer({ min: 4_097, max: 6_000 }).map((n) => ({ blob: 'y'.repeat(n) })),
    fc.constant({ x: deepArray(3_000) }),
    fc.constant(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]))),
  ),
  unstorable: fc.tuple(unstorableString, fc.boolean()).map(([s, asKey]) => (asKey ? { [s]: 1 } : { v: [s] })),
  badOrg: fc.oneof(
    oddString.filter((s) => s.length > 0),
    unstorableString,
    fc.constantFrom(
      'T3JnOm5vcGU=', // Org:nope
      Buffer.from(`ApiKey:${randomUUID()}`).toString('base64'),
      Buffer.from(`Org:${randomUUID()}`).toString('base64'),
      randomUUID(),
    ),
  ),
});
type Spec = typeof spec extends fc.Arbitrary<infer T> ? T : never;

type Expected = { code?: string; org?: 'own' | 'other'; repeat?: boolean };

/** The event a spec makes, and what the server must do with it. */
function materialize(
  s: Spec,
  index: number,
  ctx: {
    own: TestOrg;
    other: TestOrg;
    asKey: boolean;
    previous?: Record<string, unknown> & { _org: 'own' | 'other' };
  },
): { event: Record<string, unknown>; expected: Expected } {
  const base = {
    id: `${s.idText}#${index}`,
    orgId: ctx.own.id,
    metric: s.metric,
    ...(s.quantity === undefined ? {} : { quantity: s.quantity }),
    ...(s.timestamp === undefined ? {} : { timestamp: s.timestamp }),
    ...(s.properties === undefined ? {} : { properties: s.properties }),
  };
  const bad = (code: string, patch: Record<string, unknown>) => ({
    event: { ...base, ...patch },
    expected: { code },
  });
  switch (s.defect as Defect) {
    case 'none':
      return { event: base, expected: { org: 'own' } };
    case 'repeat': {
      if (!ctx.previous) return { event: base, expected: { org: 'own' } };
      const { _org, ...event } = ctx.previous;
      return { event, expected: { repeat: true, org: _org } };
    }
    case 'idBlank':
    case 'idUnstorable':
      return bad('INVALID_ID', { id: s.badId });
    case 'idTooLong':
      return bad('INVALID_ID', { id: s.longId });
    case 'unknownMetric':
      return bad('UNKNOWN_METRIC', { metric: s.badMetric });
    case 'quantityNotPositive':
      return bad('INVALID_QUANTITY', { quantity: s.badQuantity });
    case 'future':
      return bad('TIMESTAMP_IN_FUTURE', { timestamp: s.future });
    case 'tooOld':
      return bad('TIMESTAMP_TOO_OLD', { timestamp: s.old });
    case 'propertiesNotObject':
      return bad('INVALID_PROPERTIES', { properties: s.notObject });
    case 'propertiesTooBig':
      return bad('INVALID_PROPERTIES', { properties: s.tooBig });
    case 'propertiesUnstorable':
      return bad('INVALID_PROPERTIES', { properties: s.unstorable });
    case 'orgMalformed':
      return bad('NOT_FOUND', { orgId: s.badOrg });
    case 'orgOther':
      // Another org's events: a service may record them; an org's own key may not.
      return ctx.asKey
        ? bad('NOT_FOUND', { orgId: ctx.other.id })
        : { event: { ...base, orgId: ctx.other.id }, expected: { org: 'other' } };
    case 'orgOmitted': {
      const { orgId: _omitted, ...event } = base;
      return ctx.asKey ? { event, expected: { org: 'own' } } : { event, expected: { code: 'NOT_FOUND' } };
    }
  }
}

describe.each(testDatabases())('recordUsage under generated hostile input on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
    server.setNow(NOW);
  });
  afterAll(() => server?.close());

  it(
    'keeps exactly the good events of mixed batches, once, and reports every bad one by index and id',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(spec, { minLength: 1, maxLength: 80 }),
          fc.boolean(),
          async (specs, asKey) => {
            const own = await createTestOrg(server, 'pro');
            const other = await createTestOrg(server, 'pro');
            const auth = asKey
              ? (await createTestKey(server, own, { scopes: ['USAGE_WRITE'] })).secret
              : TEST_SERVICE_TOKEN;
            const events: Record<string, unknown>[] = [];
            const expected: Expected[] = [];
            let previous: (Record<string, unknown> & { _org: 'own' | 'other' }) | undefined;
            for (const [i, s] of specs.entries()) {
              const made = materialize(s, i, { own, other, asKey, previous });
              events.push(made.event);
              expected.push(made.expected);
              if (!made.expected.code && !made.expected.repeat)
                previous = { ...made.event, _org: made.expected.org! };
            }

            const res = await record(server, events, auth);
            expectTypedErrors(res);
            expect(res.errors).toBeUndefined();
            const out = res.data!.recordUsage;

            const wantRejected = expected.flatMap((e, index) => (e.code ? [[index, e.code]] : []));
            expect(out.rejected.map((r) => [r.index, r.code])).toEqual(wantRejected);
            for (const r of out.rejected) {
              expect(r.id).toBe(events[r.index]!.id);
              expect(r.message.length, r.message).toBeGreaterThanOrEqual(15);
            }
            const kept = expected.filter((e) => !e.code && !e.repeat).length;
            expect(out.accepted).toBe(kept);
            expect(out.duplicates).toBe(expected.filter((e) => e.repeat).length);

            // What landed is exactly the first copy of each good event, in its org.
            for (const [org, which] of [
              [own, 'own'],
              [other, 'other'],
            ] as const) {
              const sums: Record<string, bigint> = {};
              let n = 0;
              for (const [i, e] of expected.entries()) {
                if (e.code || e.repeat || e.org !== which) continue;
                const ev = events[i]!;
                n++;
                sums[ev.metric as string] =
                  (sums[ev.metric as string] ?? 0n) + BigInt((ev.quantity as number) ?? 1);
              }
              const ledger = await ledgerOf(server, org);
              expect(ledger.events).toBe(n);
              expect(ledger.byMetric).toEqual(sums);
              const used = await usedByMetric(server, org, NOW);
              for (const metric of SUM_METRICS) expect(BigInt(used[metric] ?? 0)).toBe(sums[metric] ?? 0n);
            }
          },
        ),
        fuzzParameters(10),
      );
    },
    fuzzTimeout(60_000),
  );

  it(
    'refuses a call of more than 1,000 events whole, whatever they hold, and writes nothing',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1_001, max: 1_300 }),
          fc.array(spec, { minLength: 1, maxLength: 5 }),
          async (n, specs) => {
            const own = await createTestOrg(server, 'pro');
            const other = await createTestOrg(server, 'pro');
            const events = Array.from(
              { length: n },
              (_, i) => materialize(specs[i % specs.length]!, i, { own, other, asKey: false }).event,
            );
            const res = await record(server, events);
            expectRefusal(res, 'BAD_USER_INPUT', /1,?000/);
            expect((await ledgerOf(server, own)).events).toBe(0);
            expect((await ledgerOf(server, other)).events).toBe(0);
          },
        ),
        fuzzParameters(2),
      );
    },
    fuzzTimeout(30_000),
  );

  it(
    'refuses events whose fields have the wrong GraphQL types, and writes nothing',
    async () => {
      const wrong = fc.oneof(
        notASafeInt.map((quantity) => ({ quantity })),
        fc.constantFrom<Record<string, unknown>>(
          { id: null },
          { id: 5 },
          { id: ['a'] },
          { metric: null },
          { metric: { key: 'api_calls' } },
          { orgId: {} },
          { orgId: true },
          { timestamp: 'yesterday' },
          { timestamp: '2026-13-45T99:99:99Z' },
          { timestamp: 1_750_000_000_000 },
          { timestamp: '2026-06-20' },
          { extra: 'field' },
          JSON.parse('{"__proto__": {"x": 1}}'),
        ),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(wrong, { minLength: 1, maxLength: 3 }), fc.nat(20), async (patches, at) => {
          const org = await createTestOrg(server, 'pro');
          const good = Array.from({ length: 21 }, () => ({
            id: randomUUID(),
            orgId: org.id,
            metric: 'api_calls',
          }));
          for (const patch of patches) Object.assign(good[at]!, patch);
          const res = await record(server, good);
          expectRefusal(res, 'BAD_USER_INPUT', /input\.events\[\d+\]|events/);
          expect((await ledgerOf(server, org)).events).toBe(0);
        }),
        fuzzParameters(15),
      );
      // The input itself null, missing, or of the wrong shape.
      for (const variables of [
        { input: null },
        {},
        { input: { events: 'x' } },
        { input: { events: null } },
        { input: [] },
      ]) {
        const res = await server.gql(RECORD_USAGE, variables, TEST_SERVICE_TOKEN);
        expectRefusal(res, 'BAD_USER_INPUT', /\$input/);
      }
    },
    fuzzTimeout(30_000),
  );

  it('counts one event of 2^53-1 exactly', async () => {
    const org = await createTestOrg(server, 'enterprise');
    const res = await record(server, [{ id: 'max', orgId: org.id, metric: 'tokens', quantity: MAX_SAFE }]);
    expect(res.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [] });
    expect((await ledgerOf(server, org)).byMetric).toEqual({ tokens: BigInt(MAX_SAFE) });
    expect((await usedByMetric(server, org, NOW)).tokens).toBe(MAX_SAFE);
  });

  // A period's usage stays within 2^53-1 (answered as a SafeInt): the event that would pass it is
  // refused on its own, the rest of the batch kept, also for a counter already near the bound.
  it('keeps a period usage readable when events add up past 2^53-1', async () => {
    const org = await createTestOrg(server, 'enterprise');
    const res = await record(server, [
      { id: 'a', orgId: org.id, metric: 'tokens', quantity: MAX_SAFE },
      { id: 'b', orgId: org.id, metric: 'tokens', quantity: MAX_SAFE },
      { id: 'c', orgId: org.id, metric: 'api_calls', quantity: 5 },
    ]);
    expect(res.data!.recordUsage).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(res.data!.recordUsage.rejected).toMatchObject([{ index: 1, id: 'b', code: 'INVALID_QUANTITY' }]);
    expect(res.data!.recordUsage.rejected[0]!.message).toMatch(/2\^53-1/);
    const next = await record(server, [
      { id: 'd', orgId: org.id, metric: 'tokens', quantity: 1 },
      { id: 'e', orgId: org.id, metric: 'api_calls', quantity: 1 },
    ]);
    expect(next.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [{ index: 0, id: 'd' }] });
    expect((await ledgerOf(server, org)).byMetric).toEqual({ tokens: BigInt(MAX_SAFE), api_calls: 6n });
    expect((await usedByMetric(server, org, NOW)).tokens).toBe(MAX_SAFE);
    expectTypedErrors(res);
    const usage = await server.gql(
      `query ($id: ID!) { org(id: $id) { usage { metrics { used } } } }`,
      { id: org.id },
      await server.adminToken(),
    );
    expectTypedErrors(usage);
    expect(usage.errors).toBeUndefined();
  });
});
