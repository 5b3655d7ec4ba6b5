export type OrgRole = 'VIEWER' | 'MEMBER' | 'ADMIN' | 'OWNER';

const rank: Record<OrgRole, number> = { VIEWER: 0, MEMBER: 1, ADMIN: 2, OWNER: 3 };

/** Roles are ordered: an OWNER can do what an ADMIN can, and so on. */
export function roleAtLeast(role: OrgRole, atLeast: OrgRole): boolean {
  return rank[role] >= rank[atLeast];
}
