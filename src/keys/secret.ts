import { createHash, randomBytes } from 'node:crypto';

/**
 * API key secrets: `ml_<prefix>_<random>`.
 * - `ml_` marks an API key (the auth layer tells it from a JWT or service token by it).
 * - `<prefix>`: 8 lowercase letters and digits, stored and shown in lists (`ml_<prefix>`) so a
 *   person can tell keys apart; not secret.
 * - `<random>`: 32 random bytes, base64url (43 characters, 256 bits): the secret part.
 * Only the SHA-256 of the whole string is stored. A fast hash is enough here (unlike passwords):
 * 256 random bits cannot be guessed, so there is nothing for a slow hash to protect.
 */
const SECRET_FORMAT = /^ml_([a-z0-9]{8})_[A-Za-z0-9_-]{43}$/;
const PREFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export type NewSecret = { secret: string; prefix: string; hash: string };

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function generateSecret(): NewSecret {
  // The modulo bias is irrelevant: the prefix is a label, not part of the secret's strength.
  const label = [...randomBytes(8)].map((b) => PREFIX_ALPHABET[b % PREFIX_ALPHABET.length]).join('');
  const secret = `ml_${label}_${randomBytes(32).toString('base64url')}`;
  return { secret, prefix: `ml_${label}`, hash: hashSecret(secret) };
}

/** Whether a string has the shape of a secret this server makes (else it can match no key). */
export function isSecretFormat(value: string): boolean {
  return SECRET_FORMAT.test(value);
}
