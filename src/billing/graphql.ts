import { builder } from '../builder.ts';
import { MoneyRef } from '../money-graphql.ts';
import { BillingPeriodRef, OrgRef, requireVisibleOrg } from '../orgs/graphql.ts';
import { MetricRef } from '../plans/graphql.ts';
import { unwrap } from '../result.ts';
import { loadOrgMeters } from '../usage/load-meters.ts';
import { overageLoader } from './overage-loader.ts';
import {
  type OverageLineView,
  type OverageSummaryView,
  summaryOfMeters,
  summaryOfStoredLines,
} from './overage-summary.ts';
import { recalculateOrgOverages } from './recalculate.ts';

const OverageLineRef = builder.objectRef<OverageLineView>('OverageLine').implement({
  fields: (t) => ({
    metric: t.field({ type: MetricRef, resolve: (l) => l.metric }),
    used: t.field({ type: 'SafeInt', resolve: (l) => l.used }),
    threshold: t.field({
      type: 'SafeInt',
      description: 'softLimit ?? included.',
      resolve: (l) => l.threshold,
    }),
    units: t.field({ type: 'SafeInt', description: 'max(0, used - threshold).', resolve: (l) => l.units }),
    unitPrice: t.field({
      type: 'Decimal',
      nullable: true,
      description: 'The PER_UNIT price; null for GRADUATED, VOLUME, PACKAGE and unpriced overage.',
      resolve: (l) => l.unitPrice,
    }),
    cost: t.field({
      type: MoneyRef,
      description:
        'amount exact; rounded (and amountMinor) rounded once, half-up, to what the currency can be charged in: the amount invoiced.',
      resolve: (l) => ({ amount: l.cost, currency: l.currency }),
    }),
  }),
});

export const OverageSummaryRef = builder.objectRef<OverageSummaryView>('OverageSummary').implement({
  fields: (t) => ({
    period: t.field({ type: BillingPeriodRef, resolve: (s) => s.period }),
    lines: t.field({ type: [OverageLineRef], resolve: (s) => s.lines }),
    total: t.field({
      type: MoneyRef,
      description: 'The sum of the lines, each rounded once to the minor unit.',
      resolve: (s) => ({ amount: s.total, currency: s.currency }),
    }),
    calculatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the lines were stored by a recalculation; null: a live preview, not stored yet.',
      resolve: (s) => s.calculatedAt,
    }),
  }),
});

builder.objectFields(OrgRef, (t) => ({
  overages: t.field({
    authScopes: { orgData: 'billing' },
    type: OverageSummaryRef,
    description:
      'Overage lines of the period containing `at` (default: now) as last calculated; a live preview when none are stored.',
    args: { at: t.arg({ type: 'DateTime' }) },
    resolve: async (org, { at }, ctx) => {
      const billingEnabled = ctx.settings.enableOverageBilling;
      const meters = await loadOrgMeters(ctx.loaders, org, at ?? ctx.clock(), billingEnabled);
      const rows = await overageLoader(ctx).load({ orgId: org.id, periodStart: meters.period.start });
      if (rows.length === 0) return summaryOfMeters(meters);
      return summaryOfStoredLines(meters, rows, await ctx.loaders.metrics(), billingEnabled);
    },
  }),
}));

const RecalculateOveragesInput = builder.inputType('RecalculateOveragesInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    at: t.field({ type: 'DateTime', description: 'An instant in the period to recalculate; default: now.' }),
    force: t.boolean({
      defaultValue: false,
      description: 'Recalculate even a closed (invoiced) period.',
    }),
  }),
});

builder.mutationFields((t) => ({
  recalculateOverages: t.field({
    type: builder.simpleObject('RecalculateOveragesPayload', {
      fields: (f) => ({ summary: f.field({ type: OverageSummaryRef }) }),
    }),
    authScopes: { $any: { platformAdmin: true, service: true } },
    args: { input: t.arg({ type: RecalculateOveragesInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireVisibleOrg(ctx, String(input.orgId));
      const now = ctx.clock();
      const billingEnabled = ctx.settings.enableOverageBilling;
      const { meters, rows } = unwrap(
        await recalculateOrgOverages(ctx, {
          org,
          at: input.at ?? now,
          now,
          billingEnabled,
          force: input.force ?? false,
        }),
      );
      return { summary: summaryOfStoredLines(meters, rows, await ctx.loaders.metrics(), billingEnabled) };
    },
  }),
}));
