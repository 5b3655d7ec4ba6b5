import { formatAmount } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { loadOrgMeters, type OrgMeters } from '../usage/load-meters.ts';
import { createLoaders } from '../usage/loaders.ts';
import { replaceOverageLines } from './billing-run-repository.ts';
import { type OverageRow, overagesForPeriods } from './repository.ts';

export type RecalculatedOverages = { meters: OrgMeters; rows: OverageRow[] };

/**
 * Prices an org's usage in the period containing `at` and stores one overage line per metric
 * that has a threshold (unlimited metrics have no line). Running it again replaces the lines.
 * Reads and writes in one transaction, so the lines match one consistent set of counters.
 */
export async function recalculateOrgOverages(
  db: Db,
  params: { org: OrgRow; at: Date; now: Date; billingEnabled: boolean },
): Promise<RecalculatedOverages> {
  return db.transaction(async (tx) => {
    const meters = await loadOrgMeters(createLoaders(tx), params.org, params.at, params.billingEnabled);
    const lines = meters.meters
      .filter((m) => m.line.threshold !== null)
      .map((m) => ({
        orgId: params.org.id,
        metricKey: m.metric.key,
        periodStart: meters.period.start,
        periodEnd: meters.period.end,
        used: m.used,
        threshold: m.line.threshold!,
        units: m.line.units,
        unitPrice: m.line.unitPrice === null ? null : formatAmount(m.line.unitPrice),
        amount: formatAmount(m.line.cost),
        amountMinor: m.line.costMinor,
        currency: m.line.currency,
        calculatedAt: params.now,
      }));
    const pair = { orgId: params.org.id, periodStart: meters.period.start, periodEnd: meters.period.end };
    await replaceOverageLines(tx, { pairs: [pair], lines });
    const rows = await overagesForPeriods(tx, { orgIds: [pair.orgId], periodStarts: [pair.periodStart] });
    return { meters, rows };
  });
}
