import { actorOf, writeAudit } from '../audit/audit.ts';
import type { OrgRole } from '../auth/roles.ts';
import type { Context } from '../context.ts';
import { badInput, notFound } from '../errors.ts';
import { afterCommit, orgAccessChanged } from '../events/after-commit.ts';
import { fail, ok, type Result } from '../result.ts';
import { lockOrgMembers } from './admin-repository.ts';
import { refuseMembershipChange } from './member-rules.ts';
import { ensureUser, type MembershipRow, membershipsByOrgIds, upsertMembership } from './repository.ts';

/**
 * Adds a member to an org or changes their role (audited). The caller's role, the member's role
 * before and the org's OWNERs are read holding the org's member lock, so the rules of
 * `refuseMembershipChange` hold against concurrent changes (two demotions of the last two OWNERs:
 * one of them is refused).
 */
export async function addMember(
  ctx: Pick<Context, 'db' | 'principal' | 'clock' | 'events'>,
  params: { orgId: string; userId: string; role: OrgRole },
): Promise<Result<MembershipRow>> {
  const userId = params.userId.trim();
  if (userId.length === 0 || userId.length > 200)
    return fail(badInput('userId must be 1 to 200 characters.'));
  return afterCommit(ctx.events, (effects) =>
    ctx.db.transaction(async (tx): Promise<Result<MembershipRow>> => {
      if (!(await lockOrgMembers(tx, params.orgId))) return fail(notFound('Org'));
      const members = await membershipsByOrgIds(tx, [params.orgId]);
      const before = members.find((m) => m.userId === userId) ?? null;
      const refused = refuseMembershipChange(ctx.principal, members, {
        from: before?.role ?? null,
        to: params.role,
      });
      if (refused) return fail(refused);
      await ensureUser(tx, userId);
      const after = await upsertMembership(tx, { orgId: params.orgId, userId, role: params.role });
      await writeAudit(tx, {
        actor: actorOf(ctx.principal),
        action: 'addMember',
        target: `org:${params.orgId}`,
        before: before && { userId, role: before.role },
        after: { userId, role: after.role },
        at: ctx.clock(),
      });
      // A role change can take away what a live stream of the org was allowed.
      effects.publish(orgAccessChanged(params.orgId));
      return ok(after);
    }),
  );
}
