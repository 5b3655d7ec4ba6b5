import { wholeNumberFrom } from '../argument-ranges.ts';
import { builder } from '../builder.ts';
import { Dec, fromMinorUnits, ZERO } from '../core/index.ts';
import { MoneyRef } from '../money-graphql.ts';
import { OrgRef } from '../orgs/graphql.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { MetricRef, PlanRef } from '../plans/graphql.ts';
import type { MetricRow, PlanRow } from '../plans/repository.ts';
import {
  monthlyRecurringRevenue,
  orgCountsByPlan,
  overageRevenueMinor,
  topOrgsByUsage,
  usageTotals,
} from './overview-repository.ts';

/** The default currency of the figures when no org is on a priced plan yet. */
const DEFAULT_CURRENCY = 'USD';

const PlanCountRef = builder.objectRef<{ plan: PlanRow; count: number }>('PlanCount').implement({
  fields: (t) => ({
    plan: t.field({ type: PlanRef, resolve: (p) => p.plan }),
    count: t.exposeInt('count'),
  }),
});

const MetricTotalRef = builder.objectRef<{ metric: MetricRow; used: bigint }>('MetricTotal').implement({
  fields: (t) => ({
    metric: t.field({ type: MetricRef, resolve: (m) => m.metric }),
    used: t.field({ type: 'SafeInt', resolve: (m) => m.used }),
  }),
});

const OrgRankRef = builder.objectRef<{ org: OrgRow; used: bigint }>('OrgRank').implement({
  fields: (t) => ({
    org: t.field({ type: OrgRef, resolve: (r) => r.org }),
    used: t.field({ type: 'SafeInt', resolve: (r) => r.used }),
  }),
});

/** Each field is one set-based statement, run only when asked for. */
const AdminOverviewRef = builder.objectRef<{ at: Date }>('AdminOverview').implement({
  description: 'The whole platform at an instant; "the period" is each org’s billing period containing it.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', resolve: (o) => o.at }),
    totalOrgs: t.int({
      resolve: async ({ at }, _args, ctx) =>
        (await orgCountsByPlan(ctx.db, at)).reduce((n, p) => n + p.count, 0),
    }),
    orgsByPlan: t.field({
      type: [PlanCountRef],
      resolve: async ({ at }, _args, ctx) => {
        const counts = await orgCountsByPlan(ctx.db, at);
        const plans = await ctx.loaders.plan.loadMany(counts.map((c) => c.planId));
        return counts
          .map((c, i) => ({ plan: plans[i], count: c.count }))
          .filter((c): c is { plan: PlanRow; count: number } => !!c.plan && !(c.plan instanceof Error));
      },
    }),
    mrr: t.field({
      type: MoneyRef,
      description:
        'Monthly recurring revenue: the sum of the base prices of the plans orgs are on (in the currency most orgs pay in).',
      resolve: async ({ at }, _args, ctx) => {
        const [main] = await monthlyRecurringRevenue(ctx.db, at);
        return main
          ? { amount: new Dec(main.amount), currency: main.currency }
          : { amount: ZERO, currency: DEFAULT_CURRENCY };
      },
    }),
    overageRevenue: t.field({
      type: MoneyRef,
      description: 'Overage of the period as last calculated (stored lines), each line rounded once.',
      resolve: async ({ at }, _args, ctx) => {
        const [main] = await monthlyRecurringRevenue(ctx.db, at);
        const currency = main?.currency ?? DEFAULT_CURRENCY;
        const sums = await overageRevenueMinor(ctx.db, at);
        const minor = sums.find((s) => s.currency === currency)?.minor ?? 0n;
        return { amount: fromMinorUnits(minor, currency), currency };
      },
    }),
    usage: t.field({
      type: [MetricTotalRef],
      description: 'Usage of every metric over all orgs in the period.',
      resolve: async ({ at }, _args, ctx) => {
        const [totals, metrics] = await Promise.all([usageTotals(ctx.db, at), ctx.loaders.metrics()]);
        return metrics.map((metric) => ({ metric, used: totals.get(metric.key) ?? 0n }));
      },
    }),
    topOrgs: t.field({
      type: [OrgRankRef],
      args: {
        first: t.arg.int({
          defaultValue: 5,
          validate: wholeNumberFrom(1, 100, 'first must be between 1 and 100.'),
        }),
        metric: t.arg.string({ defaultValue: 'api_calls' }),
      },
      resolve: async ({ at }, args, ctx) => {
        const first = args.first ?? 5;
        const ranks = await topOrgsByUsage(ctx.db, { at, metric: args.metric ?? 'api_calls', first });
        const orgs = await ctx.loaders.org.loadMany(ranks.map((r) => r.orgId));
        return ranks.flatMap((r, i) => {
          const org = orgs[i];
          return org && !(org instanceof Error) ? [{ org, used: r.used }] : [];
        });
      },
    }),
  }),
});

builder.queryFields((t) => ({
  adminOverview: t.field({
    type: AdminOverviewRef,
    description: 'Platform admins: orgs by plan, MRR, overage revenue, usage totals and top orgs.',
    authScopes: { platformAdmin: true },
    args: { at: t.arg({ type: 'DateTime' }) },
    resolve: (_root, { at }, ctx) => ({ at: at ?? ctx.clock() }),
  }),
}));
