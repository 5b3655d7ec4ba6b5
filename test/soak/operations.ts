/**
 * The calls the soak's clients make, each with the judgement of its answer against the
 * contract. A judgement updates the exact model with what the answer proves is in the ledger
 * and returns how much the answer says it counted (for the exactly-once checks of retries).
 */
import { randomUUID } from 'node:crypto';
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

type GraphQLAnswer<T> = { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };

const RECORD_USAGE =
  'mutation ($input: RecordUsageInput!) { recordUsage(input: $input) { accepted duplicates rejected { index code } } }';
const CHECK_QUOTA =
  'mutation ($input: CheckQuotaInput!) { checkQuota(input: $input) { allowed reason consumed used limit } }';
const VERIFY =
  'mutation ($input: VerifyApiKeyInput!) { verifyApiKey(input: $input) { valid code quota { allowed reason consumed used limit } } }';
const USAGE = 'query ($id: ID!) { org(id: $id) { usage { metrics { metric { key } used hardLimit } } } }';

export const METRICS = ['api_calls', 'tokens', 'playbook_runs'] as const;
const ENDPOINTS = ['/v1/chat', '/v1/embeddings', '/v1/search', '/v1/files'];

const rand = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(items: readonly T[]): T => items[rand(items.length)] as T;

function weighted<T>(items: readonly (readonly [T, number])[]): T {
  let r = Math.random();
  for (const [item, weight] of items) {
    r -= weight;
    if (r < 0) return item;
  }
  return (items.at(-1) as readonly [T, number])[0];
}

function quantityOf(metric: string): number {
  if (metric === 'tokens') return 1 + rand(3_000);
  if (metric === 'api_calls') return 1 + rand(5);
  return 1;
}

const pickMetric = () =>
  weighted([
    ['api_calls', 0.6],
    ['tokens', 0.3],
    ['playbook_runs', 0.1],
  ] as const);

function parse<T>(answer: Answer, what: string, j: Judging): GraphQLAnswer<T> | null {
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

/** Bad events, each with the rejection code the contract promises for it. */
const BAD_EVENTS: readonly ((id: string, orgId: string) => { bad: string; input: object })[] = [
  (id, orgId) => ({ bad: 'UNKNOWN_METRIC', input: { id, orgId, metric: 'no_such_metric', quantity: 1 } }),
  (id, orgId) => ({ bad: 'INVALID_QUANTITY', input: { id, orgId, metric: 'api_calls', quantity: -3 } }),
  (id, orgId) => ({ bad: 'INVALID_QUANTITY', input: { id, orgId, metric: 'tokens', quantity: 0 } }),
  (id, orgId) => ({
    bad: 'INVALID_ID',
    input: { id: `${id}-`.padEnd(129, 'x'), orgId, metric: 'api_calls' },
  }),
  (_id, orgId) => ({ bad: 'INVALID_ID', input: { id: '   ', orgId, metric: 'api_calls' } }),
  (id, orgId) => ({
    bad: 'TIMESTAMP_IN_FUTURE',
    input: { id, orgId, metric: 'api_calls', timestamp: new Date(Date.now() + 3_600_000).toISOString() },
  }),
  (id, orgId) => ({
    bad: 'TIMESTAMP_TOO_OLD',
    input: {
      id,
      orgId,
      metric: 'api_calls',
      timestamp: new Date(Date.now() - 90 * 86_400_000).toISOString(),
    },
  }),
  (id, orgId) => ({ bad: 'INVALID_PROPERTIES', input: { id, orgId, metric: 'api_calls', properties: [1] } }),
  (id) => ({ bad: 'NOT_FOUND', input: { id, orgId: randomUUID(), metric: 'api_calls' } }),
];

type Planned =
  | { bad: string; input: object }
  | { org: SoakOrg; id: string; metric: string; quantity: number; input: object; copyOf?: number };

/** A batch of 1 to 250 events of 1 to 3 orgs; one batch in five carries bad events among the good. */
export function recordUsageOperation(tag: string, orgs: () => SoakOrg, j: Judging): Operation {
  const size = weighted([
    [1, 0.2],
    [5, 0.25],
    [20, 0.25],
    [100, 0.2],
    [250, 0.1],
  ] as const);
  const batchOrgs = Array.from({ length: 1 + rand(3) }, orgs);
  const withBad = Math.random() < 0.2;
  const planned: Planned[] = [];
  for (let i = 0; i < size; i++) {
    const id = `${tag}-${i}`;
    const org = pick(batchOrgs);
    if (withBad && (Math.random() < 0.1 || size === 1)) {
      planned.push(pick(BAD_EVENTS)(id, org.id));
      continue;
    }
    const metric = pickMetric();
    const quantity = quantityOf(metric);
    const stamped =
      Math.random() < 0.3 ? { timestamp: new Date(Date.now() - rand(60_000)).toISOString() } : {};
    const input = {
      id,
      orgId: org.id,
      metric,
      quantity,
      properties: { endpoint: pick(ENDPOINTS) },
      ...stamped,
    };
    planned.push({ org, id, metric, quantity, input });
  }
  // Now and then a batch repeats one of its own events: counted once, whatever happens to it.
  const goods = planned.flatMap((p, i) => ('org' in p ? [i] : []));
  if (goods.length > 0 && Math.random() < 0.1) {
    const i = pick(goods);
    const original = planned[i] as Extract<Planned, { org: SoakOrg }>;
    planned.push({ ...original, copyOf: i });
  }
  const distinct = new Set(planned.flatMap((p) => ('org' in p ? [`${p.org.id}|${p.id}`] : []))).size;
  return {
    kind: 'recordUsage',
    retryable: true,
    countable: distinct,
    shot: {
      body: JSON.stringify({
        query: RECORD_USAGE,
        variables: { input: { events: planned.map((p) => p.input) } },
      }),
    },
    judge(answer, mode) {
      type R = { accepted: number; duplicates: number; rejected: { index: number; code: string }[] };
      const parsed = parse<{ recordUsage: R }>(answer, 'recordUsage', j);
      const r = parsed?.data?.recordUsage;
      if (!r) {
        if (parsed) j.stats.problem(`recordUsage failed: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
        return 0;
      }
      const codes = new Map(r.rejected.map((x) => [x.index, x.code]));
      const refused = new Set(codes.keys());
      let kept = 0;
      for (const [i, p] of planned.entries()) {
        const code = codes.get(i);
        codes.delete(i);
        if ('bad' in p) {
          if (code !== p.bad) j.stats.problem(`recordUsage: a ${p.bad} event was answered ${code ?? 'kept'}`);
          else j.stats.reject(code);
          continue;
        }
        // A repeat of an event in the same batch shares its fate: recorded once, or refused.
        if (p.copyOf !== undefined && refused.has(p.copyOf) !== (code !== undefined)) {
          j.stats.problem(
            `recordUsage: an event was ${refused.has(p.copyOf) ? 'refused' : 'kept'} and its repeat in the batch ${code ?? 'kept'}`,
          );
          continue;
        }
        if (code === undefined) {
          kept++;
          j.model.acknowledge(p.org.id, p.id, p.metric, BigInt(p.quantity));
        } else if (code === 'HARD_LIMIT' && j.hardLimit(p.org.plan, p.metric) !== null) {
          j.stats.reject(code);
        } else {
          j.stats.problem(`recordUsage: a good ${p.org.plan} event was refused: ${code}`);
        }
      }
      if (codes.size > 0)
        j.stats.problem(`recordUsage: rejections at indexes never sent: ${[...codes.keys()]}`);
      if (r.accepted + r.duplicates !== kept) {
        j.stats.problem(
          `recordUsage: ${r.accepted} accepted + ${r.duplicates} duplicates, ${kept} events kept`,
        );
      }
      if (mode === 'retry' && r.accepted !== 0)
        j.stats.problem(`recordUsage retry accepted ${r.accepted} again`);
      j.stats.events.sent += planned.length;
      j.stats.events.accepted += r.accepted;
      j.stats.events.duplicates += r.duplicates;
      j.model.counted += r.accepted;
      return r.accepted;
    },
  };
}

type Decision = { allowed: boolean; reason: string; consumed: boolean; used: number; limit: number | null };

/** Checks a quota decision against the org's plan; true when it counted `quantity` now. */
function judgeDecision(
  d: Decision,
  call: { org: SoakOrg; metric: string; quantity: number; key: string | null; mode: Mode; what: string },
  j: Judging,
): boolean {
  const limit = j.hardLimit(call.org.plan, call.metric);
  if (limit !== null && BigInt(d.used) > limit) {
    j.stats.problem(`${call.what}: used ${d.used} is past the hard limit ${limit}`);
  }
  if (!d.allowed) {
    const fair = limit !== null && d.reason === 'HARD_LIMIT' && BigInt(d.used + call.quantity) > limit;
    if (!fair)
      j.stats.problem(`${call.what}: a ${call.org.plan} org was denied (${d.reason}, used ${d.used})`);
    if (d.consumed) j.stats.problem(`${call.what}: denied yet consumed`);
    return false;
  }
  if (call.key === null) return false;
  if (!d.consumed && call.mode === 'first')
    j.stats.problem(`${call.what}: a new key was answered as a replay`);
  if (d.consumed && call.mode === 'retry') j.stats.problem(`${call.what}: a retried key was consumed again`);
  j.model.acknowledge(call.org.id, call.key, call.metric, BigInt(call.quantity));
  if (d.consumed) j.model.counted++;
  return d.consumed;
}

/** checkQuota as the service: mostly consumes with an idempotency key; one in twenty is bad input. */
export function checkQuotaOperation(tag: string, org: SoakOrg, j: Judging): Operation {
  const metric = pickMetric();
  const quantity = quantityOf(metric);
  const consume = Math.random() < 0.85;
  const key = consume ? tag : null;
  const bad = Math.random() < 0.05;
  const input = bad
    ? pick([
        { orgId: org.id, metric: 'no_such_metric', quantity: 1, consume: true, idempotencyKey: tag },
        { orgId: org.id, metric, quantity: 0, consume: true, idempotencyKey: tag },
        { orgId: org.id, metric, quantity: -2, consume: true, idempotencyKey: tag },
        { orgId: org.id, metric, quantity: 1, consume: true, idempotencyKey: 'k'.repeat(129) },
      ])
    : { orgId: org.id, metric, quantity, consume, ...(key ? { idempotencyKey: key } : {}) };
  return {
    kind: 'checkQuota',
    retryable: bad || consume,
    countable: 1,
    shot: { body: JSON.stringify({ query: CHECK_QUOTA, variables: { input } }) },
    judge(answer, mode) {
      const parsed = parse<{ checkQuota: Decision }>(answer, 'checkQuota', j);
      if (!parsed) return 0;
      if (bad) {
        const code = parsed.errors?.[0]?.extensions?.code;
        if (code !== 'BAD_USER_INPUT' || parsed.data)
          j.stats.problem(`checkQuota: bad input answered ${code}`);
        else j.stats.error(code);
        return 0;
      }
      const d = parsed.data?.checkQuota;
      if (!d) {
        j.stats.problem(`checkQuota failed: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
        return 0;
      }
      if (!d.allowed) j.stats.deny(`checkQuota ${d.reason}`);
      return judgeDecision(d, { org, metric, quantity, key, mode, what: 'checkQuota' }, j) ? 1 : 0;
    },
  };
}

/** verifyApiKey as the gateway: the org's key, a cost of 1 to 5 api_calls, an idempotency key. */
export function verifyApiKeyOperation(tag: string, org: SoakOrg, j: Judging): Operation {
  const cost = 1 + rand(5);
  const kind = weighted([
    ['good', 0.95],
    ['unknown key', 0.03],
    ['no cost', 0.02],
  ] as const);
  const input = {
    key: kind === 'unknown key' ? `ml_${randomUUID().replaceAll('-', '')}` : org.key,
    cost: kind === 'no cost' ? 0 : cost,
    idempotencyKey: tag,
  };
  return {
    kind: 'verifyApiKey',
    retryable: true,
    countable: 1,
    shot: { body: JSON.stringify({ query: VERIFY, variables: { input } }) },
    judge(answer, mode) {
      type V = { valid: boolean; code: string; quota: Decision | null };
      const parsed = parse<{ verifyApiKey: V }>(answer, 'verifyApiKey', j);
      if (!parsed) return 0;
      if (kind === 'no cost') {
        const code = parsed.errors?.[0]?.extensions?.code;
        if (code !== 'BAD_USER_INPUT') j.stats.problem(`verifyApiKey: cost 0 answered ${code}`);
        else j.stats.error(code);
        return 0;
      }
      const v = parsed.data?.verifyApiKey;
      if (!v) {
        j.stats.problem(`verifyApiKey failed: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
        return 0;
      }
      if (kind === 'unknown key') {
        if (v.valid || v.code !== 'NOT_FOUND')
          j.stats.problem(`verifyApiKey: an unknown key answered ${v.code}`);
        else j.stats.deny('verifyApiKey NOT_FOUND');
        return 0;
      }
      if (v.code === 'RATE_LIMITED') {
        if (v.valid || v.quota) j.stats.problem('verifyApiKey: RATE_LIMITED yet valid or quota decided');
        j.stats.deny('verifyApiKey RATE_LIMITED');
        return 0;
      }
      if (v.code !== 'VALID' && v.code !== 'QUOTA_EXCEEDED') {
        j.stats.problem(`verifyApiKey: a good ${org.plan} key answered ${v.code}`);
        return 0;
      }
      if (!v.quota || v.valid !== (v.code === 'VALID') || v.quota.allowed !== v.valid) {
        j.stats.problem(`verifyApiKey: ${v.code} with valid ${v.valid} and quota ${JSON.stringify(v.quota)}`);
        return 0;
      }
      if (!v.valid) j.stats.deny('verifyApiKey QUOTA_EXCEEDED');
      const call = { org, metric: 'api_calls', quantity: cost, key: tag, mode, what: 'verifyApiKey' };
      return judgeDecision(v.quota, call, j) ? 1 : 0;
    },
  };
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
