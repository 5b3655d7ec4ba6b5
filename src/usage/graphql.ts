import { mayReadOrgData } from '../auth/org-data.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import type { Meter } from '../core/index.ts';
import { MoneyRef } from '../money-graphql.ts';
import { BillingPeriodRef, loadVisibleOrg, OrgRef } from '../orgs/graphql.ts';
import { MetricRef } from '../plans/graphql.ts';
import { loadOrgMeters, type OrgMeters } from './load-meters.ts';

type OrgUsage = OrgMeters & { asOf: Date };
type MetricUsage = Meter & { orgId: string };

/**
 * The identity of an org's usage: the org and its period's start (another period is another
 * object, so `usage(at:)` of last month never overwrites this month's in a client's cache). A
 * metric's usage adds the metric's key. Written as a JSON array inside the global id.
 */
type UsageKey = { orgId: string; periodStart: Date; metric?: string };

function usageKey(key: UsageKey): string {
  const parts = [key.orgId, key.periodStart.toISOString()];
  return JSON.stringify(key.metric === undefined ? parts : [...parts, key.metric]);
}

function parseUsageKey(text: string): UsageKey | null {
  try {
    const parts: unknown = JSON.parse(text);
    if (!Array.isArray(parts) || !parts.every((p) => typeof p === 'string')) return null;
    const [orgId, start, metric] = parts as string[];
    const periodStart = new Date(start ?? '');
    if (!orgId || Number.isNaN(periodStart.getTime()) || parts.length > 3) return null;
    return { orgId, periodStart, metric };
  } catch {
    return null;
  }
}

/**
 * node(id) of an OrgUsage or MetricUsage: the usage of the period the id names, for a caller who
 * may read the org's usage (as Org.usage: an API key needs USAGE_READ); anything else is null.
 */
async function loadUsageNode(ctx: Context, text: string): Promise<OrgUsage | null> {
  const key = parseUsageKey(text);
  if (!key || !mayReadOrgData(ctx.principal, 'usage')) return null;
  const org = await loadVisibleOrg(ctx, key.orgId);
  if (!org) return null;
  const asOf = ctx.clock();
  const usage = await loadOrgMeters(ctx.loaders, org, key.periodStart, ctx.settings.enableOverageBilling);
  // The org's anchor or time zone changed since the id was made: that period no longer exists.
  return usage.period.start.getTime() === key.periodStart.getTime() ? { ...usage, asOf } : null;
}

export const MetricUsageRef = builder.loadableNodeRef('MetricUsage', {
  id: {
    resolve: (m: MetricUsage) =>
      usageKey({ orgId: m.orgId, periodStart: m.period.start, metric: m.metric.key }),
  },
  load: (ids: string[], ctx: Context) =>
    Promise.all(
      ids.map(async (id) => {
        const metric = parseUsageKey(id)?.metric;
        const usage = metric === undefined ? null : await loadUsageNode(ctx, id);
        const meter = usage?.meters.find((m) => m.metric.key === metric);
        return meter && usage ? { ...meter, orgId: usage.org.id } : null;
      }),
    ),
});

export const OrgUsageRef = builder.loadableNodeRef('OrgUsage', {
  id: { resolve: (u: OrgUsage) => usageKey({ orgId: u.org.id, periodStart: u.period.start }) },
  load: (ids: string[], ctx: Context) =>
    Promise.all(ids.map((id) => (parseUsageKey(id)?.metric === undefined ? loadUsageNode(ctx, id) : null))),
});

MetricUsageRef.implement({
  description: "One metric's usage in a billing period, live from the usage counters.",
  fields: (t) => ({
    metric: t.field({ type: MetricRef, resolve: (m) => m.metric }),
    used: t.field({ type: 'SafeInt', resolve: (m) => m.used }),
    included: t.field({ type: 'SafeInt', nullable: true, resolve: (m) => m.entitlement.included }),
    softLimit: t.field({ type: 'SafeInt', nullable: true, resolve: (m) => m.entitlement.softLimit }),
    hardLimit: t.field({ type: 'SafeInt', nullable: true, resolve: (m) => m.entitlement.hardLimit }),
    remaining: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Units left before the hard limit (or the included amount); null when unlimited.',
      resolve: (m) => m.remaining,
    }),
    percentUsed: t.float({
      nullable: true,
      description: 'used / included x 100, two decimals; null when unlimited.',
      resolve: (m) => m.percentUsed,
    }),
    overageUnits: t.field({ type: 'SafeInt', resolve: (m) => m.line.units }),
    overageCost: t.field({ type: MoneyRef, resolve: (m) => m.overageCost }),
    blocked: t.boolean({
      description: 'The hard limit is reached: more usage is denied.',
      resolve: (m) => m.blocked,
    }),
    resetsAt: t.field({ type: 'DateTime', resolve: (m) => m.period.end }),
  }),
});

OrgUsageRef.implement({
  description:
    "An org's usage in one billing period. Its id names the org and the period, so a usageUpdated push updates the object a client cached from Org.usage.",
  fields: (t) => ({
    period: t.field({ type: BillingPeriodRef, resolve: (u) => u.period }),
    metrics: t.field({
      type: [MetricUsageRef],
      resolve: (u) => u.meters.map((m) => ({ ...m, orgId: u.org.id })),
    }),
    asOf: t.field({ type: 'DateTime', resolve: (u) => u.asOf }),
  }),
});

builder.objectFields(OrgRef, (t) => ({
  usage: t.field({
    authScopes: { orgData: 'usage' },
    type: OrgUsageRef,
    description: 'Usage in the billing period containing `at` (default: now), live from the counters.',
    args: { at: t.arg({ type: 'DateTime' }) },
    resolve: async (org, { at }, ctx) => {
      const asOf = ctx.clock();
      const meters = await loadOrgMeters(ctx.loaders, org, at ?? asOf, ctx.settings.enableOverageBilling);
      return { ...meters, asOf };
    },
  }),
}));
