import { writeAudit } from '../audit/audit.ts';
import { validateAnchor } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, conflict, notFound } from '../errors.ts';
import { planByCode } from '../plans/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { ensureUser, insertOrg, type OrgRow, upsertMembership } from './repository.ts';

export type CreateOrgInput = {
  name: string;
  slug: string;
  planCode: string;
  billingAnchorDay?: number | null;
  billingTimezone?: string | null;
  /** A user to make OWNER of the new org. */
  ownerUserId?: string | null;
};

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export async function createOrg(
  db: Db,
  input: CreateOrgInput,
  audit: { actor: string; at: Date },
): Promise<Result<OrgRow>> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) return fail(badInput('name must be 1 to 200 characters.'));
  const slug = input.slug.trim();
  if (!SLUG.test(slug)) {
    return fail(
      badInput('slug must be 1-63 lowercase letters, digits or "-", not starting or ending with "-".'),
    );
  }
  const anchorDay = input.billingAnchorDay ?? 1;
  const timeZone = input.billingTimezone ?? 'UTC';
  try {
    validateAnchor(anchorDay, timeZone);
  } catch (error) {
    return fail(badInput((error as Error).message));
  }
  const plan = await planByCode(db, input.planCode);
  if (!plan) return fail(notFound(`Plan ${JSON.stringify(input.planCode)}`));
  if (!plan.active) return fail(badInput(`Plan ${plan.code} is no longer offered.`));
  const org = await db.transaction(async (tx) => {
    const row = await insertOrg(tx, {
      name,
      slug,
      planId: plan.id,
      billingAnchorDay: anchorDay,
      billingTimezone: timeZone,
    });
    if (!row) return row;
    if (input.ownerUserId) {
      await ensureUser(tx, input.ownerUserId);
      await upsertMembership(tx, { orgId: row.id, userId: input.ownerUserId, role: 'OWNER' });
    }
    await writeAudit(tx, {
      ...audit,
      action: 'createOrg',
      target: `org:${row.id}`,
      before: null,
      after: { ...row, planCode: plan.code, ownerUserId: input.ownerUserId ?? null },
    });
    return row;
  });
  if (!org) return fail(conflict(`The slug ${JSON.stringify(slug)} is taken: choose another.`));
  return ok(org);
}
