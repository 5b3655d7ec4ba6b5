import { actorOf } from '../audit/audit.ts';
import { builder } from '../builder.ts';
import { unwrap } from '../result.ts';
import { EntitlementInput, PlanRef } from './graphql.ts';
import { updatePlan } from './update-plan.ts';

const UpdatePlanInput = builder.inputType('UpdatePlanInput', {
  fields: (t) => ({
    code: t.string({ required: true, description: 'The plan to change (its code never changes).' }),
    name: t.string(),
    basePrice: t.field({ type: 'Decimal' }),
    active: t.boolean({ description: 'false: no new org can be put on the plan; orgs on it stay.' }),
    rateLimitPerMinute: t.int({
      description: "Requests per minute by the org's API keys together; null: no limit.",
    }),
    entitlements: t.field({
      type: [EntitlementInput],
      description: "Each listed metric's entitlement is added or replaced; metrics not listed are kept.",
    }),
    removeMetrics: t.stringList({ description: 'Metrics the plan no longer grants.' }),
  }),
});

builder.mutationFields((t) => ({
  updatePlan: t.field({
    type: builder.simpleObject('UpdatePlanPayload', {
      fields: (f) => ({ plan: f.field({ type: PlanRef }) }),
    }),
    authScopes: { platformAdmin: true },
    description:
      'Changes a plan (platform admin, audited). It applies to every org on the plan for the rest of the open period; closed periods never change.',
    args: { input: t.arg({ type: UpdatePlanInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      plan: unwrap(await updatePlan(ctx.db, input, { actor: actorOf(ctx.principal), at: ctx.clock() })),
    }),
  }),
}));
