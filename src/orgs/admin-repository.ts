import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import type { EntitlementOverrideRow, OrgRow } from './repository.ts';
import { orgEntitlementOverrides, orgs } from './tables.ts';

/** The org, locked until the caller's transaction ends. */
export async function lockOrg(db: Db, orgId: string): Promise<OrgRow | undefined> {
  const [row] = await db.select().from(orgs).where(eq(orgs.id, orgId)).for('update');
  return row;
}

/**
 * Locks the org's row against other membership changes until the caller's transaction ends.
 * NO KEY UPDATE: it serializes the changes of one org's members without blocking the inserts of
 * rows that reference the org (their foreign-key checks take KEY SHARE).
 */
export async function lockOrgMembers(db: Db, orgId: string): Promise<boolean> {
  const rows = await db.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, orgId)).for('no key update');
  return rows.length > 0;
}

export async function overrideOf(
  db: Db,
  params: { orgId: string; metricKey: string },
): Promise<EntitlementOverrideRow | undefined> {
  const [row] = await db
    .select()
    .from(orgEntitlementOverrides)
    .where(
      and(
        eq(orgEntitlementOverrides.orgId, params.orgId),
        eq(orgEntitlementOverrides.metricKey, params.metricKey),
      ),
    );
  return row;
}

export async function upsertOverride(
  db: Db,
  row: Omit<EntitlementOverrideRow, 'updatedAt'> & { updatedAt: Date },
): Promise<EntitlementOverrideRow> {
  const { orgId, metricKey, ...limits } = row;
  const [saved] = await db
    .insert(orgEntitlementOverrides)
    .values(row)
    .onConflictDoUpdate({
      target: [orgEntitlementOverrides.orgId, orgEntitlementOverrides.metricKey],
      set: limits,
    })
    .returning();
  return saved!;
}

export async function deleteOverride(db: Db, params: { orgId: string; metricKey: string }): Promise<void> {
  await db
    .delete(orgEntitlementOverrides)
    .where(
      and(
        eq(orgEntitlementOverrides.orgId, params.orgId),
        eq(orgEntitlementOverrides.metricKey, params.metricKey),
      ),
    );
}

export async function setOrgBudget(
  db: Db,
  params: { orgId: string; budgetCap: string | null; budgetAction: 'BLOCK' | 'ALERT' | null },
): Promise<OrgRow> {
  const [row] = await db
    .update(orgs)
    .set({ budgetCap: params.budgetCap, budgetAction: params.budgetAction })
    .where(eq(orgs.id, params.orgId))
    .returning();
  return row!;
}
