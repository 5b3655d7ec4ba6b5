import { mayReadOrgData } from '../auth/org-data.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { forbidden } from '../errors.ts';
import { requireVisibleOrg } from '../orgs/graphql.ts';
import { OrgUsageRef } from '../usage/graphql.ts';
import type { OrgUsageSnapshot } from '../usage/read-usage.ts';
import { guardLiveStream, type Lapse, unlessLapsed } from './credential-guard.ts';

/**
 * Who may watch an org live: its members, platform admins, the platform's services, and its own
 * API keys holding USAGE_READ. Another org reads as NOT_FOUND, as everywhere.
 */
export async function authorizeLiveOrg(ctx: Context, orgIdInput: string) {
  const org = await requireVisibleOrg(ctx, orgIdInput);
  if (!mayReadOrgData(ctx.principal, 'usage')) {
    throw forbidden('Watching usage needs an API key with the USAGE_READ scope.');
  }
  return org;
}

builder.subscriptionFields((t) => ({
  usageUpdated: t.field({
    type: OrgUsageRef,
    description:
      "The org's usage in the current period: first the current state, then after every committed change (ingestion, a consuming quota check, a recalculation, a plan change). Bursts are coalesced: latest state wins, a few pushes a second at most; `asOf` is the read's watermark.",
    authScopes: { authenticated: true },
    args: { orgId: t.arg.id({ required: true }) },
    subscribe: async (_root, { orgId }, ctx) => {
      const org = await authorizeLiveOrg(ctx, String(orgId));
      return guardLiveStream(ctx, org.id, ctx.live.usage.subscribe(org.id));
    },
    resolve: (snapshot: OrgUsageSnapshot | Lapse) => unlessLapsed(snapshot),
  }),
}));
