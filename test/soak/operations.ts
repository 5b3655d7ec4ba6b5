/**
 * The calls the soak's clients make, each with the judgement of its answer against the
 * contract. A judgement updates the exact model with what the answer proves is in the ledger
 * and returns how much the answer says it counted (for the exactly-once checks of retries).
 * This file holds what they share and the usage read; recordUsage's calls are in
 * record-usage-operation.ts, checkQuota's and verifyApiKey's in quota-operations.ts.
 */
import type { Shot } from '../bench/lib/load.ts';
import type { BenchOrg } from '../bench/lib/meterline.ts';
import type { SoakStats, UsageModel } from './model.ts';

export type Plan = 'free' | 'pro' | 'enterprise';
export type SoakOrg = BenchOrg & { plan: Plan; key: string };

/** `first`: the only send so far; `retry`: sent again after its answer; `concurrent`: sent to both instances at once. */
export type Mode = 'first' | 'retry' | 'concurrent';
export type Answer = { status: number; body: string };

export type Operation = {
  kind: 'recordUsage' | 'checkQuota' | 'verifyApiKey' | 'Org.usage';
  shot: Shot;
  /** May be sent again (it carries event ids or an idempotency key). */
  retryable: boolean;
  /** The most all sends together may count: each event or key once. */
  countable: number;
  judge(answer: Answer, mode: Mode): number;
};

export type Judging = {
  model: UsageModel;
  stats: SoakStats;
  /** The hard limit of a plan's metric, null when it has none. */
  hardLimit(plan: Plan, metric: string): bigint | null;
  /** False once the run has crossed into another billing period (reads then have no lower bound). */
  samePeriod(): boolean;
};

export type GraphQLAnswer<T> = {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};

const USAGE = 'query ($id: ID!) { org(id: $id) { usage { metrics { metric { key } used hardLimit } } } }';

export const METRICS = ['api_calls', 'tokens', 'playbook_runs'] as const;
export const ENDPOINTS = ['/v1/chat', '/v1/embeddings', '/v1/search', '/v1/files'];

export const rand = (n: number) => Math.floor(Math.random() * n);
export const pick = <T>(items: readonly T[]): T => items[rand(items.length)] as T;

export function weighted<T>(items: readonly (readonly [T, number])[]): T {
  let r = Math.random();
  for (const [item, weight] of items) {
    r -= weight;
    if (r < 0) return item;
  }
  return (items.at(-1) as readonly [T, number])[0];
}

export function quantityOf(metric: string): number {
  if (metric === 'tokens') return 1 + rand(3_000);
  if (metric === 'api_calls') return 1 + rand(5);
  return 1;
}

export const pickMetric = () =>
  weighted([
    ['api_calls', 0.6],
    ['tokens', 0.3],
    ['playbook_runs', 0.1],
  ] as const);

export function parse<T>(answer: Answer, what: string, j: Judging): GraphQLAnswer<T> | null {
  if (answer.status !== 200) {
    j.stats.problem(`${what}: HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
    return null;
  }
  try {
    return JSON.parse(answer.body) as GraphQLAnswer<T>;
  } catch {
    j.stats.problem(`${what}: not JSON: ${answer.body.slice(0, 200)}`);
    return null;
  }
}

/** Org.usage as the platform admin: never past a hard limit, never below what was acknowledged before the read. */
export function usageReadOperation(org: SoakOrg, j: Judging): Operation {
  const floor = new Map(METRICS.map((m) => [m, j.model.sumOf(org.id, m)]));
  return {
    kind: 'Org.usage',
    retryable: false,
    countable: 0,
    shot: { body: JSON.stringify({ query: USAGE, variables: { id: org.id } }) },
    judge(answer) {
      type U = { org: { usage: { metrics: { metric: { key: string }; used: number }[] } } | null };
      const parsed = parse<U>(answer, 'Org.usage', j);
      if (!parsed) return 0;
      const metrics = parsed.data?.org?.usage.metrics;
      if (!metrics) {
        j.stats.problem(`Org.usage failed: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
        return 0;
      }
      for (const m of metrics) {
        const used = BigInt(m.used);
        const limit = j.hardLimit(org.plan, m.metric.key);
        if (limit !== null && used > limit)
          j.stats.problem(`Org.usage: ${m.metric.key} used ${used} > ${limit}`);
        const least = floor.get(m.metric.key as (typeof METRICS)[number]);
        if (least !== undefined && used < least && j.samePeriod()) {
          j.stats.problem(`Org.usage: ${m.metric.key} used ${used}, ${least} acknowledged before the read`);
        }
      }
      return 0;
    },
  };
}
