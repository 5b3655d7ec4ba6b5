import type { Logger } from 'pino';
import type { Clock } from '../context.ts';
import type { Db } from '../db/client.ts';
import type { LiveServices } from '../live/live-services.ts';
import { readOrgUsage } from '../live/read-usage.ts';
import { unwrap } from '../result.ts';
import { fireAlerts } from './fire-alerts.ts';
import type { UsageAlertRow } from './repository.ts';

/** Called with the alerts this instance fired (e.g. to deliver them to webhook endpoints). */
export type FiredAlertsHandler = (alerts: readonly UsageAlertRow[]) => Promise<void> | void;

/**
 * Checks an org's alerts after each committed usage change on this instance, coalesced per org:
 * the first change is checked at once, changes during a check cause one more check after it (at
 * most one per `minIntervalMs`). Checking is idempotent (see fire-alerts.ts), so coalescing can
 * never lose an alert: the last check sees the latest usage.
 */
export function startAlertChecks(deps: {
  db: Db;
  live: LiveServices;
  clock: Clock;
  billingEnabled: boolean;
  log: Logger;
  minIntervalMs?: number;
  onFired?: FiredAlertsHandler;
}): { close(): Promise<void> } {
  type State = {
    dirty: boolean;
    running: Promise<void> | undefined;
    timer: NodeJS.Timeout | undefined;
    lastAt: number;
  };
  const orgs = new Map<string, State>();
  const interval = deps.minIntervalMs ?? 250;
  let closed = false;

  async function check(orgId: string): Promise<void> {
    const usage = await readOrgUsage(deps.db, {
      orgId,
      clock: deps.clock,
      billingEnabled: deps.billingEnabled,
    });
    if (!usage) return;
    const fired = unwrap(await fireAlerts(deps.db, usage));
    for (const alert of fired) deps.live.bus.publish({ t: 'alert', orgId, alertId: alert.id });
    if (fired.length > 0) await deps.onFired?.(fired);
  }

  function schedule(orgId: string): void {
    if (closed) return;
    let state = orgs.get(orgId);
    if (!state) {
      state = { dirty: false, running: undefined, timer: undefined, lastAt: 0 };
      orgs.set(orgId, state);
    }
    state.dirty = true;
    if (state.running || state.timer) return;
    const s = state;
    s.timer = setTimeout(
      () => {
        s.timer = undefined;
        s.dirty = false;
        s.lastAt = Date.now();
        s.running = check(orgId)
          .catch((error: unknown) => deps.log.error({ err: error, orgId }, 'usage alerts: check failed'))
          .finally(() => {
            s.running = undefined;
            if (s.dirty) schedule(orgId);
            else if (!s.timer) orgs.delete(orgId);
          });
      },
      Math.max(0, s.lastAt + interval - Date.now()),
    );
  }

  deps.live.onUsageChanged((orgIds) => {
    for (const orgId of orgIds) schedule(orgId);
  });

  return {
    /** Stops scheduling and waits for the checks in flight (before the database closes). */
    async close() {
      closed = true;
      for (const state of orgs.values()) clearTimeout(state.timer);
      await Promise.all([...orgs.values()].map((s) => s.running));
    },
  };
}
