import { builder } from '../builder.ts';
import { notFound } from '../errors.ts';
import { orgIdFromInput } from '../orgs/org-id.ts';
import { MetricRef } from '../plans/graphql.ts';
import { unwrap } from '../result.ts';
import { checkQuota, type QuotaDecisionView } from './check-quota.ts';
import { assertUsageWriter } from './writers.ts';

export const QuotaReasonEnum = builder.enumType('QuotaReason', {
  values: ['WITHIN_INCLUDED', 'OVERAGE', 'UNLIMITED', 'HARD_LIMIT', 'BUDGET_CAP'] as const,
});

export const QuotaDecisionRef = builder.objectRef<QuotaDecisionView>('QuotaDecision').implement({
  fields: (t) => ({
    allowed: t.exposeBoolean('allowed'),
    reason: t.field({ type: QuotaReasonEnum, resolve: (d) => d.reason }),
    metric: t.field({ type: MetricRef, resolve: (d) => d.metric }),
    used: t.field({
      type: 'SafeInt',
      description: "The period's usage after this decision (including what it consumed).",
      resolve: (d) => d.used,
    }),
    limit: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'hardLimit ?? included; null: unlimited.',
      resolve: (d) => d.limit,
    }),
    remaining: t.field({ type: 'SafeInt', nullable: true, resolve: (d) => d.remaining }),
    resetsAt: t.field({ type: 'DateTime', resolve: (d) => d.resetsAt }),
    consumed: t.boolean({
      description:
        'This call counted the quantity (false when only checking, denied, or a replayed idempotency key).',
      resolve: (d) => d.consumed,
    }),
  }),
});

const CheckQuotaInput = builder.inputType('CheckQuotaInput', {
  fields: (t) => ({
    orgId: t.id({ description: 'Required unless the caller is an API key (then: its own org).' }),
    metric: t.string({ required: true }),
    quantity: t.field({
      type: 'SafeInt',
      description:
        'A positive integer; default 1. A COUNT metric counts events: a consumption of it is one event and uses one unit, whatever its quantity.',
    }),
    consume: t.boolean({ defaultValue: false, description: 'Record the quantity as usage when allowed.' }),
    idempotencyKey: t.string({
      description:
        'The usage event id of the consumption: a retry counts once. A key that already recorded another metric or quantity is BAD_USER_INPUT.',
    }),
  }),
});

builder.mutationFields((t) => ({
  checkQuota: t.field({
    type: QuotaDecisionRef,
    authScopes: { authenticated: true },
    description:
      'May the org use `quantity` more of a metric now? Anyone who can see the org may ask (an API key needs USAGE_WRITE); with `consume` (usage writers only) it counts the quantity when allowed, atomically.',
    args: { input: t.arg({ type: CheckQuotaInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { principal } = ctx;
      // An API key's scopes: USAGE_WRITE is the one that grants checkQuota, asking or consuming.
      if (input.consume || principal.kind === 'apiKey') assertUsageWriter(principal);
      const orgId = input.orgId
        ? orgIdFromInput(String(input.orgId))
        : principal.kind === 'apiKey'
          ? principal.orgId
          : undefined;
      const missing = () =>
        notFound(input.orgId ? `Org ${JSON.stringify(input.orgId)}` : 'Org (orgId is required)');
      // Visibility needs only the id; the org row is read with the decision (in its batch).
      if (!orgId || !(await ctx.access.canReadOrg(orgId))) throw missing();
      const result = await checkQuota(ctx, {
        orgId,
        metric: input.metric,
        quantity: input.quantity ?? 1n,
        consume: input.consume ?? false,
        idempotencyKey: input.idempotencyKey,
        now: ctx.clock(),
        billingEnabled: ctx.settings.enableOverageBilling,
      });
      if (!result.ok && result.error.code === 'NOT_FOUND') throw missing();
      const decision = unwrap(result);
      ctx.metrics.quotaDecided({
        metric: decision.metric.key,
        reason: decision.reason,
        allowed: decision.allowed,
        consume: input.consume ?? false,
      });
      return decision;
    },
  }),
}));
