import type { Principal } from '../auth/principal.ts';
import type { Db } from '../db/client.ts';
import { apiKeyByHash, type KeyLookup } from './repository.ts';
import { hashSecret, isSecretFormat } from './secret.ts';

/** The codes of verifyApiKey that authentication alone decides. */
export type KeyStatus = 'VALID' | 'NOT_FOUND' | 'REVOKED' | 'EXPIRED';

export type KeyAuthentication =
  | ({ status: 'VALID' } & KeyLookup)
  | ({ status: 'REVOKED' | 'EXPIRED' } & KeyLookup)
  | { status: 'NOT_FOUND' };

/**
 * Looks a secret up by its hash, every time: no cache, so a revocation or rotation made on any
 * instance takes effect on the very next request everywhere.
 */
export async function authenticateApiKey(
  db: Db,
  params: { secret: string; now: Date },
): Promise<KeyAuthentication> {
  if (!isSecretFormat(params.secret)) return { status: 'NOT_FOUND' };
  const found = await apiKeyByHash(db, hashSecret(params.secret));
  if (!found) return { status: 'NOT_FOUND' };
  if (found.key.revokedAt !== null) return { status: 'REVOKED', ...found };
  if (found.key.expiresAt !== null && found.key.expiresAt <= params.now)
    return { status: 'EXPIRED', ...found };
  return { status: 'VALID', ...found };
}

export function apiKeyPrincipal(found: KeyLookup): Principal {
  return { kind: 'apiKey', orgId: found.org.id, keyId: found.key.id, scopes: [...found.key.scopes] };
}

/** What an UNAUTHENTICATED answer says for a key that is not valid, so the caller knows what to do. */
export function keyFailureMessage(auth: Exclude<KeyAuthentication, { status: 'VALID' }>): string {
  switch (auth.status) {
    case 'NOT_FOUND':
      return 'The API key is not known: check that it was copied whole, or create a new one.';
    case 'REVOKED':
      return `The API key ${auth.key.prefix} was revoked at ${auth.key.revokedAt!.toISOString()}: use another key.`;
    case 'EXPIRED':
      return `The API key ${auth.key.prefix} expired at ${auth.key.expiresAt!.toISOString()}: create a new one.`;
  }
}
