import { type BillingPeriod, type Meter, meterOrg, periodContaining } from '../core/index.ts';
import type { OrgRow } from '../orgs/repository.ts';
import type { PlanRow } from '../plans/repository.ts';
import type { Loaders } from './loaders.ts';

export type OrgMeters = { org: OrgRow; plan: PlanRow; period: BillingPeriod; meters: Meter[] };

/**
 * Meters an org in the period containing `at`, through the loaders: when many orgs are metered
 * in one request, each kind of row is read once for all of them.
 */
export async function loadOrgMeters(
  loaders: Loaders,
  org: OrgRow,
  at: Date,
  billingEnabled: boolean,
): Promise<OrgMeters> {
  const period = periodContaining(at, { anchorDay: org.billingAnchorDay, timeZone: org.billingTimezone });
  const [plan, entitlements, overrides, counters, metrics] = await Promise.all([
    loaders.plan.load(org.planId),
    loaders.entitlementsByPlan.load(org.planId),
    loaders.overridesByOrg.load(org.id),
    loaders.counters.load({ orgId: org.id, periodStart: period.start }),
    loaders.metrics(),
  ]);
  if (!plan) throw new Error(`Org ${org.id} refers to a missing plan ${org.planId}`);
  return {
    org,
    plan,
    period,
    meters: meterOrg({ plan, entitlements, overrides, counters, metrics }, period, billingEnabled),
  };
}
