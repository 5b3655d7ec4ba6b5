import type { ApiKeyScope } from '../auth/principal.ts';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { consumptionOf, type QuotaDecisionView } from '../usage/check-quota.ts';
import { type ConsumeRequest, KEY_UNCONFIRMED } from '../usage/consume-catalog.ts';
import type { ConsumptionQueue } from '../usage/consumption-queue.ts';
import { authenticateApiKey } from './authenticate.ts';
import type { KeyIdentity } from './key-identities.ts';
import type { RateLimitState } from './rate-limit.ts';
import { hashSecret, isSecretFormat } from './secret.ts';
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

type VerifyDeps = { db: Db; keys: KeyServices; consumptions: ConsumptionQueue; billingEnabled: boolean };
/** The consumption a call asks for, before its key says whose it is. */
type Consumption = Omit<ConsumeRequest, 'orgId'>;
type VerifyParams = { key: string; cost: bigint; idempotencyKey?: string | null; now: Date };

/**
 * The gateway's one call per end-customer request: authenticate the key, apply its plan's
 * request rate, then the monthly `api_calls` quota, counting `cost` calls when allowed.
 * - The rate counts requests: one per call whatever `cost` is (a rate is requests a minute; cost
 *   is what the request is worth in api_calls). It shares its count with the requests of the
 *   org's keys to Meterline: an org has one rate, whatever its number of keys.
 * - Checks stop at the first refusal: a rate-limited call is not checked against nor counted in
 *   the quota; a key that is not valid counts nothing.
 * - The quota consumption is exactly once per `idempotencyKey` when the caller gives one (a
 *   retried verify counts once); without one, every call is a new consumption.
 * REVOKED and EXPIRED answers still name the org and scopes: the caller is a trusted service.
 *
 * A key this instance has seen valid, of an org whose calls cannot be refused (no hard limit, no
 * budget), is verified without reading it first: its org and plan come from the instance's
 * catalog copy, and the write that counts the call checks in the same statement that the key is
 * still live and the copy current (see ConsumeRequest.apiKey). Every other case, and every answer
 * but VALID, reads the key: a revoked, rotated or expired key is refused at its next call.
 */
export async function verifyApiKey(deps: VerifyDeps, params: VerifyParams): Promise<Result<Verification>> {
  if (params.cost <= 0n) return fail(badInput('cost must be a positive number of api_calls.'));
  const checked = consumptionOf({
    metric: API_CALLS,
    quantity: params.cost,
    idempotencyKey: params.idempotencyKey ?? null,
    now: params.now,
    billingEnabled: deps.billingEnabled,
  });
  // One event id for every attempt below: an attempt that wrote nothing is simply made again.
  // A bad idempotency key is answered after the key and the rate, as the database path does.
  const keyHash = isSecretFormat(params.key) ? hashSecret(params.key) : null;
  const identity = keyHash ? deps.keys.identities.get(keyHash) : undefined;
  if (
    !checked.ok ||
    !keyHash ||
    !identity ||
    (identity.expiresAt !== null && identity.expiresAt <= params.now)
  ) {
    return verifyFromDatabase(deps, params, checked);
  }
  const known = await verifyKnownKey(deps, params, { keyHash, identity, consumption: checked.value });
  return 'result' in known ? known.result : verifyFromDatabase(deps, params, checked, known.taken);
}

/**
 * The request rate an attempt already took for this call: the state, or null (the copy had no
 * limit), and the org it was counted on.
 */
type TakenRate = { state: RateLimitState | null; orgId: string };

/**
 * The call of a key seen valid before, counted by a write that confirms the key. Answers its
 * result, or (the key or the catalog copy could not be confirmed, or the call is rate-limited)
 * the request-rate state already taken, for the call to be finished after a read of the key.
 */
async function verifyKnownKey(
  deps: VerifyDeps,
  params: VerifyParams,
  known: { keyHash: string; identity: KeyIdentity; consumption: Consumption },
): Promise<{ result: Result<Verification> } | { taken?: TakenRate }> {
  const { keyHash, identity, consumption } = known;
  const entry = await deps.consumptions.unrefusableOrg(identity.orgId, API_CALLS);
  if (!entry) return {};
  const rateLimit =
    entry.rateLimitPerMinute === null
      ? null
      : await deps.keys.limiter.consume(identity.orgId, entry.rateLimitPerMinute);
  // A refusal is never taken from the copy: the read of the key judges it with the plan's rate now.
  if (rateLimit && !rateLimit.allowed) return { taken: { state: rateLimit, orgId: identity.orgId } };
  const answer = await deps.consumptions.consumeAsKey({
    ...consumption,
    orgId: identity.orgId,
    apiKey: { keyId: identity.keyId, keyHash },
  });
  // Not confirmed, or not decided here (the org is gone, a bad quantity): the read of the key
  // answers, and decides again with the same event id (nothing of it was written).
  if (answer === KEY_UNCONFIRMED || !answer.ok) return { taken: { state: rateLimit, orgId: identity.orgId } };
  deps.keys.lastUsed.touch({ keyId: identity.keyId, orgId: identity.orgId, at: params.now });
  return {
    result: ok(quotaAnswer({ org: entry.org, scopes: [...identity.scopes], rateLimit }, answer.value)),
  };
}

/**
 * Reads the key, then applies the rate and the quota. A rate an earlier attempt already took
 * (`taken`, under the catalog copy's limit) is judged again with the plan's rate read now, and
 * counted now only if the copy had no limit.
 */
async function verifyFromDatabase(
  deps: VerifyDeps,
  params: VerifyParams,
  consumption: Result<Consumption>,
  taken?: TakenRate,
): Promise<Result<Verification>> {
  const auth = await authenticateApiKey(deps.db, { secret: params.key, now: params.now });
  // A secret the copy knew but the key no longer has (rotated away, revoked, expired) was counted
  // on the org's rate: given back, or the old secret would use up the org's live keys' requests.
  const giveBack = async () => {
    if (taken?.state) await deps.keys.limiter.giveBack(taken.orgId);
  };
  if (auth.status === 'NOT_FOUND') {
    if (isSecretFormat(params.key)) deps.keys.identities.forget(hashSecret(params.key));
    await giveBack();
    return ok(refused('NOT_FOUND'));
  }
  const known = { org: auth.org, scopes: [...auth.key.scopes] };
  if (auth.status !== 'VALID') {
    deps.keys.identities.forget(auth.key.keyHash);
    await giveBack();
    return ok(refused(auth.status, known));
  }
  const { key } = auth;
  deps.keys.identities.remember(key.keyHash, {
    keyId: key.id,
    orgId: key.orgId,
    scopes: key.scopes,
    expiresAt: key.expiresAt,
  });

  deps.keys.lastUsed.touch({ keyId: key.id, orgId: auth.org.id, at: params.now });
  const limit = auth.rateLimitPerMinute;
  const rateLimit =
    limit === null
      ? null
      : taken?.state
        ? deps.keys.limiter.rejudge(taken.state, limit)
        : await deps.keys.limiter.consume(auth.org.id, limit);
  if (rateLimit && !rateLimit.allowed) return ok(refused('RATE_LIMITED', { ...known, rateLimit }));

  if (!consumption.ok) return consumption;
  const decided = await deps.consumptions.consume({ ...consumption.value, orgId: auth.org.id });
  if (!decided.ok) return decided;
  return ok(quotaAnswer({ ...known, rateLimit }, decided.value));
}

function refused(code: VerifyCode, rest: Partial<Verification> = {}): Verification {
  return { valid: false, code, org: null, scopes: [], rateLimit: null, quota: null, ...rest };
}

/** The answer once the quota has decided: VALID, or QUOTA_EXCEEDED. */
function quotaAnswer(
  known: Pick<Verification, 'org' | 'scopes' | 'rateLimit'>,
  quota: QuotaDecisionView,
): Verification {
  if (!quota.allowed) return refused('QUOTA_EXCEEDED', { ...known, quota });
  return { valid: true, code: 'VALID', ...known, quota };
}
