import { decodeJwt } from 'jose';
import type { Principal } from '../auth/principal.ts';
import {
  type AuthSettings,
  parseAuthorization,
  requestCredential,
  resolveCredential,
} from '../auth/tokens.ts';
import { unauthenticated } from '../errors.ts';
import type { ApiKeyGate } from '../keys/request-gate.ts';

/** The credential a context's principal came from, for what outlives one operation (a live stream). */
export type CredentialCheck = {
  /** When the credential stops by itself (a JWT's `exp`, an API key's expiry); null: never. */
  expiresAt(): Date | null;
  /** The caller as of now, counting nothing; throws UNAUTHENTICATED when the credential lapsed. */
  recheck(): Promise<Principal>;
};

/** A WebSocket's credential: authorized again for every operation on the socket. */
export type SocketCredential = {
  /** The caller for one operation, as of now and counted as a request; throws an AppError. */
  admit(): Promise<Principal>;
  check: CredentialCheck;
};

/** A user token's `exp` (the token was verified before this is asked). */
function tokenExpiry(token: string): Date | null {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? new Date(exp * 1000) : null;
  } catch {
    return null;
  }
}

/**
 * Credentials beyond the one request they authenticate: a graphql-ws socket's (every operation
 * is authorized again, as an HTTP request would be) and a live stream's (checked again when
 * access to its org changes, and ended at the credential's expiry).
 */
export function createCredentials(deps: { auth: AuthSettings; gate: ApiKeyGate }) {
  async function resolveNow(credential: string | undefined) {
    const resolved = await resolveCredential(credential, deps.auth);
    if (resolved.ok === false) throw unauthenticated(resolved.reason);
    return resolved;
  }
  const recheck = async (credential: string | undefined): Promise<Principal> => {
    const resolved = await resolveNow(credential);
    return resolved.ok === 'apiKey' ? deps.gate.recheck(resolved.key) : resolved.principal;
  };

  return {
    /** An HTTP request's credential (the principal was resolved by the request itself). */
    forRequest(request: Request): CredentialCheck {
      const credential = requestCredential(request.headers);
      return {
        expiresAt: () =>
          credential === undefined
            ? null
            : credential.startsWith('ml_')
              ? deps.gate.expiryFor(request)
              : tokenExpiry(credential),
        recheck: () => recheck(credential),
      };
    },

    /**
     * A socket's credential, from its connection parameters: checked on connect (UNAUTHENTICATED
     * closes the socket), then for every operation. A user token or a service token is verified
     * again (no statement); an API key is read again only when its org's access changed (see
     * ApiKeyGate.openSocket), and each operation counts against the org's request rate.
     */
    async forSocket(authorization: unknown): Promise<SocketCredential> {
      // A malformed value (a doubled "Bearer", the printed JSON header) is refused, as over HTTP.
      const header = parseAuthorization(authorization);
      if (!header.ok) throw unauthenticated(header.reason);
      const credential = header.credential;
      const resolved = await resolveNow(credential);
      if (resolved.ok === 'apiKey') {
        const key = await deps.gate.openSocket(resolved.key);
        return {
          admit: () => key.admit(),
          check: { expiresAt: () => key.expiresAt, recheck: () => recheck(credential) },
        };
      }
      const expiresAt = credential === undefined ? null : tokenExpiry(credential);
      return {
        admit: async () => {
          const now = await resolveNow(credential);
          return now.ok === true ? now.principal : Promise.reject(unauthenticated());
        },
        check: { expiresAt: () => expiresAt, recheck: () => recheck(credential) },
      };
    },
  };
}

export type Credentials = ReturnType<typeof createCredentials>;
