import type { Db } from '../db/client.ts';
import { conflict, notFound } from '../errors.ts';
import { afterCommit, orgAccessChanged } from '../events/after-commit.ts';
import type { EventPublisher } from '../events/domain-events.ts';
import { fail, ok, type Result } from '../result.ts';
import { auditKey, type KeyWithSecret } from './create-api-key.ts';
import { apiKeyInOrg, replaceSecret } from './repository.ts';
import { generateSecret } from './secret.ts';

/**
 * Gives a key a new secret. The key keeps its id, name, scopes and expiry; the old secret stops
 * working at once (its hash is overwritten; once that committed, open sockets and running
 * subscriptions with it hear of it as an org access change). A revoked or expired key cannot be rotated: it is
 * dead, and bringing it back would surprise whoever revoked it; create a new key instead.
 */
export async function rotateApiKey(
  deps: { db: Db; events: EventPublisher },
  params: { orgId: string; keyId: string; now: Date; actor: string },
): Promise<Result<KeyWithSecret>> {
  const { db } = deps;
  const key = await apiKeyInOrg(db, params);
  if (!key) return fail(notFound(`API key ${JSON.stringify(params.keyId)}`));
  if (key.revokedAt !== null) return fail(conflict(`API key ${key.prefix} is revoked: create a new key.`));
  if (key.expiresAt !== null && key.expiresAt <= params.now) {
    return fail(conflict(`API key ${key.prefix} has expired: create a new key.`));
  }
  const { secret, prefix, hash } = generateSecret();
  const { orgId, keyId, now } = params;
  const apiKey = await afterCommit(deps.events, (effects) =>
    db.transaction(async (tx) => {
      const row = await replaceSecret(tx, { orgId, keyId, prefix, keyHash: hash, at: now });
      if (!row) return row;
      await auditKey(tx, { action: 'rotateApiKey', actor: params.actor, at: now, before: key, after: row });
      effects.publish(orgAccessChanged(orgId));
      return row;
    }),
  );
  // Revoked between our read and the update.
  if (!apiKey) return fail(conflict(`API key ${key.prefix} is revoked: create a new key.`));
  return ok({ apiKey, secret });
}
