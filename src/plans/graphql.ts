import { actorOf } from '../audit/audit.ts';
import { builder } from '../builder.ts';
import { Dec, overagePriceOf, type PriceTier, tiersOf } from '../core/index.ts';
import { unauthenticated } from '../errors.ts';
import { MoneyRef } from '../money-graphql.ts';
import { unwrap } from '../result.ts';
import { createPlan } from './create-plan.ts';
import { listPlans, type MetricRow, type PlanEntitlementRow, type PlanRow } from './repository.ts';

export const MetricAggregationEnum = builder.enumType('MetricAggregation', {
  values: ['SUM', 'COUNT', 'MAX', 'LATEST'] as const,
});

export const PricingModelEnum = builder.enumType('PricingModel', {
  values: ['PER_UNIT', 'GRADUATED', 'PACKAGE', 'VOLUME'] as const,
});

export const MetricRef = builder.objectRef<MetricRow>('Metric').implement({
  fields: (t) => ({
    key: t.exposeString('key'),
    name: t.exposeString('name'),
    unit: t.exposeString('unit'),
    aggregation: t.expose('aggregation', { type: MetricAggregationEnum }),
  }),
});

/** Loads a metric by key through the request's metric list (read once per request). */
export async function metricByKey(ctx: { loaders: { metrics(): Promise<MetricRow[]> } }, key: string) {
  const metric = (await ctx.loaders.metrics()).find((m) => m.key === key);
  if (!metric) throw new Error(`Unknown metric ${key}`);
  return metric;
}

const PriceTierRef = builder.objectRef<PriceTier>('PriceTier').implement({
  fields: (t) => ({
    upTo: t.field({ type: 'SafeInt', nullable: true, resolve: (tier) => tier.upTo }),
    unitPrice: t.field({ type: 'Decimal', resolve: (tier) => tier.unitPrice }),
    flatAmount: t.field({
      type: 'Decimal',
      nullable: true,
      description: 'A fee charged once when the tier is reached (one overage unit in it); null: none.',
      resolve: (tier) => tier.flatAmount ?? null,
    }),
  }),
});

export const OveragePriceRef = builder.objectRef<PlanEntitlementRow>('OveragePrice').implement({
  description: 'How usage past the threshold (softLimit ?? included) is priced.',
  fields: (t) => ({
    model: t.field({ type: PricingModelEnum, resolve: (e) => e.overageModel! }),
    unitPrice: t.field({
      type: 'Decimal',
      nullable: true,
      resolve: (e) => (e.unitPrice === null ? null : new Dec(e.unitPrice)),
    }),
    packageSize: t.field({ type: 'SafeInt', nullable: true, resolve: (e) => e.packageSize }),
    packagePrice: t.field({
      type: 'Decimal',
      nullable: true,
      resolve: (e) => (e.packagePrice === null ? null : new Dec(e.packagePrice)),
    }),
    tiers: t.field({
      type: [PriceTierRef],
      nullable: true,
      resolve: (e) => tiersOf(overagePriceOf(e)),
    }),
  }),
});

export const EntitlementRef = builder.objectRef<PlanEntitlementRow>('Entitlement').implement({
  fields: (t) => ({
    metric: t.field({ type: MetricRef, resolve: (e, _args, ctx) => metricByKey(ctx, e.metricKey) }),
    included: t.field({ type: 'SafeInt', nullable: true, resolve: (e) => e.included }),
    softLimit: t.field({ type: 'SafeInt', nullable: true, resolve: (e) => e.softLimit }),
    hardLimit: t.field({ type: 'SafeInt', nullable: true, resolve: (e) => e.hardLimit }),
    overagePrice: t.field({
      type: OveragePriceRef,
      nullable: true,
      resolve: (e) => (e.overageModel === null ? null : e),
    }),
  }),
});

export const PlanRef = builder.loadableNodeRef<PlanRow, string, string>('Plan', {
  id: { resolve: (plan) => plan.id },
  // The catalog is for signed-in callers (as `plans` is), also through node(id).
  load: (ids: string[], ctx) => {
    if (ctx.principal.kind === 'anonymous') return Promise.resolve(ids.map(() => unauthenticated())) as never;
    return ctx.loaders.plan.loadMany(ids).then((rows) => rows.map((r) => r ?? null)) as never;
  },
});

PlanRef.implement({
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'rateLimitPerMinute' in value,
  fields: (t) => ({
    code: t.exposeString('code'),
    name: t.exposeString('name'),
    basePrice: t.field({
      type: MoneyRef,
      resolve: (plan) => ({ amount: new Dec(plan.basePrice), currency: plan.currency }),
    }),
    currency: t.exposeString('currency'),
    active: t.exposeBoolean('active'),
    rateLimitPerMinute: t.exposeInt('rateLimitPerMinute', {
      nullable: true,
      description:
        "Requests per minute by an org's API keys together (one count per org, whatever its number of keys); null: no request-rate limit.",
    }),
    entitlements: t.field({
      type: [EntitlementRef],
      resolve: (plan, _args, ctx) => ctx.loaders.entitlementsByPlan.load(plan.id),
    }),
  }),
});

builder.queryFields((t) => ({
  plans: t.field({
    type: [PlanRef],
    authScopes: { authenticated: true },
    description: 'The plan catalog.',
    resolve: (_root, _args, ctx) => listPlans(ctx.db),
  }),
  metrics: t.field({
    type: [MetricRef],
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => ctx.loaders.metrics(),
  }),
}));

const PriceTierInput = builder.inputType('PriceTierInput', {
  fields: (t) => ({
    upTo: t.field({ type: 'SafeInt', description: 'Last overage unit of this tier; null: no end.' }),
    unitPrice: t.field({ type: 'Decimal', required: true }),
    flatAmount: t.field({
      type: 'Decimal',
      description: 'A fee charged once when the tier is reached (GRADUATED and VOLUME); null: none.',
    }),
  }),
});

export const OveragePriceInput = builder.inputType('OveragePriceInput', {
  fields: (t) => ({
    model: t.field({ type: PricingModelEnum, required: true }),
    unitPrice: t.field({ type: 'Decimal' }),
    packageSize: t.field({ type: 'SafeInt' }),
    packagePrice: t.field({ type: 'Decimal' }),
    tiers: t.field({ type: [PriceTierInput] }),
  }),
});

export const EntitlementInput = builder.inputType('EntitlementInput', {
  fields: (t) => ({
    metric: t.string({ required: true }),
    included: t.field({ type: 'SafeInt', description: 'Included per period; null: unlimited.' }),
    softLimit: t.field({ type: 'SafeInt' }),
    hardLimit: t.field({ type: 'SafeInt' }),
    overage: t.field({ type: OveragePriceInput }),
  }),
});

const CreatePlanInput = builder.inputType('CreatePlanInput', {
  fields: (t) => ({
    code: t.string({ required: true }),
    name: t.string({ required: true }),
    basePrice: t.field({ type: 'Decimal', required: true }),
    currency: t.string({ defaultValue: 'USD' }),
    entitlements: t.field({ type: [EntitlementInput], required: true }),
    rateLimitPerMinute: t.int(),
  }),
});

const CreatePlanPayload = builder.simpleObject('CreatePlanPayload', {
  fields: (t) => ({ plan: t.field({ type: PlanRef }) }),
});

builder.mutationFields((t) => ({
  createPlan: t.field({
    type: CreatePlanPayload,
    authScopes: { platformAdmin: true },
    args: { input: t.arg({ type: CreatePlanInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      plan: unwrap(await createPlan(ctx.db, input, { actor: actorOf(ctx.principal), at: ctx.clock() })),
    }),
  }),
}));
