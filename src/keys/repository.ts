import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { ApiKeyScope } from '../auth/principal.ts';
import type { Db } from '../db/client.ts';
import { isUuid } from '../db/columns.ts';
import { concurrentReads } from '../db/concurrent-reads.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { orgs } from '../orgs/tables.ts';
import { plans } from '../plans/tables.ts';
import { apiKeys } from './tables.ts';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Key ids are UUIDs; anything else can match no key (and must not reach SQL as a uuid). */
export const isApiKeyId = isUuid;

export async function insertApiKey(
  db: Db,
  key: {
    orgId: string;
    name: string;
    prefix: string;
    keyHash: string;
    scopes: ApiKeyScope[];
    expiresAt: Date | null;
    createdBy: string | null;
    createdAt: Date;
  },
): Promise<ApiKeyRow> {
  const [row] = await db.insert(apiKeys).values(key).returning();
  return row!;
}

/** Keys by id, whatever their org: callers check that the caller may see each key's org. */
export function apiKeysByIds(db: Db, ids: readonly string[]): Promise<ApiKeyRow[]> {
  const valid = ids.filter(isApiKeyId);
  if (valid.length === 0) return Promise.resolve([]);
  return db.select().from(apiKeys).where(inArray(apiKeys.id, valid));
}

/** The keys of some orgs, newest first (revoked ones included: lists show them as revoked). */
export function apiKeysByOrgIds(db: Db, orgIds: readonly string[]): Promise<ApiKeyRow[]> {
  if (orgIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(apiKeys)
    .where(inArray(apiKeys.orgId, [...orgIds]))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}

export async function apiKeyInOrg(
  db: Db,
  params: { orgId: string; keyId: string },
): Promise<ApiKeyRow | undefined> {
  if (!isApiKeyId(params.keyId)) return undefined;
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, params.orgId), eq(apiKeys.id, params.keyId)))
    .limit(1);
  return row;
}

export type KeyLookup = { key: ApiKeyRow; org: OrgRow; rateLimitPerMinute: number | null };

/**
 * The key with this secret hash, its org and its plan's request rate: the one indexed read an
 * API-key request costs. Not org-scoped, by nature: the secret is what tells us the org.
 */
export async function apiKeyByHash(db: Db, keyHash: string): Promise<KeyLookup | undefined> {
  return (await keyReader(db).load(keyHash)) ?? undefined;
}

/** Keys of concurrent requests are read together, fresh every time (see concurrentReads). */
const keyReader = concurrentReads<KeyLookup>(async (db, hashes) => {
  const rows = await keysByHashes(db).execute({ hashes: JSON.stringify(hashes) });
  const byHash = new Map(rows.map((r) => [r.key.keyHash, r]));
  return hashes.map((h) => byHash.get(h) ?? null);
});

/**
 * The key read, built once per database handle: it runs on every API-key request, and building
 * a three-table select again each time costs more than the read. The hashes go as one JSON array
 * (one statement text whatever their number) and are matched with `= any(array)`, an index scan.
 */
const preparedKeyReads = new WeakMap<Db, ReturnType<typeof prepareKeyRead>>();

function keysByHashes(db: Db) {
  let prepared = preparedKeyReads.get(db);
  if (!prepared) {
    prepared = prepareKeyRead(db);
    preparedKeyReads.set(db, prepared);
  }
  return prepared;
}

function prepareKeyRead(db: Db) {
  return db
    .select({ key: apiKeys, org: orgs, rateLimitPerMinute: plans.rateLimitPerMinute })
    .from(apiKeys)
    .innerJoin(orgs, eq(orgs.id, apiKeys.orgId))
    .innerJoin(plans, eq(plans.id, orgs.planId))
    .where(
      sql`${apiKeys.keyHash} = any(array(select jsonb_array_elements_text(${sql.placeholder('hashes')}::jsonb)))`,
    )
    .prepare('api_keys_by_hashes');
}

/** Revokes a key; a key already revoked keeps its first revocation time. */
export async function markRevoked(
  db: Db,
  params: { orgId: string; keyId: string; at: Date },
): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${params.at.toISOString()}::timestamptz)` })
    .where(and(eq(apiKeys.orgId, params.orgId), eq(apiKeys.id, params.keyId)))
    .returning();
  return row;
}

/**
 * Replaces the secret of a key that is not revoked. The old hash is overwritten in the same
 * statement, so the old secret stops matching at once. Undefined: no such live key.
 */
export async function replaceSecret(
  db: Db,
  params: { orgId: string; keyId: string; prefix: string; keyHash: string; at: Date },
): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ prefix: params.prefix, keyHash: params.keyHash, rotatedAt: params.at })
    .where(and(eq(apiKeys.orgId, params.orgId), eq(apiKeys.id, params.keyId), isNull(apiKeys.revokedAt)))
    .returning();
  return row;
}

export type KeyUse = { keyId: string; orgId: string; at: Date };

/**
 * Writes many keys' last use in one statement. Several instances may flush the same key: the
 * latest time wins (`greatest`), so an older flush never moves `last_used_at` back.
 */
export async function recordKeyUses(db: Db, uses: readonly KeyUse[]): Promise<void> {
  if (uses.length === 0) return;
  const rows = sql.join(
    uses.map((u) => sql`(${u.keyId}::uuid, ${u.orgId}::uuid, ${u.at.toISOString()}::timestamptz)`),
    sql`, `,
  );
  await db.execute(sql`
    update ${apiKeys} set last_used_at = greatest(${apiKeys.lastUsedAt}, v.at)
    from (values ${rows}) as v(id, org_id, at)
    where ${apiKeys.id} = v.id and ${apiKeys.orgId} = v.org_id`);
}
