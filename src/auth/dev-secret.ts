import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The JWT secret when JWT_SECRET is unset (development, on either database): made once and kept
 * in the data directory, so tokens printed earlier stay valid across restarts until they expire
 * or the directory is deleted. Never used in production, where JWT_SECRET is required.
 */
export function developmentSecret(dataDir: string): string {
  const path = join(dataDir, 'dev-jwt-secret');
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch {
    // not made yet
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, secret, { mode: 0o600 });
  return secret;
}

/** The secret user tokens are signed with: JWT_SECRET, else the development secret. */
export function resolveJwtSecret(config: { jwtSecret: string | undefined; dataDir: string }): string {
  return config.jwtSecret ?? developmentSecret(config.dataDir);
}

/** Where the secret comes from, in words, for what the token command and the banner print. */
export function jwtSecretSource(config: { jwtSecret: string | undefined; dataDir: string }): string {
  return config.jwtSecret === undefined
    ? `the development secret in ${join(config.dataDir, 'dev-jwt-secret')}`
    : 'JWT_SECRET';
}

/** The header a person pastes: GraphiQL's Headers tab takes this JSON as it is. */
export function authorizationHeader(token: string): string {
  return `{"Authorization": "Bearer ${token}"}`;
}
