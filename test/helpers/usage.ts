import type { TestOrg } from './fixtures.ts';
import { TEST_SERVICE_TOKEN, type TestServer } from './server.ts';

export const RECORD_USAGE = `mutation ($input: RecordUsageInput!) {
  recordUsage(input: $input) { accepted duplicates rejected { index id code message } } }`;

export const CHECK_QUOTA = `mutation ($input: CheckQuotaInput!) {
  checkQuota(input: $input) { allowed reason used limit remaining resetsAt consumed metric { key } } }`;

export type RecordUsageResult = {
  accepted: number;
  duplicates: number;
  rejected: { index: number; id: string | null; code: string; message: string }[];
};

export type QuotaResult = {
  allowed: boolean;
  reason: string;
  used: number;
  limit: number | null;
  remaining: number | null;
  consumed: boolean;
};

/** Sends events through recordUsage as the platform's service. */
export async function record(
  server: TestServer,
  events: Record<string, unknown>[],
  auth = TEST_SERVICE_TOKEN,
) {
  return server.gql<{ recordUsage: RecordUsageResult }>(RECORD_USAGE, { input: { events } }, auth);
}

export async function consume(server: TestServer, input: Record<string, unknown>, auth = TEST_SERVICE_TOKEN) {
  return server.gql<{ checkQuota: QuotaResult }>(CHECK_QUOTA, { input: { consume: true, ...input } }, auth);
}

/** The org's `used` per metric for the period containing `at` (default now). */
export async function usedByMetric(
  server: TestServer,
  org: TestOrg,
  at?: Date,
): Promise<Record<string, number>> {
  const res = await server.gql<{ org: { usage: { metrics: { metric: { key: string }; used: number }[] } } }>(
    `query ($id: ID!, $at: DateTime) { org(id: $id) { usage(at: $at) { metrics { metric { key } used } } } }`,
    { id: org.id, at: at?.toISOString() ?? null },
    await server.adminToken(),
  );
  if (!res.data?.org) throw new Error(`usage query failed: ${JSON.stringify(res.errors)}`);
  return Object.fromEntries(res.data.org.usage.metrics.map((m) => [m.metric.key, m.used]));
}
