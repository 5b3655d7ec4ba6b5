import { and, asc, eq, gt, inArray, or } from 'drizzle-orm';
import type { OrgRole } from '../auth/roles.ts';
import type { Db } from '../db/client.ts';
import { isUuid } from '../db/columns.ts';
import type { PlanEntitlementRow } from '../plans/repository.ts';
import { planEntitlements, plans } from '../plans/tables.ts';
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

/** An org as one statement read it, with one of its plan's entitlements and the org's override of it. */
export type OrgEntitlementRow = {
  org: OrgRow;
  /** The catalog version of the org's plan as this statement read it (see db/columns.ts). */
  planVersion: number;
  /** The plan's API-key request rate (requests a minute; null: none). */
  rateLimitPerMinute: number | null;
  /** null: the org's plan has no entitlements (the org still has its row). */
  entitlement: PlanEntitlementRow | null;
  override: EntitlementOverrideRow | null;
};

/**
 * Orgs with the entitlements of the plan each is on now and the org's overrides of them, in one
 * statement, so an org row and what it is entitled to come from the same snapshot (a plan change
 * cannot fall between two reads). At least one row per org. An override of a metric the plan
 * does not list is not read: such a metric is not entitled whatever the override says.
 */
export function orgsWithEntitlements(db: Db, orgIds: readonly string[]): Promise<OrgEntitlementRow[]> {
  const valid = orgIds.filter(isOrgId);
  if (valid.length === 0) return Promise.resolve([]);
  return db
    .select({
      org: orgs,
      planVersion: plans.catalogVersion,
      rateLimitPerMinute: plans.rateLimitPerMinute,
      entitlement: planEntitlements,
      override: orgEntitlementOverrides,
    })
    .from(orgs)
    .innerJoin(plans, eq(plans.id, orgs.planId))
    .leftJoin(planEntitlements, eq(planEntitlements.planId, orgs.planId))
    .leftJoin(
      orgEntitlementOverrides,
      and(
        eq(orgEntitlementOverrides.orgId, orgs.id),
        eq(orgEntitlementOverrides.metricKey, planEntitlements.metricKey),
      ),
    )
    .where(inArray(orgs.id, valid));
}
