import { builder } from '../builder.ts';
import { forecastUsage, type Money, normalizeCurrency, summarizeOverages } from '../core/index.ts';
import { MoneyRef } from '../money-graphql.ts';
import { PlanRef } from '../plans/graphql.ts';
import { OrgUsageRef } from '../usage/graphql.ts';

/**
 * What a usage page shows above its meters, on the same read (and so in every `usageUpdated`
 * push): the plan the period is metered on and the period's overage totals. The totals are summed
 * here, exactly, as an invoice sums them (each line rounded once), so no client adds amounts.
 */
builder.objectFields(OrgUsageRef, (t) => ({
  plan: t.field({
    type: PlanRef,
    description: "The org's plan, whose entitlements and prices the meters apply.",
    resolve: (u) => u.plan,
  }),
  overageTotal: t.field({
    type: MoneyRef,
    description:
      "The period's overage so far: the metrics' overage costs, each rounded once to the minor unit, summed (as the invoice will sum them).",
    resolve: (u): Money => {
      const currency = normalizeCurrency(u.plan.currency);
      return {
        amount: summarizeOverages(
          u.meters.map((m) => m.line),
          currency,
        ).total,
        currency,
      };
    },
  }),
  projectedOverageTotal: t.field({
    type: MoneyRef,
    description:
      "The metrics' projected overage costs at the period's end (each metric's `forecast`), each rounded once, summed.",
    resolve: (u, _args, ctx): Money => {
      const currency = normalizeCurrency(u.plan.currency);
      const asOf = ctx.clock();
      const lines = u.meters.map(
        (m) =>
          forecastUsage({
            used: m.used,
            aggregation: m.metric.aggregation,
            entitlement: m.entitlement,
            period: m.period,
            asOf,
            currency: m.line.currency,
            billingEnabled: ctx.settings.enableOverageBilling,
          }).line,
      );
      return { amount: summarizeOverages(lines, currency).total, currency };
    },
  }),
}));
