import type { MetricAggregation } from './aggregation.ts';
import type { EntitlementOverride } from './entitlements.ts';

/**
 * The catalog as the rules read it: the core's own shapes, not database rows. A row read by the
 * data layer fits them as it is (it has these fields and more), so callers pass rows unchanged.
 */

/**
 * A metered thing (api_calls, seats...): the key clients send in usage events, its display name
 * and unit, and how its period value is aggregated.
 */
export type MetricDefinition = { key: string; name: string; unit: string; aggregation: MetricAggregation };

/**
 * A plan's price tier as stored: decimal strings, `upTo` null for the open last tier, `flatAmount`
 * the fee charged once when the tier is reached (absent or null: none).
 */
export type PriceTierTerms = { upTo: string | null; unitPrice: string; flatAmount?: string | null };

/** What a plan grants of one metric, as stored: quantities as bigints, prices as decimal strings. */
export type PlanEntitlementTerms = {
  metricKey: string;
  /** Included per period; null = unlimited. */
  included: bigint | null;
  softLimit: bigint | null;
  hardLimit: bigint | null;
  overageModel: 'PER_UNIT' | 'GRADUATED' | 'VOLUME' | 'PACKAGE' | null;
  unitPrice: string | null;
  packageSize: bigint | null;
  packagePrice: string | null;
  tiers: PriceTierTerms[] | null;
};

/** An org's custom deal for one metric (see EntitlementOverride), with the metric it is for. */
export type EntitlementOverrideTerms = EntitlementOverride & { metricKey: string };

/** The plan fields pricing reads: its currency (ISO 4217). */
export type PlanTerms = { currency: string };

/** A period counter as read: the metric and its value for the period. */
export type CounterValue = { metricKey: string; value: bigint };

/** What the ledger holds under an event id: the metric and quantity it recorded. */
export type RecordedEvent = { metricKey: string; quantity: bigint };
