import type { Db } from '../db/client.ts';
import { notFound } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import { type ApiKeyRow, markRevoked } from './repository.ts';

/**
 * Revokes a key. It stops working on the next request on every instance, since each request
 * reads its key's row. Revoking a revoked key is a no-op that answers the key as it is.
 */
export async function revokeApiKey(
  db: Db,
  params: { orgId: string; keyId: string; now: Date },
): Promise<Result<ApiKeyRow>> {
  const row = await markRevoked(db, { orgId: params.orgId, keyId: params.keyId, at: params.now });
  return row ? ok(row) : fail(notFound(`API key ${JSON.stringify(params.keyId)}`));
}
