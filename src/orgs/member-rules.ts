import { isPlatformAdmin, type Principal } from '../auth/principal.ts';
import type { OrgRole } from '../auth/roles.ts';
import { type AppError, conflict, forbidden } from '../errors.ts';
import type { MembershipRow } from './repository.ts';

/** Roles only an OWNER (or a platform admin) may grant or take away. */
const guarded = (role: OrgRole | null) => role === 'OWNER' || role === 'ADMIN';

/**
 * Whether the caller may move a member from `from` to `to` (null: not a member), given the org's
 * memberships read under the org's lock (so two changes cannot both pass on one stale count):
 * - an ADMIN manages VIEWERs and MEMBERs; granting, changing or removing OWNER or ADMIN needs an
 *   OWNER of the org or a platform admin;
 * - the org always keeps at least one OWNER.
 * Answers the refusal, or undefined when the change is allowed.
 */
export function refuseMembershipChange(
  principal: Principal,
  members: readonly MembershipRow[],
  change: { from: OrgRole | null; to: OrgRole | null },
): AppError | undefined {
  const callerRole =
    principal.kind === 'user' ? members.find((m) => m.userId === principal.userId)?.role : undefined;
  const isOwner = isPlatformAdmin(principal) || callerRole === 'OWNER';
  if ((guarded(change.from) || guarded(change.to)) && !isOwner) {
    return forbidden('Only an OWNER of the org can grant, change or remove the OWNER and ADMIN roles.');
  }
  if (change.from === 'OWNER' && change.to !== 'OWNER') {
    const owners = members.filter((m) => m.role === 'OWNER').length;
    if (owners <= 1) {
      return conflict('An org keeps at least one OWNER: make another member OWNER first.');
    }
  }
  return undefined;
}
