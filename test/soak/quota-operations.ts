import { randomUUID } from 'node:crypto';
import {
  type Judging,
  type Mode,
  type Operation,
  parse,
  pick,
  pickMetric,
  quantityOf,
  rand,
  type SoakOrg,
  weighted,
} from './operations.ts';

const CHECK_QUOTA =
  'mutation ($input: CheckQuotaInput!) { checkQuota(input: $input) { allowed reason consumed used limit } }';
const VERIFY =
  'mutation ($input: VerifyApiKeyInput!) { verifyApiKey(input: $input) { valid code quota { allowed reason consumed used limit } } }';

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
