import type { EntitlementOverrideTerms, PlanEntitlementTerms, PriceTierTerms } from './catalog.ts';
import { Dec } from './money.ts';
import { type Entitlement, effectiveEntitlement } from './overage.ts';
import type { PriceTier } from './price-tiers.ts';
import type { OveragePrice } from './pricing.ts';

/** The overage price stored on a plan entitlement row, as the billing core's value. */
export function overagePriceOf(row: PlanEntitlementTerms): OveragePrice | null {
  switch (row.overageModel) {
    case null:
      return null;
    case 'PER_UNIT':
      return { model: 'PER_UNIT', unitPrice: new Dec(row.unitPrice ?? '0') };
    case 'PACKAGE':
      return {
        model: 'PACKAGE',
        packageSize: row.packageSize ?? 1n,
        packagePrice: new Dec(row.packagePrice ?? '0'),
      };
    case 'GRADUATED':
    case 'VOLUME':
      return { model: row.overageModel, tiers: (row.tiers ?? []).map(priceTierOf) };
  }
}

/** A stored tier as the core's value; a tier stored without a fee has none (not a fee of 0). */
function priceTierOf(t: PriceTierTerms): PriceTier {
  const tier = { upTo: t.upTo === null ? null : BigInt(t.upTo), unitPrice: new Dec(t.unitPrice) };
  return t.flatAmount === undefined || t.flatAmount === null
    ? tier
    : { ...tier, flatAmount: new Dec(t.flatAmount) };
}

/** A plan's entitlement row as the billing core's value. */
export function planEntitlementOf(row: PlanEntitlementTerms): Entitlement {
  return {
    included: row.included,
    softLimit: row.softLimit,
    hardLimit: row.hardLimit,
    overagePrice: overagePriceOf(row),
  };
}

/** The entitlement in force for an org: its override, where it has one, over the plan's. */
export function orgEntitlementOf(
  row: PlanEntitlementTerms,
  override: EntitlementOverrideTerms | undefined,
): Entitlement {
  return effectiveEntitlement(planEntitlementOf(row), override ?? null);
}

/** A plan that does not list a metric grants none of it: usage is denied and never billed. */
export const NOT_ENTITLED: Entitlement = { included: 0n, softLimit: null, hardLimit: 0n, overagePrice: null };

/** The entitlement in force for an org and metric, given its plan's rows and its overrides. */
export function entitlementFor(
  metricKey: string,
  planRows: readonly PlanEntitlementTerms[],
  overrides: readonly EntitlementOverrideTerms[],
): Entitlement {
  const row = planRows.find((r) => r.metricKey === metricKey);
  return row
    ? orgEntitlementOf(
        row,
        overrides.find((o) => o.metricKey === metricKey),
      )
    : NOT_ENTITLED;
}
