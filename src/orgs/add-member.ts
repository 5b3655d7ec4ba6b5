import { actorOf, writeAudit } from '../admin/audit.ts';
import type { OrgRole } from '../auth/roles.ts';
import type { Context } from '../context.ts';
import { badInput, forbidden } from '../errors.ts';
import { orgAccessChanged } from '../live/access-changes.ts';
import { fail, ok, type Result } from '../result.ts';
import { ensureUser, type MembershipRow, membershipsByUserIds, upsertMembership } from './repository.ts';

/**
 * Adds a member to an org or changes their role. Only an OWNER (or a platform admin) may make
 * someone OWNER; ADMINs may add VIEWER, MEMBER and ADMIN.
 */
export async function addMember(
  ctx: Pick<Context, 'db' | 'access' | 'principal' | 'clock' | 'live'>,
  params: { orgId: string; userId: string; role: OrgRole },
): Promise<Result<MembershipRow>> {
  const userId = params.userId.trim();
  if (userId.length === 0 || userId.length > 200)
    return fail(badInput('userId must be 1 to 200 characters.'));
  if (params.role === 'OWNER' && !(await ctx.access.hasOrgRole(params.orgId, 'OWNER'))) {
    return fail(forbidden('Only an OWNER of the org can add another OWNER.'));
  }
  const membership = await ctx.db.transaction(async (tx) => {
    await ensureUser(tx, userId);
    const before = (await membershipsByUserIds(tx, [userId])).find((m) => m.orgId === params.orgId) ?? null;
    const after = await upsertMembership(tx, { orgId: params.orgId, userId, role: params.role });
    await writeAudit(tx, {
      actor: actorOf(ctx.principal),
      action: 'addMember',
      target: `org:${params.orgId}`,
      before: before && { userId, role: before.role },
      after: { userId, role: after.role },
      at: ctx.clock(),
    });
    return after;
  });
  // A role change can take away what a live stream of the org was allowed (and a removal does).
  orgAccessChanged(ctx, params.orgId);
  return ok(membership);
}
