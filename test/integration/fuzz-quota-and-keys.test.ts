import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKey } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg } from '../helpers/fixtures.ts';
import {
  expectRefusal,
  expectTypedErrors,
  fuzzParameters,
  fuzzTimeout,
  isStorable,
  ledgerOf,
  notASafeInt,
  oddString,
  unstorableString,
} from '../helpers/fuzz.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';
import { CHECK_QUOTA, type QuotaResult, usedByMetric } from '../helpers/usage.ts';

const MAX_SAFE = 2 ** 53 - 1;
const METRICS = ['api_calls', 'tokens', 'playbook_runs'] as const;

const VERIFY = `mutation ($input: VerifyApiKeyInput!) {
  verifyApiKey(input: $input) { valid code org { id } quota { consumed used } } }`;

type Verify = {
  valid: boolean;
  code: string;
  org: { id: string } | null;
  quota: { consumed: boolean; used: number } | null;
};

/** Quantities: mostly good, some at the edges of SafeInt, some that no positive-integer field may take. */
const quantity = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 1_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(MAX_SAFE, MAX_SAFE - 1, 2 ** 52) },
  { weight: 2, arbitrary: fc.integer({ min: -MAX_SAFE, max: 0 }) },
  { weight: 2, arbitrary: notASafeInt },
);
const isPositiveSafeInt = (q: unknown): q is number => Number.isSafeInteger(q) && (q as number) > 0;
const isSafeInt = (q: unknown) => Number.isSafeInteger(q);

/** Idempotency keys: a small pool so retries repeat, and every bad shape. */
const idempotencyKey = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('k1', 'k2', 'k3', '😀-k', 'ключ') },
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(129), '😀'.repeat(65)) },
  { weight: 1, arbitrary: unstorableString },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(5, {}, ['k1']) },
);
const keyProblem = (k: unknown): 'type' | 'value' | null => {
  if (k === undefined || k === null) return null;
  if (typeof k !== 'string') return 'type';
  return k.length === 0 || k.length > 128 || !isStorable(k) ? 'value' : null;
};

describe.each(testDatabases())('checkQuota and verifyApiKey under generated hostile input on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  it(
    'checkQuota answers or refuses with a typed error, and the ledger holds exactly what it said it consumed',
    async () => {
      const orgIdOf = fc.oneof(
        { weight: 5, arbitrary: fc.constant('own') },
        { weight: 1, arbitrary: fc.constant('other') },
        { weight: 1, arbitrary: fc.constant(undefined) },
        {
          weight: 2,
          arbitrary: fc.oneof(oddString, unstorableString, fc.constantFrom('T3JnOm5vcGU=', randomUUID(), '')),
        },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(5, {}, true) },
      );
      const call = fc.record({
        orgId: orgIdOf,
        metric: fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom(...METRICS) },
          { weight: 1, arbitrary: fc.oneof(oddString, unstorableString) },
        ),
        quantity: fc.oneof(fc.constant(undefined), quantity),
        consume: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false), fc.constant(undefined)),
        idempotencyKey,
        asKey: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 25 }), async (calls) => {
          const own = await createTestOrg(server, 'enterprise');
          const other = await createTestOrg(server, 'enterprise');
          const key = (await createTestKey(server, own, { scopes: ['USAGE_WRITE'] })).secret;
          const consumed: Record<string, bigint> = {};
          const recordedKeys = new Set<string>();
          for (const c of calls) {
            const sent = c.orgId === 'own' ? own.id : c.orgId === 'other' ? other.id : c.orgId;
            // An ID variable takes integers too (as their decimal string).
            const orgId = Number.isInteger(sent) ? String(sent) : sent;
            const input: Record<string, unknown> = {
              orgId: sent,
              metric: c.metric,
              quantity: c.quantity,
              consume: c.consume,
            };
            if (c.idempotencyKey !== undefined) input.idempotencyKey = c.idempotencyKey;
            const res = await server.gql<{ checkQuota: QuotaResult }>(
              CHECK_QUOTA,
              { input },
              c.asKey ? key : TEST_SERVICE_TOKEN,
            );
            expectTypedErrors(res);

            // The oracle, in the order the server checks.
            const q = c.quantity ?? 1;
            const k = keyProblem(c.idempotencyKey);
            if (!isSafeInt(q) || k === 'type' || (orgId !== undefined && typeof orgId !== 'string')) {
              expectRefusal(res, 'BAD_USER_INPUT', /\$input/);
              continue;
            }
            const reachable =
              orgId === own.id || (orgId === other.id && !c.asKey) || (orgId === undefined && c.asKey);
            if (!reachable || orgId === '') {
              // '' reads as "no orgId": the key's own org, or none for the service.
              if (orgId === '' && c.asKey) {
                // falls through to the own org below
              } else {
                expectRefusal(res, 'NOT_FOUND', /[Oo]rg/);
                continue;
              }
            }
            const target = orgId === other.id ? 'other' : 'own';
            if (!isPositiveSafeInt(q)) {
              expectRefusal(res, 'BAD_USER_INPUT', /quantity/);
              continue;
            }
            if (k === 'value') {
              expectRefusal(res, 'BAD_USER_INPUT', /idempotencyKey/);
              continue;
            }
            if (!(METRICS as readonly string[]).includes(c.metric)) {
              expectRefusal(res, 'BAD_USER_INPUT', /metric/i);
              continue;
            }
            const counter = `${target}|${c.metric}`;
            const before = consumed[counter] ?? 0n;
            const eventKey =
              typeof c.idempotencyKey === 'string' ? `${target}|${c.idempotencyKey}` : undefined;
            if (!c.consume) {
              expect(res.errors).toBeUndefined();
              expect(res.data!.checkQuota).toMatchObject({
                allowed: true,
                consumed: false,
                used: Number(before),
              });
              continue;
            }
            if (eventKey && recordedKeys.has(eventKey)) {
              expect(res.errors).toBeUndefined();
              expect(res.data!.checkQuota.consumed).toBe(false);
              continue;
            }
            if (before + BigInt(q) > BigInt(MAX_SAFE)) {
              expectRefusal(res, 'BAD_USER_INPUT', /2\^53-1/);
              continue;
            }
            expect(res.errors).toBeUndefined();
            expect(res.data!.checkQuota).toMatchObject({
              allowed: true,
              consumed: true,
              used: Number(before + BigInt(q)),
            });
            consumed[counter] = before + BigInt(q);
            if (eventKey) recordedKeys.add(eventKey);
          }
          for (const [org, which] of [
            [own, 'own'],
            [other, 'other'],
          ] as const) {
            const want = Object.fromEntries(
              Object.entries(consumed)
                .filter(([k]) => k.startsWith(`${which}|`))
                .map(([k, v]) => [k.slice(which.length + 1), v]),
            );
            expect((await ledgerOf(server, org)).byMetric).toEqual(want);
            const used = await usedByMetric(server, org);
            for (const m of METRICS) expect(BigInt(used[m] ?? 0)).toBe(want[m] ?? 0n);
          }
        }),
        fuzzParameters(8),
      );
    },
    fuzzTimeout(60_000),
  );

  it(
    'verifyApiKey finds only the exact key, refuses bad costs with a typed error, and counts only what it allowed',
    async () => {
      const mutation = fc.oneof(
        fc.constant((s: string) => s),
        fc.nat(80).map((i) => (s: string) => {
          const at = 12 + (i % (s.length - 12)); // inside the secret part: the prefix stays right
          return s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
        }),
        fc.nat(60).map((n) => (s: string) => s.slice(0, n)),
        fc.constantFrom(
          (s: string) => `${s}x`,
          (s: string) => ` ${s}`,
          (s: string) => `${s}\n`,
          (s: string) => s.toUpperCase(),
          (s: string) => `${s}\u0000`,
          (s: string) => s.replace('ml_', 'ml-'),
          (s: string) => `${s.slice(0, -1)}😀`,
          (s: string) => s.repeat(200),
          (s: string) => `Bearer ${s}`,
        ),
        fc.oneof(oddString, unstorableString, fc.string({ maxLength: 100 })).map((r) => () => r),
      );
      const call = fc.record({
        mutate: mutation,
        cost: fc.oneof(fc.constant(undefined), quantity),
        idempotencyKey,
      });
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 25 }), async (calls) => {
          const org = await createTestOrg(server, 'enterprise');
          const { secret } = await createTestKey(server, org);
          let consumed = 0n;
          const recordedKeys = new Set<string>();
          for (const c of calls) {
            const key = c.mutate(secret);
            const input: Record<string, unknown> = { key, cost: c.cost };
            if (c.idempotencyKey !== undefined) input.idempotencyKey = c.idempotencyKey;
            const res = await server.gql<{ verifyApiKey: Verify }>(VERIFY, { input }, TEST_SERVICE_TOKEN);
            expectTypedErrors(res);
            const cost = c.cost ?? 1;
            const k = keyProblem(c.idempotencyKey);
            if (!isSafeInt(cost) || k === 'type') {
              expectRefusal(res, 'BAD_USER_INPUT', /\$input/);
              continue;
            }
            if (!isPositiveSafeInt(cost)) {
              expectRefusal(res, 'BAD_USER_INPUT', /cost/);
              continue;
            }
            if (key !== secret) {
              expect(res.errors).toBeUndefined();
              expect(res.data!.verifyApiKey).toEqual({
                valid: false,
                code: 'NOT_FOUND',
                org: null,
                quota: null,
              });
              continue;
            }
            if (k === 'value') {
              expectRefusal(res, 'BAD_USER_INPUT', /idempotencyKey/);
              continue;
            }
            const replay = typeof c.idempotencyKey === 'string' && recordedKeys.has(c.idempotencyKey);
            if (!replay && consumed + BigInt(cost) > BigInt(MAX_SAFE)) {
              expectRefusal(res, 'BAD_USER_INPUT', /2\^53-1/);
              continue;
            }
            expect(res.errors).toBeUndefined();
            expect(res.data!.verifyApiKey).toMatchObject({ valid: true, code: 'VALID', org: { id: org.id } });
            expect(res.data!.verifyApiKey.quota!.consumed).toBe(!replay);
            if (!replay) consumed += BigInt(cost);
            if (typeof c.idempotencyKey === 'string') recordedKeys.add(c.idempotencyKey);
          }
          expect((await ledgerOf(server, org)).byMetric).toEqual(
            consumed > 0n ? { api_calls: consumed } : {},
          );
          expect(BigInt((await usedByMetric(server, org)).api_calls ?? 0)).toBe(consumed);
        }),
        fuzzParameters(8),
      );
    },
    fuzzTimeout(60_000),
  );

  it('refuses checkQuota and verifyApiKey inputs of the wrong shape before anything runs', async () => {
    const org = await createTestOrg(server, 'pro');
    for (const input of [
      null,
      {},
      { metric: null },
      { metric: 'api_calls', orgId: org.id, extra: 1 },
      'x',
      [],
    ]) {
      expectRefusal(
        await server.gql(CHECK_QUOTA, { input }, TEST_SERVICE_TOKEN),
        'BAD_USER_INPUT',
        /\$input/,
      );
    }
    for (const input of [null, {}, { key: null }, { key: 5 }, { key: 'ml_x', bogus: true }]) {
      expectRefusal(await server.gql(VERIFY, { input }, TEST_SERVICE_TOKEN), 'BAD_USER_INPUT', /\$input/);
    }
    expect((await ledgerOf(server, org)).events).toBe(0);
  });
});
