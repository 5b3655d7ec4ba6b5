import type { ApiKeyScope } from '../auth/principal.ts';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import { type ApiKeyRow, insertApiKey } from './repository.ts';
import { generateSecret } from './secret.ts';

export type CreateApiKeyParams = {
  orgId: string;
  name: string;
  scopes: readonly ApiKeyScope[];
  expiresAt?: Date | null;
  createdBy: string | null;
  now: Date;
};

/** A key and its secret: the only time the secret exists outside the caller's hands. */
export type KeyWithSecret = { apiKey: ApiKeyRow; secret: string };

/** Makes an API key for an org (the caller has checked the caller's role in it). */
export async function createApiKey(db: Db, params: CreateApiKeyParams): Promise<Result<KeyWithSecret>> {
  const name = params.name.trim();
  if (name.length === 0 || name.length > 100) return fail(badInput('name must be 1 to 100 characters.'));
  const scopes = [...new Set(params.scopes)];
  if (scopes.length === 0) {
    return fail(badInput('scopes must name at least one of USAGE_WRITE, USAGE_READ, BILLING_READ.'));
  }
  const expiresAt = params.expiresAt ?? null;
  if (expiresAt !== null && expiresAt <= params.now) {
    return fail(badInput('expiresAt must be in the future (or left out for a key that does not expire).'));
  }
  const { secret, prefix, hash } = generateSecret();
  const apiKey = await insertApiKey(db, {
    orgId: params.orgId,
    name,
    prefix,
    keyHash: hash,
    scopes,
    expiresAt,
    createdBy: params.createdBy,
    createdAt: params.now,
  });
  return ok({ apiKey, secret });
}
