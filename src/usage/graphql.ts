import { MoneyRef } from '../billing/money-graphql.ts';
import { builder } from '../builder.ts';
import { BillingPeriodRef, OrgRef } from '../orgs/graphql.ts';
import { MetricRef } from '../plans/graphql.ts';
import { loadOrgMeters, type OrgMeters } from './load-meters.ts';
import type { Meter } from './meters.ts';

export const MetricUsageRef = builder.objectRef<Meter>('MetricUsage').implement({
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

export const OrgUsageRef = builder.objectRef<OrgMeters & { asOf: Date }>('OrgUsage').implement({
  fields: (t) => ({
    period: t.field({ type: BillingPeriodRef, resolve: (u) => u.period }),
    metrics: t.field({ type: [MetricUsageRef], resolve: (u) => u.meters }),
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
