import { wholeNumberFrom } from '../argument-ranges.ts';
import { builder } from '../builder.ts';
import { daysEndingWith, forecastUsage, localDay, type UsageForecast } from '../core/index.ts';
import { badInput } from '../errors.ts';
import { MoneyRef } from '../money-graphql.ts';
import { OrgRef } from '../orgs/graphql.ts';
import { MetricUsageRef } from '../usage/graphql.ts';
import { busiestEndpoints, dailyTotals } from './repository.ts';

const DailyUsageRef = builder
  .objectRef<{ day: string; used: bigint; events: bigint }>('DailyUsage')
  .implement({
    fields: (t) => ({
      day: t.exposeString('day', { description: "YYYY-MM-DD, in the org's billing time zone." }),
      used: t.field({ type: 'SafeInt', resolve: (d) => d.used }),
      events: t.field({ type: 'SafeInt', resolve: (d) => d.events }),
    }),
  });

const EndpointUsageRef = builder
  .objectRef<{ endpoint: string; used: bigint; events: bigint }>('EndpointUsage')
  .implement({
    fields: (t) => ({
      endpoint: t.exposeString('endpoint'),
      used: t.field({ type: 'SafeInt', resolve: (e) => e.used }),
      events: t.field({ type: 'SafeInt', resolve: (e) => e.events }),
    }),
  });

const UsageForecastRef = builder.objectRef<UsageForecast>('UsageForecast').implement({
  description: "A straight-line projection of the period so far to the period's end.",
  fields: (t) => ({
    projectedUsed: t.field({ type: 'SafeInt', resolve: (f) => f.projectedUsed }),
    projectedOverageUnits: t.field({ type: 'SafeInt', resolve: (f) => f.line.units }),
    projectedOverageCost: t.field({
      type: MoneyRef,
      resolve: (f) => ({ amount: f.line.cost, currency: f.line.currency }),
    }),
    periodElapsed: t.float({
      description: 'Share of the period gone by, 0 to 1.',
      resolve: (f) => f.elapsed,
    }),
  }),
});

builder.objectFields(OrgRef, (t) => ({
  usageHistory: t.field({
    authScopes: { orgData: 'usage' },
    type: [DailyUsageRef],
    description:
      "A metric's daily usage over the last `days` days (today included, the org's time zone); days without usage are zero. `used` aggregates as the metric does: a SUM metric's quantities, a COUNT metric's events, a MAX metric's largest reading of the day, a LATEST metric's latest reading of the day.",
    args: {
      metric: t.arg.string({ required: true }),
      days: t.arg.int({
        defaultValue: 30,
        validate: wholeNumberFrom(1, 366, 'days must be a whole number from 1 to 366.'),
      }),
    },
    resolve: async (org, args, ctx) => {
      const count = args.days ?? 30;
      const metric = (await ctx.loaders.metrics()).find((m) => m.key === args.metric);
      if (!metric) throw badInput(`Unknown metric ${JSON.stringify(args.metric)}.`);
      const days = daysEndingWith(localDay(ctx.clock(), org.billingTimezone), count);
      const rows = await dailyTotals(ctx.db, {
        orgId: org.id,
        metric: metric.key,
        aggregation: metric.aggregation,
        timeZone: org.billingTimezone,
        fromDay: days[0]!,
        toDay: days.at(-1)!,
      });
      const byDay = new Map(rows.map((r) => [r.day, r]));
      return days.map((day) => byDay.get(day) ?? { day, used: 0n, events: 0n });
    },
  }),
  topEndpoints: t.field({
    authScopes: { orgData: 'usage' },
    type: [EndpointUsageRef],
    description:
      "The endpoints (events' properties.endpoint) with the most usage over the last `days` days: the quantities of SUM metrics and the events of COUNT metrics; readings of MAX and LATEST metrics (levels such as seats) count in `events` only.",
    args: {
      days: t.arg.int({
        defaultValue: 7,
        validate: wholeNumberFrom(1, 366, 'days must be a whole number from 1 to 366.'),
      }),
      first: t.arg.int({
        defaultValue: 5,
        validate: wholeNumberFrom(1, 100, 'first must be a whole number from 1 to 100.'),
      }),
      metric: t.arg.string({ description: 'Only this metric; default: all metrics.' }),
    },
    resolve: async (org, args, ctx) => {
      const days = daysEndingWith(localDay(ctx.clock(), org.billingTimezone), args.days ?? 7);
      return busiestEndpoints(ctx.db, {
        orgId: org.id,
        metric: args.metric ?? null,
        fromDay: days[0]!,
        toDay: days.at(-1)!,
        first: args.first ?? 5,
      });
    },
  }),
}));

builder.objectFields(MetricUsageRef, (t) => ({
  forecast: t.field({
    type: UsageForecastRef,
    description: "Projected usage and overage cost at the period's end, from the period so far.",
    resolve: (m, _args, ctx) =>
      forecastUsage({
        used: m.used,
        aggregation: m.metric.aggregation,
        entitlement: m.entitlement,
        period: m.period,
        asOf: ctx.clock(),
        currency: m.line.currency,
        billingEnabled: ctx.settings.enableOverageBilling,
      }),
  }),
}));
