import { actorOf, writeAudit } from '../audit/audit.ts';
import type { Context } from '../context.ts';
import { notFound } from '../errors.ts';
import { afterCommit, orgAccessChanged } from '../events/after-commit.ts';
import { fail, ok, type Result } from '../result.ts';
import { lockOrgMembers } from './admin-repository.ts';
import { refuseMembershipChange } from './member-rules.ts';
import { deleteMembership, type MembershipRow, membershipsByOrgIds } from './repository.ts';

/**
 * Removes a member from an org (audited in the same transaction), under the rules of
 * `refuseMembershipChange`: only an OWNER (or a platform admin) removes an OWNER or ADMIN, and the
 * last OWNER is never removed. Answers the membership as it was.
 */
export async function removeMember(
  ctx: Pick<Context, 'db' | 'principal' | 'clock' | 'loaders' | 'events'>,
  params: { orgId: string; userId: string },
): Promise<Result<MembershipRow>> {
  const result = await afterCommit(ctx.events, (effects) =>
    ctx.db.transaction(async (tx): Promise<Result<MembershipRow>> => {
      if (!(await lockOrgMembers(tx, params.orgId))) return fail(notFound('Org'));
      const members = await membershipsByOrgIds(tx, [params.orgId]);
      const before = members.find((m) => m.userId === params.userId);
      if (!before) return fail(notFound(`Member ${JSON.stringify(params.userId)}`));
      const refused = refuseMembershipChange(ctx.principal, members, { from: before.role, to: null });
      if (refused) return fail(refused);
      const removed = await deleteMembership(tx, params);
      if (!removed) return fail(notFound(`Member ${JSON.stringify(params.userId)}`));
      await writeAudit(tx, {
        actor: actorOf(ctx.principal),
        action: 'removeMember',
        target: `org:${params.orgId}`,
        before: { userId: removed.userId, role: removed.role },
        after: null,
        at: ctx.clock(),
      });
      // Every instance's live streams of the org check their credential again, so the removed
      // member's subscriptions end.
      effects.publish(orgAccessChanged(removed.orgId));
      return ok(removed);
    }),
  );
  // Requests read memberships afresh, so the member's next HTTP request (or operation on an open
  // socket) already has no access; this request's cached memberships are dropped too.
  if (result.ok) {
    ctx.loaders.membershipsByUser.clear(result.value.userId);
    ctx.loaders.membershipsByOrg.clear(result.value.orgId);
  }
  return result;
}
