import type { UsageAlertRow } from '../alerts/repository.ts';
import type { Db } from '../db/client.ts';
import type { DomainEvents } from '../events/domain-events.ts';
import type { WebhookDispatcher } from './dispatcher.ts';
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

/**
 * Fired alerts go to the org's endpoints that take them: queued (the outbox row is the promise
 * to deliver), then sent right away. Returns the unsubscribe function.
 */
export function deliverFiredAlerts(
  events: DomainEvents,
  deps: { db: Db; dispatcher: Pick<WebhookDispatcher, 'kick'> },
): () => void {
  return events.subscribe('alertsFired', async ({ alerts }) => {
    if ((await enqueueAlerts(deps.db, alerts)) > 0) deps.dispatcher.kick();
  });
}
