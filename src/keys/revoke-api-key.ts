import type { Db } from '../db/client.ts';
import { notFound } from '../errors.ts';
import { orgAccessChanged } from '../live/access-changes.ts';
import type { LiveServices } from '../live/live-services.ts';
import { fail, ok, type Result } from '../result.ts';
import { auditKey } from './create-api-key.ts';
import { type ApiKeyRow, apiKeyInOrg, markRevoked } from './repository.ts';

/**
 * Revokes a key. It stops working on the next request on every instance, since each request
 * reads its key's row; open sockets and running subscriptions hear of it over the live bus (they
 * do not read the key for every operation). Revoking a revoked key is a no-op that answers the
 * key as it is.
 */
export async function revokeApiKey(
  deps: { db: Db; live: Pick<LiveServices, 'accessChanged'> },
  params: { orgId: string; keyId: string; now: Date; actor: string },
): Promise<Result<ApiKeyRow>> {
  const row = await deps.db.transaction(async (tx) => {
    const before = await apiKeyInOrg(tx, params);
    const after = await markRevoked(tx, { orgId: params.orgId, keyId: params.keyId, at: params.now });
    if (after && before?.revokedAt === null) {
      await auditKey(tx, { action: 'revokeApiKey', actor: params.actor, at: params.now, before, after });
    }
    return after;
  });
  if (row) orgAccessChanged(deps, row.orgId);
  return row ? ok(row) : fail(notFound(`API key ${JSON.stringify(params.keyId)}`));
}
