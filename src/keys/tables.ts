import { sql } from 'drizzle-orm';
import { check, index, pgEnum, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { instant } from '../db/columns.ts';
import { orgs } from '../orgs/tables.ts';

export const apiKeyScope = pgEnum('api_key_scope', ['USAGE_WRITE', 'USAGE_READ', 'BILLING_READ']);

/**
 * An org's API keys. The secret (`ml_<prefix>_<random>`) is shown once at creation or rotation and
 * never stored: only its SHA-256 (hex) is, so a leaked table does not leak working keys. `prefix`
 * is the visible start of the secret (`ml_<8 chars>`) that tells keys apart in lists.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    /** SHA-256 of the whole secret, lowercase hex: the one column a request is authenticated by. */
    keyHash: text('key_hash').notNull().unique(),
    scopes: apiKeyScope('scopes').array().notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    /** The user who created it (a JWT `sub`); null when made outside the API (seeds). */
    createdBy: text('created_by'),
    /** Written in batches (see last-used.ts), so it may trail the latest use by a few seconds. */
    lastUsedAt: instant('last_used_at'),
    expiresAt: instant('expires_at'),
    revokedAt: instant('revoked_at'),
    /** When the secret was last replaced by rotateApiKey. */
    rotatedAt: instant('rotated_at'),
  },
  (t) => [
    index('api_keys_org_id_idx').on(t.orgId, t.createdAt),
    check('api_keys_key_hash_sha256_hex', sql`${t.keyHash} ~ '^[0-9a-f]{64}$'`),
  ],
);
