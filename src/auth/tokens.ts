import { timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { anonymous, type Principal } from './principal.ts';

export type AuthSettings = {
  jwtSecret: string;
  adminUserIds: readonly string[];
  serviceTokens: readonly string[];
};

const encoder = new TextEncoder();

/** Signs a user token (HS256, `sub` = user id). Used by the dev console banner, seeds and tests. */
export async function signUserToken(
  secret: string,
  userId: string,
  expiresIn: string | number = '30d',
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(encoder.encode(secret));
}

function equalSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Extracts the credential from `Authorization: Bearer <x>` (or a bare value). */
export function bearerCredential(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

/**
 * The credential a request carries: `Authorization: Bearer <x>`, else `X-API-Key: <key>`.
 * One function, so the API-key gate and the context factory always agree on it.
 */
export function requestCredential(headers: { get(name: string): string | null }): string | undefined {
  return bearerCredential(headers.get('authorization')) ?? (headers.get('x-api-key')?.trim() || undefined);
}

export type CredentialResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: string }
  /** An API key (`ml_...`): resolved by the keys module. */
  | { ok: 'apiKey'; key: string };

/**
 * Resolves a bearer credential that is not an API key: a service token or a user JWT.
 * Returns `ok: false` with a reason for a credential that was sent but is not valid,
 * so the caller answers UNAUTHENTICATED instead of treating it as anonymous.
 */
export async function resolveCredential(
  credential: string | undefined,
  settings: AuthSettings,
): Promise<CredentialResult> {
  if (credential === undefined) return { ok: true, principal: anonymous };
  if (credential.startsWith('ml_')) return { ok: 'apiKey', key: credential };
  if (settings.serviceTokens.some((t) => equalSecret(t, credential))) {
    return { ok: true, principal: { kind: 'service' } };
  }
  try {
    const { payload } = await jwtVerify(credential, encoder.encode(settings.jwtSecret), {
      algorithms: ['HS256'],
    });
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
      return { ok: false, reason: 'The token has no subject (sub).' };
    }
    return {
      ok: true,
      principal: {
        kind: 'user',
        userId: payload.sub,
        isPlatformAdmin: settings.adminUserIds.includes(payload.sub),
      },
    };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED') return { ok: false, reason: 'The token has expired: sign in again.' };
    return { ok: false, reason: 'The token is not valid: send a JWT signed by this server, or an API key.' };
  }
}
