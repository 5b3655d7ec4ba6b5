import type { Principal } from './principal.ts';

/** The parts of an org a caller who can see it may read, each as its own grant. */
export type OrgDataPart = 'usage' | 'billing' | 'members';

/**
 * Reading a part of an org the caller can already see: users, services and admins may (the org is
 * visible to them); an API key needs USAGE_READ for usage, BILLING_READ for billing, and never
 * reads members. The `orgData` auth scope and every node(id) of org data ask this.
 */
export function mayReadOrgData(principal: Principal, part: OrgDataPart): boolean {
  if (principal.kind !== 'apiKey') return true;
  if (part === 'members') return false;
  return principal.scopes.includes(part === 'usage' ? 'USAGE_READ' : 'BILLING_READ');
}
