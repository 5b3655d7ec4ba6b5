import type { Db } from '../db/client.ts';
import { notFound } from '../errors.ts';
import { afterCommit, orgAccessChanged } from '../events/after-commit.ts';
import type { EventPublisher } from '../events/domain-events.ts';
import { fail, ok, type Result } from '../result.ts';
import { auditKey } from './create-api-key.ts';
import { type ApiKeyRow, apiKeyInOrg, markRevoked } from './repository.ts';

/**
 * Revokes a key. It stops working on the next request on every instance, since each request
 * reads its key's row; open sockets and running subscriptions hear of it as an org access change
 * once it committed (they do not read the key for every operation). Revoking a revoked key is a no-op that answers the
 * key as it is.
 */
export async function revokeApiKey(
  deps: { db: Db; events: EventPublisher },
  params: { orgId: string; keyId: string; now: Date; actor: string },
): Promise<Result<ApiKeyRow>> {
  const row = await afterCommit(deps.events, (effects) =>
    deps.db.transaction(async (tx) => {
      const before = await apiKeyInOrg(tx, params);
      const after = await markRevoked(tx, { orgId: params.orgId, keyId: params.keyId, at: params.now });
      if (after && before?.revokedAt === null) {
        await auditKey(tx, { action: 'revokeApiKey', actor: params.actor, at: params.now, before, after });
      }
      if (after) effects.publish(orgAccessChanged(after.orgId));
      return after;
    }),
  );
  return row ? ok(row) : fail(notFound(`API key ${JSON.stringify(params.keyId)}`));
}
