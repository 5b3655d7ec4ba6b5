import { decodeGlobalID } from '@pothos/plugin-relay';
import { mayReadOrgData, type OrgDataPart } from '../auth/org-data.ts';
import type { Context } from '../context.ts';
import { isUuid } from '../db/columns.ts';
import { loadVisibleOrg } from './graphql.ts';
import type { OrgRow } from './repository.ts';

/**
 * The inner id of a Node an org owns (an invoice item, an alert, a webhook endpoint ...): the org
 * and the row's own id, so node(id) reads the row with the org in its where, after checking the
 * caller may read that org's data. Written as a JSON array inside the global id.
 */
export function orgOwnedId(orgId: string, id: string): string {
  return JSON.stringify([orgId, id]);
}

function parseOrgOwnedId(text: string): { orgId: string; id: string } | null {
  try {
    const parts: unknown = JSON.parse(text);
    if (!Array.isArray(parts) || parts.length !== 2) return null;
    const [orgId, id] = parts as unknown[];
    return typeof orgId === 'string' && typeof id === 'string' && isUuid(orgId) && isUuid(id)
      ? { orgId, id }
      : null;
  } catch {
    return null;
  }
}

/**
 * A row id as a mutation's input names it: the global ID of `typename` (answered by the Node's
 * `id`), or the raw UUID. For a global ID, `orgId` is the org it was made for; the caller's use
 * case still filters on the org it acts in. Anything else is null (it can match no row).
 */
export function orgOwnedIdFromInput(input: string, typename: string): { orgId?: string; id: string } | null {
  if (isUuid(input)) return { id: input };
  try {
    const decoded = decodeGlobalID(input);
    return decoded.typename === typename ? parseOrgOwnedId(decoded.id) : null;
  } catch {
    return null;
  }
}

/**
 * node(id) of org-owned rows: each id's row when the caller can see its org, may read `part` of it
 * (when given) and passes `allowed` (for rows a role guards), else null, as for another org's
 * anything.
 */
export function loadOrgOwnedNodes<Row>(
  ctx: Context,
  ids: string[],
  options: {
    part?: OrgDataPart;
    allowed?: (ctx: Context, org: OrgRow) => Promise<boolean> | boolean;
    load: (ctx: Context, key: { orgId: string; id: string }) => Promise<Row | undefined>;
  },
): Promise<(Row | null)[]> {
  return Promise.all(
    ids.map(async (text) => {
      const key = parseOrgOwnedId(text);
      if (!key || (options.part && !mayReadOrgData(ctx.principal, options.part))) return null;
      const org = await loadVisibleOrg(ctx, key.orgId);
      if (!org || (options.allowed && !(await options.allowed(ctx, org)))) return null;
      return (await options.load(ctx, key)) ?? null;
    }),
  );
}
