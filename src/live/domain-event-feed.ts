import type { DomainEvents } from '../events/domain-events.ts';
import type { LiveServices } from './live-services.ts';

/**
 * Carries committed changes to every instance's live views over the bus. Messages carry ids
 * only: receivers re-read what they show. An access change is noted on this instance at once
 * (open sockets of the org read their key again at their next operation, running subscriptions
 * check their credential now), on the others when the bus delivers it.
 * Returns the unsubscribe function.
 */
export function feedLiveFromEvents(
  events: DomainEvents,
  live: Pick<LiveServices, 'bus' | 'access'>,
): () => void {
  const unsubscribe = [
    events.subscribe('usageChanged', ({ orgIds }) => {
      for (const orgId of orgIds) live.bus.publish({ t: 'usage', orgId });
    }),
    events.subscribe('orgAccessChanged', ({ orgId }) => {
      live.access.changed(orgId);
      live.bus.publish({ t: 'access', orgId });
    }),
    events.subscribe('alertsFired', ({ orgId, alerts }) => {
      for (const alert of alerts) live.bus.publish({ t: 'alert', orgId, alertId: alert.id });
    }),
  ];
  return () => {
    for (const off of unsubscribe) off();
  };
}
