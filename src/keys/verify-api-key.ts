import type { ApiKeyScope } from '../auth/principal.ts';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { checkQuota, type QuotaDecisionView } from '../usage/check-quota.ts';
import type { ConsumptionQueue } from '../usage/consumption-queue.ts';
import { authenticateApiKey } from './authenticate.ts';
import type { RateLimitState } from './rate-limit.ts';
import type { KeyServices } from './services.ts';

export type VerifyCode = 'VALID' | 'NOT_FOUND' | 'REVOKED' | 'EXPIRED' | 'RATE_LIMITED' | 'QUOTA_EXCEEDED';

export type Verification = {
  valid: boolean;
  code: VerifyCode;
  org: OrgRow | null;
  scopes: ApiKeyScope[];
  rateLimit: RateLimitState | null;
  quota: QuotaDecisionView | null;
};

/** The metric a gateway's calls are counted in. */
export const API_CALLS = 'api_calls';

/**
 * The gateway's one call per end-customer request: authenticate the key, apply its plan's
 * request rate, then the monthly `api_calls` quota, counting `cost` calls when allowed.
 * - The rate counts requests: one per call whatever `cost` is (a rate is requests a minute; cost
 *   is what the request is worth in api_calls). It shares its count with the key's own requests
 *   to Meterline: a key has one rate.
 * - Checks stop at the first refusal: a rate-limited call is not checked against nor counted in
 *   the quota; a key that is not valid counts nothing.
 * - The quota consumption is exactly once per `idempotencyKey` when the caller gives one (a
 *   retried verify counts once); without one, every call is a new consumption.
 * REVOKED and EXPIRED answers still name the org and scopes: the caller is a trusted service.
 */
export async function verifyApiKey(
  deps: { db: Db; keys: KeyServices; consumptions: ConsumptionQueue; billingEnabled: boolean },
  params: { key: string; cost: bigint; idempotencyKey?: string | null; now: Date },
): Promise<Result<Verification>> {
  if (params.cost <= 0n) return fail(badInput('cost must be a positive number of api_calls.'));
  const auth = await authenticateApiKey(deps.db, { secret: params.key, now: params.now });
  const refuse = (code: VerifyCode, rest: Partial<Verification> = {}): Result<Verification> =>
    ok({ valid: false, code, org: null, scopes: [], rateLimit: null, quota: null, ...rest });
  if (auth.status === 'NOT_FOUND') return refuse('NOT_FOUND');
  const known = { org: auth.org, scopes: [...auth.key.scopes] };
  if (auth.status !== 'VALID') return refuse(auth.status, known);

  deps.keys.lastUsed.touch({ keyId: auth.key.id, orgId: auth.org.id, at: params.now });
  const rateLimit =
    auth.rateLimitPerMinute === null
      ? null
      : await deps.keys.limiter.consume(auth.key.id, auth.rateLimitPerMinute);
  if (rateLimit && !rateLimit.allowed) return refuse('RATE_LIMITED', { ...known, rateLimit });

  const decided = await checkQuota(deps, {
    orgId: auth.org.id,
    metric: API_CALLS,
    quantity: params.cost,
    consume: true,
    idempotencyKey: params.idempotencyKey ?? null,
    now: params.now,
    billingEnabled: deps.billingEnabled,
  });
  if (!decided.ok) return decided;
  const quota = decided.value;
  if (!quota.allowed) return refuse('QUOTA_EXCEEDED', { ...known, rateLimit, quota });
  return ok({ valid: true, code: 'VALID', ...known, rateLimit, quota });
}
