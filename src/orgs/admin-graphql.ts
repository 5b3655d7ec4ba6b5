import { actorOf } from '../audit/audit.ts';
import { builder } from '../builder.ts';
import { Dec } from '../core/index.ts';
import { MoneyRef } from '../money-graphql.ts';
import { MetricRef, metricByKey } from '../plans/graphql.ts';
import { unwrap } from '../result.ts';
import { OrgRef, requireVisibleOrg } from './graphql.ts';
import type { EntitlementOverrideRow, OrgRow } from './repository.ts';
import { setBudgetCap } from './set-budget-cap.ts';
import { setEntitlementOverride } from './set-entitlement-override.ts';

export const BudgetActionEnum = builder.enumType('BudgetAction', {
  values: ['BLOCK', 'ALERT'] as const,
});

/** `alertedAt` is added by billing/budget-alert-graphql.ts, which owns the budget alerts. */
export const BudgetCapRef = builder.objectRef<{ org: OrgRow }>('BudgetCap').implement({
  description: "An org's cap on its overage cost per period.",
  fields: (t) => ({
    maxOverage: t.field({
      type: MoneyRef,
      resolve: async ({ org }, _args, ctx) => {
        const plan = await ctx.loaders.plan.load(org.planId);
        return { amount: new Dec(org.budgetCap ?? '0'), currency: plan?.currency ?? 'USD' };
      },
    }),
    action: t.field({ type: BudgetActionEnum, resolve: ({ org }) => org.budgetAction ?? 'BLOCK' }),
  }),
});

const EntitlementOverrideRef = builder.objectRef<EntitlementOverrideRow>('EntitlementOverride').implement({
  description: "An org's custom limits for one metric: each null limit inherits the plan's.",
  fields: (t) => ({
    metric: t.field({ type: MetricRef, resolve: (o, _args, ctx) => metricByKey(ctx, o.metricKey) }),
    included: t.field({ type: 'SafeInt', nullable: true, resolve: (o) => o.included }),
    softLimit: t.field({ type: 'SafeInt', nullable: true, resolve: (o) => o.softLimit }),
    hardLimit: t.field({ type: 'SafeInt', nullable: true, resolve: (o) => o.hardLimit }),
    unlimited: t.exposeBoolean('unlimited'),
  }),
});

builder.objectFields(OrgRef, (t) => ({
  budgetCap: t.field({
    authScopes: { orgData: 'billing' },
    type: BudgetCapRef,
    nullable: true,
    description: 'The cap on overage cost per period; null: none.',
    resolve: (org) => (org.budgetCap === null ? null : { org }),
  }),
  entitlementOverrides: t.field({
    authScopes: { orgData: 'billing' },
    type: [EntitlementOverrideRef],
    resolve: (org, _args, ctx) => ctx.loaders.overridesByOrg.load(org.id),
  }),
}));

const SetEntitlementOverrideInput = builder.inputType('SetEntitlementOverrideInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    metric: t.string({ required: true }),
    included: t.field({ type: 'SafeInt', description: "null: the plan's." }),
    softLimit: t.field({ type: 'SafeInt', description: "null: the plan's." }),
    hardLimit: t.field({ type: 'SafeInt', description: "null: the plan's." }),
    unlimited: t.boolean({ description: 'Unlimited whatever the plan says (no limits may be set with it).' }),
    clear: t.boolean({ description: "Remove the override: the plan's entitlement applies again." }),
  }),
});

const SetBudgetCapInput = builder.inputType('SetBudgetCapInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    maxOverage: t.field({
      type: 'Decimal',
      description: "Maximum overage cost per period in the plan's currency; null removes the cap.",
    }),
    action: t.field({ type: BudgetActionEnum, defaultValue: 'BLOCK' }),
  }),
});

builder.mutationFields((t) => ({
  setEntitlementOverride: t.field({
    type: builder.simpleObject('SetEntitlementOverridePayload', {
      fields: (f) => ({
        org: f.field({ type: OrgRef }),
        override: f.field({ type: EntitlementOverrideRef, nullable: true }),
      }),
    }),
    authScopes: { platformAdmin: true },
    description:
      'A custom deal for one org and metric (platform admin, audited): effective = override ?? plan.',
    args: { input: t.arg({ type: SetEntitlementOverrideInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireVisibleOrg(ctx, String(input.orgId));
      const override = unwrap(
        await setEntitlementOverride(
          ctx,
          { ...input, orgId: org.id },
          { actor: actorOf(ctx.principal), at: ctx.clock() },
        ),
      );
      ctx.loaders.overridesByOrg.clear(org.id);
      return { org, override };
    },
  }),
  setBudgetCap: t.field({
    type: builder.simpleObject('SetBudgetCapPayload', {
      fields: (f) => ({ org: f.field({ type: OrgRef }) }),
    }),
    authScopes: { platformAdmin: true },
    description: "Caps an org's overage cost per period (platform admin, audited).",
    args: { input: t.arg({ type: SetBudgetCapInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireVisibleOrg(ctx, String(input.orgId));
      const updated = unwrap(
        await setBudgetCap(
          ctx.db,
          { orgId: org.id, maxOverage: input.maxOverage ?? null, action: input.action },
          { actor: actorOf(ctx.principal), at: ctx.clock() },
        ),
      );
      ctx.loaders.org.clear(org.id).prime(org.id, updated);
      return { org: updated };
    },
  }),
}));
