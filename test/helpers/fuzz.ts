import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { expect } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import type { TestOrg } from './fixtures.ts';
import type { GraphQLResponse, TestServer } from './server.ts';

/**
 * Property runs replay exactly from FUZZ_SEED (printed by fast-check on a failure); FUZZ_RUNS
 * multiplies nothing: it replaces every property's default number of runs, for long local runs.
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20_260_601);
const FUZZ_RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : undefined;

export function fuzzParameters(defaultRuns: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: FUZZ_RUNS ?? defaultRuns };
}

/** Every property of a suite asserts with the same seed; a longer FUZZ_RUNS run needs more time. */
export const fuzzTimeout = (defaultMs: number) =>
  FUZZ_RUNS ? Math.max(defaultMs, FUZZ_RUNS * 2_000) : defaultMs;

/**
 * The codes a caller may see: the contract's (the README's Authentication section, less
 * INTERNAL_SERVER_ERROR, which
 * means a bug here) and graphql-yoga's protocol errors for documents and bodies that are not
 * GraphQL requests at all.
 */
export const KNOWN_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'QUOTA_EXCEEDED',
  'RATE_LIMITED',
  'FEATURE_DISABLED',
  'PAYMENT_PROVIDER_ERROR',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
]);

type Answer = GraphQLResponse<unknown> & { status: number };

/** Property 1: no 5xx, and every error has a known code and a message a person can act on. */
export function expectTypedErrors(res: Answer): void {
  expect(res.status, JSON.stringify(res.errors)).toBeLessThan(500);
  for (const error of res.errors ?? []) {
    expect(KNOWN_CODES, JSON.stringify(error)).toContain(error.extensions?.code);
    expect(error.message).not.toMatch(/Unexpected error/);
    expect(error.message.length, error.message).toBeGreaterThanOrEqual(15);
  }
}

/** A refusal: errors only, all of this code, the first naming what to fix (`names`: the field or limit). */
export function expectRefusal(res: Answer, code: string, names?: RegExp): void {
  expectTypedErrors(res);
  expect(res.data ?? null, JSON.stringify(res.data)).toBeNull();
  expect(res.errors?.length ?? 0).toBeGreaterThanOrEqual(1);
  for (const error of res.errors!) expect(error.extensions?.code, error.message).toBe(code);
  if (names) expect(res.errors![0]!.message).toMatch(names);
}

const MAX_SAFE = 2 ** 53 - 1;

/** Test-side rule: text PostgreSQL can store has no NUL and no unpaired surrogate. */
export function isStorable(s: string): boolean {
  return !s.includes('\u0000') && !/[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
}

/** Strings PostgreSQL cannot store, or that have broken many parsers before. */
export const unstorableString = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00',
  'a\ud83d',
  '\u0000😀',
);

/** Valid but unusual text: emoji, combining marks, right-to-left, zero-width, quotes, SQL. */
export const oddString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '😀👩‍👩‍👧‍👦',
    'é', // e + combining acute
    '\u202eevil',
    '\ufeff',
    "'; drop table usage_events; --",
    '%_\\',
    '$' + '{x}', // a template placeholder, as text
    '<script>',
    'ключ',
    '中文',
  ),
);

/** Numbers a SafeInt field must refuse before any resolver runs. */
export const notASafeInt = fc.constantFrom<unknown>(
  1.5,
  -0.25,
  MAX_SAFE + 1,
  2 ** 64,
  -(2 ** 60),
  'NaN',
  '5',
  '1e3',
  true,
  {},
  [1],
  Number.MAX_VALUE,
);

/** The org's ledger: events and quantity per metric, read straight from the database. */
export async function ledgerOf(
  server: TestServer,
  org: TestOrg,
): Promise<{ events: number; byMetric: Record<string, bigint> }> {
  const rows = rowsOf<{ metric_key: string; n: string; total: string }>(
    await server.database.db.execute(sql`
      select e.metric_key, count(*)::text as n, sum(e.quantity)::text as total
      from usage_events e join orgs o on o.id = e.org_id where o.slug = ${org.slug}
      group by e.metric_key`),
  );
  return {
    events: rows.reduce((n, r) => n + Number(r.n), 0),
    byMetric: Object.fromEntries(rows.map((r) => [r.metric_key, BigInt(r.total)])),
  };
}
