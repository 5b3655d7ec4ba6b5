import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/client.ts';
import type { DomainEvents } from '../events/domain-events.ts';
import { unwrap } from '../result.ts';
import { createLoaders, type Loaders } from '../usage/loaders.ts';
import { readOrgUsage } from '../usage/read-usage.ts';
import { fireAlerts } from './fire-alerts.ts';

/**
 * Checks the alerts of orgs after committed usage changes on this instance, coalesced: the first
 * change is checked at once, changes during a check cause one more check after it (at most one
 * round of checks per `minIntervalMs`). The orgs changed meanwhile are checked together, sharing
 * one read of each kind of row (plans, entitlements, counters...) however many they are.
 * Checking is idempotent (see fire-alerts.ts), so coalescing can never lose an alert: the last
 * check sees the latest usage. What it fires is published as `alertsFired` (live pushes, webhook
 * deliveries); a check in flight waits for those subscribers, so `close` does too.
 */
export function startAlertChecks(deps: {
  db: Db;
  events: DomainEvents;
  clock: Clock;
  billingEnabled: boolean;
  log: Logger;
  minIntervalMs?: number;
}): { close(): Promise<void> } {
  const interval = deps.minIntervalMs ?? 250;
  let dirty = new Set<string>();
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastAt = 0;
  let closed = false;

  async function check(loaders: Loaders, orgId: string): Promise<void> {
    const usage = await readOrgUsage(
      deps.db,
      { orgId, clock: deps.clock, billingEnabled: deps.billingEnabled },
      loaders,
    );
    if (!usage) return;
    const fired = unwrap(await fireAlerts(deps.db, usage));
    // Stored (one statement, committed): every subscriber may act on them now.
    if (fired.length > 0) await deps.events.publish({ type: 'alertsFired', orgId, alerts: fired });
  }

  function checkAll(): Promise<void> {
    const orgIds = [...dirty];
    dirty = new Set();
    const loaders = createLoaders(deps.db);
    return Promise.all(
      orgIds.map((orgId) =>
        check(loaders, orgId).catch((error: unknown) =>
          deps.log.error({ err: error, orgId }, 'usage alerts: check failed'),
        ),
      ),
    ).then(() => {});
  }

  function schedule(): void {
    if (closed || running || timer || dirty.size === 0) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        lastAt = Date.now();
        running = checkAll().finally(() => {
          running = undefined;
          schedule();
        });
      },
      Math.max(0, lastAt + interval - Date.now()),
    );
  }

  const unsubscribe = deps.events.subscribe('usageChanged', ({ orgIds }) => {
    for (const orgId of orgIds) dirty.add(orgId);
    schedule();
  });

  return {
    /** Stops scheduling and waits for the checks in flight (before the database closes). */
    async close() {
      closed = true;
      unsubscribe();
      clearTimeout(timer);
      await running;
    },
  };
}
