import { and, asc, eq, gt, inArray, or } from 'drizzle-orm';
import type { OrgRole } from '../auth/roles.ts';
import type { Db } from '../db/client.ts';
import { isUuid } from '../db/columns.ts';
import { memberships, orgEntitlementOverrides, orgs, users } from './tables.ts';

export type OrgRow = typeof orgs.$inferSelect;
export type NewOrg = typeof orgs.$inferInsert;
export type MembershipRow = typeof memberships.$inferSelect;
export type EntitlementOverrideRow = typeof orgEntitlementOverrides.$inferSelect;

/** Org ids are UUIDs; anything else can match no org. */
export const isOrgId = isUuid;

export function orgsByIds(db: Db, ids: readonly string[]): Promise<OrgRow[]> {
  const valid = ids.filter(isOrgId);
  if (valid.length === 0) return Promise.resolve([]);
  return db.select().from(orgs).where(inArray(orgs.id, valid));
}

export async function orgBySlug(db: Db, slug: string): Promise<OrgRow | undefined> {
  const [row] = await db.select().from(orgs).where(eq(orgs.slug, slug)).limit(1);
  return row;
}

/** Inserts an org; returns undefined when the slug is taken. */
export async function insertOrg(db: Db, org: NewOrg): Promise<OrgRow | undefined> {
  const [row] = await db.insert(orgs).values(org).onConflictDoNothing({ target: orgs.slug }).returning();
  return row;
}

export async function setOrgPlan(
  db: Db,
  params: { orgId: string; planId: string },
): Promise<OrgRow | undefined> {
  const [row] = await db
    .update(orgs)
    .set({ planId: params.planId })
    .where(eq(orgs.id, params.orgId))
    .returning();
  return row;
}

/** Orgs in creation order (then id), after a (createdAt, id) cursor: stable while orgs are added. */
export function orgsPage(
  db: Db,
  params: { limit: number; after?: { createdAt: Date; id: string } | undefined },
): Promise<OrgRow[]> {
  const { after } = params;
  return db
    .select()
    .from(orgs)
    .where(
      after
        ? or(
            gt(orgs.createdAt, after.createdAt),
            and(eq(orgs.createdAt, after.createdAt), gt(orgs.id, after.id)),
          )
        : undefined,
    )
    .orderBy(asc(orgs.createdAt), asc(orgs.id))
    .limit(params.limit);
}

export async function ensureUser(db: Db, userId: string): Promise<void> {
  await db.insert(users).values({ id: userId }).onConflictDoNothing();
}

export function membershipsByUserIds(db: Db, userIds: readonly string[]): Promise<MembershipRow[]> {
  if (userIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(memberships)
    .where(inArray(memberships.userId, [...userIds]))
    .orderBy(asc(memberships.createdAt));
}

export function membershipsByOrgIds(db: Db, orgIds: readonly string[]): Promise<MembershipRow[]> {
  if (orgIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(memberships)
    .where(inArray(memberships.orgId, [...orgIds]))
    .orderBy(asc(memberships.createdAt));
}

/** Adds a member, or changes the role of an existing one. */
export async function upsertMembership(
  db: Db,
  params: { orgId: string; userId: string; role: OrgRole },
): Promise<MembershipRow> {
  const [row] = await db
    .insert(memberships)
    .values(params)
    .onConflictDoUpdate({ target: [memberships.orgId, memberships.userId], set: { role: params.role } })
    .returning();
  return row!;
}

/** Removes a membership; answers the removed row (undefined: there was none). */
export async function deleteMembership(
  db: Db,
  params: { orgId: string; userId: string },
): Promise<MembershipRow | undefined> {
  const [row] = await db
    .delete(memberships)
    .where(and(eq(memberships.orgId, params.orgId), eq(memberships.userId, params.userId)))
    .returning();
  return row;
}

export function overridesByOrgIds(db: Db, orgIds: readonly string[]): Promise<EntitlementOverrideRow[]> {
  if (orgIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(orgEntitlementOverrides)
    .where(inArray(orgEntitlementOverrides.orgId, [...orgIds]));
}
