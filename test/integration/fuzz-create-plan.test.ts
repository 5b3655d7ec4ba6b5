import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../src/core/index.ts';
import { rowsOf } from '../../src/db/migrate.ts';
import { testDatabases } from '../helpers/databases.ts';
import {
  expectRefusal,
  expectTypedErrors,
  fuzzParameters,
  fuzzTimeout,
  oddString,
  unstorableString,
} from '../helpers/fuzz.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const CREATE_PLAN = `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan {
  id code name basePrice { amount currency amountMinor }
  entitlements { metric { key } included softLimit hardLimit } } } }`;

const METRICS = ['api_calls', 'tokens', 'playbook_runs', 'seats'];

const decimal = (intDigits: number, fracDigits: number) =>
  fc
    .tuple(
      fc.bigInt({ min: 0n, max: 10n ** BigInt(intDigits) - 1n }),
      fc.nat(fracDigits),
      fc.bigInt({ min: 0n, max: 10n ** 20n }),
    )
    .map(([i, n, f]) => (n === 0 ? `${i}` : `${i}.${f.toString().padStart(20, '0').slice(0, n)}`));

const price = fc.oneof(
  decimal(3, 6).map((unitPrice) => ({ model: 'PER_UNIT', unitPrice })),
  fc
    .tuple(fc.integer({ min: 1, max: 1_000 }), decimal(4, 2))
    .map(([packageSize, packagePrice]) => ({ model: 'PACKAGE', packageSize, packagePrice })),
  fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 0, maxLength: 4 }).chain((ends) =>
    fc
      .tuple(
        fc.constantFrom('GRADUATED', 'VOLUME'),
        fc.array(decimal(2, 6), { minLength: ends.length + 1, maxLength: ends.length + 1 }),
        // A tier's fee: absent, null or an amount.
        fc.array(fc.option(decimal(3, 4), { nil: undefined }), {
          minLength: ends.length + 1,
          maxLength: ends.length + 1,
        }),
      )
      .map(([model, prices, fees]) => {
        const sorted = [...ends].sort((a, b) => a - b);
        return {
          model,
          tiers: prices.map((unitPrice, i) => ({
            upTo: sorted[i] ?? null,
            unitPrice,
            ...(fees[i] === undefined ? {} : { flatAmount: fees[i] }),
          })),
        };
      }),
  ),
);

const entitlement = (metric: string) =>
  fc
    .record({
      included: fc.integer({ min: 0, max: 1_000_000 }),
      soft: fc.option(fc.nat(1_000_000)),
      hardExtra: fc.option(fc.nat(1_000_000)),
      overage: fc.option(price),
      unlimited: fc.boolean(),
    })
    .map(({ included, soft, hardExtra, overage, unlimited }) => {
      if (unlimited) return { metric };
      const hardLimit = hardExtra === null ? null : included + hardExtra;
      const softLimit = soft === null ? null : hardLimit === null ? soft : Math.min(soft, hardLimit);
      return { metric, included, softLimit, hardLimit, overage };
    });

/** A plan input every rule accepts. */
const goodPlan = fc.record({
  name: fc.tuple(oddString, fc.constantFrom('', '  ')).map(([n, pad]) => `${pad}Plan ${n}${pad}`),
  basePrice: decimal(8, 4),
  currency: fc.constantFrom(undefined, 'USD', 'eur', 'JPY', 'KWD'),
  entitlements: fc.subarray(METRICS).chain((ms) => fc.tuple(...ms.map(entitlement))),
  rateLimitPerMinute: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: undefined }),
});

type PlanInput = Record<string, unknown>;
type Defect = { patch: (input: PlanInput) => void; code: string; names: RegExp };
const ent = (input: Record<string, unknown>) => input.entitlements as Record<string, unknown>[];
const firstOrNew = (input: Record<string, unknown>) => {
  if (ent(input).length === 0) (input.entitlements as unknown[]).push({ metric: 'api_calls', included: 10 });
  return ent(input)[0]!;
};

/** Exactly one thing wrong, and the field the refusal must name. */
const defect: fc.Arbitrary<Defect> = fc.oneof(
  fc.constantFrom('', ' ', 'Pro', 'a b', '-x', 'x'.repeat(64), 'plán', '😀').map((code) => ({
    patch: (i: PlanInput) => {
      i.code = code;
    },
    code: 'BAD_USER_INPUT',
    names: /code/,
  })),
  fc.oneof(fc.constantFrom('', '   ', 'n'.repeat(201)), unstorableString).map((name) => ({
    patch: (i: PlanInput) => {
      i.name = name;
    },
    code: 'BAD_USER_INPUT',
    names: /name/,
  })),
  fc
    .constantFrom(
      '-1',
      '-0.01',
      '1e3',
      'NaN',
      'Infinity',
      '',
      ' 1',
      '1.',
      '.5',
      '+1',
      '0x10',
      '1,00',
      '1'.repeat(60),
      `0.${'1'.repeat(51)}`,
      '9'.repeat(40),
    )
    .map((basePrice) => ({
      patch: (i: PlanInput) => {
        i.basePrice = basePrice;
      },
      code: 'BAD_USER_INPUT',
      names: /basePrice/,
    })),
  fc.constantFrom<unknown>(1.5, 49, null, true).map((basePrice) => ({
    patch: (i: PlanInput) => {
      i.basePrice = basePrice;
    },
    code: 'BAD_USER_INPUT',
    names: /basePrice/,
  })),
  fc.constantFrom('US', 'USDD', '123', '€', 'u$d', '').map((currency) => ({
    patch: (i: PlanInput) => {
      i.currency = currency;
    },
    code: 'BAD_USER_INPUT',
    names: /currency/,
  })),
  fc.constantFrom<unknown>(0, -5, 2 ** 31, 1.5, '10').map((rate) => ({
    patch: (i: PlanInput) => {
      i.rateLimitPerMinute = rate;
    },
    code: 'BAD_USER_INPUT',
    names: /rateLimitPerMinute/,
  })),
  fc
    .oneof(
      oddString.filter((m) => !METRICS.includes(m)),
      unstorableString,
    )
    .map((metric) => ({
      patch: (i: PlanInput) => {
        (i.entitlements as unknown[]).push({ metric, included: 1 });
      },
      code: 'BAD_USER_INPUT',
      names: /metric/,
    })),
  fc.constant<Defect>({
    patch: (i: PlanInput) => {
      const e = firstOrNew(i);
      (i.entitlements as unknown[]).push({ ...e });
    },
    code: 'BAD_USER_INPUT',
    names: /listed twice/,
  }),
  fc.constantFrom(-1, -(2 ** 53 - 1)).map((n) => ({
    patch: (i: PlanInput) => {
      firstOrNew(i).included = n;
    },
    code: 'BAD_USER_INPUT',
    names: /included|entitlements\[\d+\]/,
  })),
  fc.constant<Defect>({
    patch: (i: PlanInput) => {
      Object.assign(firstOrNew(i), { included: 100, hardLimit: 99 });
    },
    code: 'BAD_USER_INPUT',
    names: /hardLimit/,
  }),
  fc.constant<Defect>({
    patch: (i: PlanInput) => {
      Object.assign(firstOrNew(i), {
        included: null,
        softLimit: null,
        hardLimit: null,
        overage: { model: 'PER_UNIT', unitPrice: '1' },
      });
    },
    code: 'BAD_USER_INPUT',
    names: /included/,
  }),
  fc
    .constantFrom<unknown>(
      { model: 'PER_UNIT', unitPrice: '-0.001' },
      { model: 'PER_UNIT' },
      { model: 'PER_UNIT', unitPrice: '1', packageSize: 5 },
      { model: 'PACKAGE', packageSize: 0, packagePrice: '1' },
      { model: 'PACKAGE', packageSize: -3, packagePrice: '1' },
      { model: 'GRADUATED', tiers: [] },
      { model: 'GRADUATED', tiers: [{ upTo: 10, unitPrice: '1' }] },
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: null, unitPrice: '1' },
          { upTo: null, unitPrice: '2' },
        ],
      },
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: 100, unitPrice: '1' },
          { upTo: 50, unitPrice: '1' },
          { upTo: null, unitPrice: '1' },
        ],
      },
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: 100, unitPrice: '1' },
          { upTo: 100, unitPrice: '1' },
          { upTo: null, unitPrice: '1' },
        ],
      },
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: 0, unitPrice: '1' },
          { upTo: null, unitPrice: '1' },
        ],
      },
      { model: 'GRADUATED', tiers: [{ upTo: null, unitPrice: '-1' }] },
      { model: 'GRADUATED', tiers: [{ upTo: null, unitPrice: '1', flatAmount: '-0.5' }] },
      { model: 'VOLUME', tiers: [] },
      { model: 'VOLUME', tiers: [{ upTo: 10, unitPrice: '1' }] },
      {
        model: 'VOLUME',
        tiers: [
          { upTo: 100, unitPrice: '1' },
          { upTo: 50, unitPrice: '1' },
          { upTo: null, unitPrice: '1' },
        ],
      },
      { model: 'VOLUME', tiers: [{ upTo: null, unitPrice: '1', flatAmount: '-1' }] },
      { model: 'VOLUME', tiers: [{ upTo: null, unitPrice: '1', flatAmount: '1e2' }] },
      { model: 'PER_UNIT', unitPrice: '1', tiers: [{ upTo: null, unitPrice: '1', flatAmount: '5' }] },
      { model: 'PACKAGE', packageSize: 5, packagePrice: '1', tiers: [{ unitPrice: '0', flatAmount: '5' }] },
      { model: 'FLAT', unitPrice: '1' },
      { model: 'PER_UNIT', unitPrice: 0.001 },
      { model: 'PER_UNIT', unitPrice: '1e-3' },
      { model: 'GRADUATED', tiers: [{ upTo: 1.5, unitPrice: '1' }] },
      { model: 'GRADUATED', tiers: [{ upTo: null }] },
      { model: 'PACKAGE', packageSize: 2 ** 53, packagePrice: '1' },
    )
    .map((overage) => ({
      patch: (i: PlanInput) => {
        Object.assign(firstOrNew(i), { included: 10, overage });
      },
      code: 'BAD_USER_INPUT',
      names: /entitlements\[\d+\]/,
    })),
  fc
    .constantFrom<unknown>(
      { extra: 1 },
      { entitlements: null },
      { entitlements: [null] },
      { code: null },
      { name: 5 },
    )
    .map((patch) => ({
      patch: (i: PlanInput) => {
        Object.assign(i, patch);
      },
      code: 'BAD_USER_INPUT',
      names: /\$input/,
    })),
);

describe.each(testDatabases())('createPlan under generated hostile input on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  let serial = 0;
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.adminToken();
  });
  afterAll(() => server?.close());

  const plansWithCode = async (code: unknown) =>
    typeof code !== 'string'
      ? 0
      : Number(
          rowsOf<{ n: string }>(
            await server.database.db.execute(sql`select count(*)::text as n from plans where code = ${code}`),
          )[0]!.n,
        );
  const planCount = async () =>
    Number(
      rowsOf<{ n: string }>(await server.database.db.execute(sql`select count(*)::text as n from plans`))[0]!
        .n,
    );

  it(
    'creates exactly the plan a good input describes, and nothing for an input with one defect',
    async () => {
      await fc.assert(
        fc.asyncProperty(goodPlan, fc.option(defect, { freq: 3 }), async (plan, bad) => {
          const input: Record<string, unknown> = { ...plan, code: `fz-${kind}-${serial++}` };
          input.entitlements = (plan.entitlements as Record<string, unknown>[]).map((e) => ({ ...e }));
          bad?.patch(input);
          const before = await planCount();
          const res = await server.gql<{
            createPlan: {
              plan: {
                code: string;
                name: string;
                basePrice: { amount: string; currency: string };
                entitlements: unknown[];
              };
            };
          }>(CREATE_PLAN, { input }, admin);
          expectTypedErrors(res);
          if (bad) {
            expectRefusal(res, bad.code, bad.names);
            expect(await planCount()).toBe(before);
            return;
          }
          expect(res.errors).toBeUndefined();
          const made = res.data!.createPlan.plan;
          expect(made.code).toBe(input.code);
          expect(made.name).toBe((input.name as string).trim());
          expect(new Dec(made.basePrice.amount).equals(new Dec(plan.basePrice))).toBe(true);
          expect(made.basePrice.currency).toBe(
            ((plan.currency as string | undefined) ?? 'USD').toUpperCase(),
          );
          expect(made.entitlements).toHaveLength((plan.entitlements as unknown[]).length);
          expect(await planCount()).toBe(before + 1);
          expect(await plansWithCode(input.code)).toBe(1);
        }),
        fuzzParameters(40),
      );
    },
    fuzzTimeout(60_000),
  );

  it('refuses a second plan with a taken code, whatever else it holds, and keeps the first', async () => {
    await fc.assert(
      fc.asyncProperty(goodPlan, goodPlan, async (first, second) => {
        const code = `fz-dup-${kind}-${serial++}`;
        const a = await server.gql(CREATE_PLAN, { input: { ...first, code } }, admin);
        expect(a.errors).toBeUndefined();
        const b = await server.gql(CREATE_PLAN, { input: { ...second, code: ` ${code} ` } }, admin);
        expectRefusal(b, 'CONFLICT', /already exists/);
        expect(await plansWithCode(code)).toBe(1);
      }),
      fuzzParameters(5),
    );
  });
});
