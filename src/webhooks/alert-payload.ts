import type { UsageAlertRow } from '../alerts/repository.ts';
import type { Db } from '../db/client.ts';
import { enqueueEvent } from './repository.ts';

/** Queues a `usage.alert` delivery per alert for the org's endpoints that take it. */
export async function enqueueAlerts(db: Db, alerts: readonly UsageAlertRow[]): Promise<number> {
  let queued = 0;
  for (const a of alerts) {
    queued += await enqueueEvent(db, {
      orgId: a.orgId,
      event: 'usage.alert',
      eventId: a.id,
      payload: {
        type: 'usage.alert',
        id: a.id,
        orgId: a.orgId,
        kind: a.kind,
        metric: a.kind === 'USAGE' ? a.metricKey : null,
        threshold: a.threshold,
        used: a.used?.toString() ?? null,
        limit: a.limitUnits?.toString() ?? null,
        cost: a.cost,
        budgetCap: a.budgetCap,
        currency: a.currency,
        period: { start: a.periodStart.toISOString(), end: a.periodEnd.toISOString() },
        firedAt: a.firedAt.toISOString(),
      },
    });
  }
  return queued;
}
