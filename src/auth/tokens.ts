import { timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { anonymous, type Principal } from './principal.ts';

export type AuthSettings = {
  jwtSecret: string;
  adminUserIds: readonly string[];
  serviceTokens: readonly string[];
  /** JWT_ISSUER: when set, a user token's `iss` must be it (and tokens minted here carry it). */
  jwtIssuer?: string | undefined;
  /** JWT_AUDIENCE: when set, a user token's `aud` must include it (and tokens minted here carry it). */
  jwtAudience?: string | undefined;
};

/** How far in the future a token's `iat` or `nbf` may be: the clock drift between machines. */
export const JWT_CLOCK_SKEW_SECONDS = 60;

const encoder = new TextEncoder();

/**
 * Signs a user token (HS256, `sub` = user id), with `iat` and `exp` (both required to be accepted),
 * and the deployment's `iss` / `aud` when they are set. Used by the dev console banner, seeds and tests.
 */
export async function signUserToken(
  secret: string,
  userId: string,
  expiresIn: string | number = '30d',
  claims: { issuer?: string | undefined; audience?: string | undefined } = {},
): Promise<string> {
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (claims.issuer !== undefined) jwt.setIssuer(claims.issuer);
  if (claims.audience !== undefined) jwt.setAudience(claims.audience);
  return jwt.sign(encoder.encode(secret));
}

function equalSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const EXPECTED = 'send Authorization: Bearer <token> (a user JWT, an API key ml_... or a service token)';

/**
 * Reads an `Authorization` value: absent or empty is anonymous; `Bearer <credential>` is that
 * credential; anything else is refused with what was expected, so a header pasted wrong (the
 * printed JSON object, "Bearer" twice, a token without its scheme) is not silently anonymous.
 */
export function parseAuthorization(
  header: unknown,
): { ok: true; credential: string | undefined } | { ok: false; reason: string } {
  if (header === undefined || header === null) return { ok: true, credential: undefined };
  if (typeof header !== 'string')
    return { ok: false, reason: `The authorization must be a string: ${EXPECTED}.` };
  const value = header.trim();
  if (value === '') return { ok: true, credential: undefined };
  const bearer = /^Bearer\s+(\S+)$/i.exec(value);
  if (bearer) return { ok: true, credential: bearer[1] };
  if (value.startsWith('{')) {
    return {
      ok: false,
      reason: `The Authorization header holds a JSON object: its value must be only "Bearer <token>" (in GraphiQL, paste the whole object into the Headers tab); ${EXPECTED}.`,
    };
  }
  const words = value.split(/\s+/);
  const scheme = words[0] ?? '';
  if (/^Bearer$/i.test(scheme)) {
    if (words.length === 1)
      return { ok: false, reason: `Authorization: Bearer has no token after it; ${EXPECTED}.` };
    if (/^Bearer$/i.test(words[1] ?? '')) {
      return {
        ok: false,
        reason: `The Authorization header says "Bearer" twice: ${EXPECTED}, with Bearer once.`,
      };
    }
    return { ok: false, reason: `Authorization: Bearer takes one token without spaces; ${EXPECTED}.` };
  }
  if (words.length === 1) {
    return { ok: false, reason: `The Authorization header has a token but no scheme: ${EXPECTED}.` };
  }
  return {
    ok: false,
    reason: `The Authorization scheme ${JSON.stringify(scheme.slice(0, 20))} is not supported: ${EXPECTED}.`,
  };
}

/** The credential of a well-formed `Authorization: Bearer <x>` value; undefined for anything else. */
export function bearerCredential(header: string | null | undefined): string | undefined {
  const parsed = parseAuthorization(header);
  return parsed.ok ? parsed.credential : undefined;
}

/**
 * The credential a request carries: `Authorization: Bearer <x>`, else `X-API-Key: <key>`.
 * One function, so the API-key gate and the context factory always agree on it. A malformed
 * Authorization reads as no credential here; `requestAuthorization` refuses it.
 */
export function requestCredential(headers: { get(name: string): string | null }): string | undefined {
  return bearerCredential(headers.get('authorization')) ?? (headers.get('x-api-key')?.trim() || undefined);
}

/** `requestCredential`, or the reason a malformed Authorization header is refused. */
export function requestAuthorization(headers: {
  get(name: string): string | null;
}): { ok: true; credential: string | undefined } | { ok: false; reason: string } {
  const parsed = parseAuthorization(headers.get('authorization'));
  if (!parsed.ok) return parsed;
  return { ok: true, credential: parsed.credential ?? (headers.get('x-api-key')?.trim() || undefined) };
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
      requiredClaims: ['exp'],
      clockTolerance: JWT_CLOCK_SKEW_SECONDS,
      ...(settings.jwtIssuer !== undefined ? { issuer: settings.jwtIssuer } : {}),
      ...(settings.jwtAudience !== undefined ? { audience: settings.jwtAudience } : {}),
    });
    // The tolerance is for a signer's clock running ahead (`nbf`, `iat`); `exp` holds to the second,
    // as a running subscription ends at it: jose would let it pass by the tolerance too.
    if (typeof payload.exp === 'number' && payload.exp <= Date.now() / 1000) {
      return { ok: false, reason: 'The token has expired: sign in again.' };
    }
    // jose checks `nbf` (within the tolerance) but `iat` only with a maximum age.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + JWT_CLOCK_SKEW_SECONDS) {
      return { ok: false, reason: 'The token was issued in the future (iat): check the signing clock.' };
    }
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
    return { ok: false, reason: jwtRefusal(error) };
  }
}

/** What a caller is told about a JWT that was refused (never the secret, never the claims' values). */
function jwtRefusal(error: unknown): string {
  const { code, claim, reason } = error as { code?: string; claim?: string; reason?: string };
  if (code === 'ERR_JWT_EXPIRED') return 'The token has expired: sign in again.';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    if (claim === 'exp') return 'The token has no expiry (exp): tokens must carry an exp claim.';
    if (claim === 'nbf') return 'The token is not valid yet (nbf is in the future).';
    if (claim === 'iat') return 'The token has an invalid issued-at time (iat).';
    if (claim === 'iss') {
      return reason === 'missing'
        ? 'The token has no issuer (iss): this server accepts only tokens of its JWT_ISSUER.'
        : 'The token was issued by another issuer (iss) than this server accepts.';
    }
    if (claim === 'aud') {
      return reason === 'missing'
        ? 'The token has no audience (aud): this server accepts only tokens for its JWT_AUDIENCE.'
        : 'The token is for another audience (aud) than this server.';
    }
  }
  return 'The token is not valid: send a JWT signed by this server, or an API key.';
}
