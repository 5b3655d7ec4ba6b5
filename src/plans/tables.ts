import { sql } from 'drizzle-orm';
import { boolean, check, integer, jsonb, pgEnum, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { catalogVersion, decimalAmount, instant, quantity } from '../db/columns.ts';

export const metricAggregation = pgEnum('metric_aggregation', ['SUM', 'COUNT', 'MAX', 'LATEST']);
export const pricingModel = pgEnum('pricing_model', ['PER_UNIT', 'GRADUATED', 'PACKAGE', 'VOLUME']);

/** The metered things (api_calls, tokens, ...). The key is what clients send in usage events. */
export const metrics = pgTable('metrics', {
  key: text('key').primaryKey(),
  name: text('name').notNull(),
  unit: text('unit').notNull(),
  aggregation: metricAggregation('aggregation').notNull(),
});

export const plans = pgTable(
  'plans',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    code: text('code').notNull().unique(),
    name: text('name').notNull(),
    /** Base price per month, exact, in `currency` (not minor units). */
    basePrice: decimalAmount('base_price').notNull(),
    currency: text('currency').notNull().default('USD'),
    /** Request rate of an org's API keys together: requests per minute. Null: no request-rate limit. */
    rateLimitPerMinute: integer('rate_limit_per_minute'),
    active: boolean('active').notNull().default(true),
    createdAt: instant('created_at').notNull().defaultNow(),
    /** Moves on every update of the row and of the plan's entitlements (see catalogVersion). */
    catalogVersion: catalogVersion(),
  },
  (t) => [check('plans_base_price_non_negative', sql`${t.basePrice} >= 0`)],
);

/**
 * A price tier as stored in `plan_entitlements.tiers` (GRADUATED and VOLUME): decimal strings,
 * `upTo` null for the open last tier, `flatAmount` the fee once the tier is reached (absent: none).
 */
export type StoredPriceTier = { upTo: string | null; unitPrice: string; flatAmount?: string };

export const planEntitlements = pgTable(
  'plan_entitlements',
  {
    planId: uuid('plan_id')
      .notNull()
      .references(() => plans.id, { onDelete: 'cascade' }),
    metricKey: text('metric_key')
      .notNull()
      .references(() => metrics.key),
    /** Included per period; null = unlimited. */
    included: quantity('included'),
    softLimit: quantity('soft_limit'),
    hardLimit: quantity('hard_limit'),
    overageModel: pricingModel('overage_model'),
    unitPrice: decimalAmount('unit_price'),
    packageSize: quantity('package_size'),
    packagePrice: decimalAmount('package_price'),
    tiers: jsonb('tiers').$type<StoredPriceTier[]>(),
  },
  (t) => [primaryKey({ columns: [t.planId, t.metricKey] })],
);
