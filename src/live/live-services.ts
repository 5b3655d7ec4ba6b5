import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/client.ts';
import { AccessChanges } from './access-changes.ts';
import { type LiveBus, memoryBus } from './bus.ts';
import { postgresBus } from './postgres-bus.ts';
import { type OrgUsageSnapshot, readOrgUsage } from './read-usage.ts';
import { redisBus } from './redis-bus.ts';
import { UsageFeeds } from './usage-feeds.ts';

/** Called on the instance that committed a usage change (e.g. alert checks), after the commit. */
export type UsageChangeHook = (orgIds: readonly string[]) => void;

/** The process-wide live parts: the bus between instances and the per-org usage feeds. */
export type LiveServices = {
  bus: LiveBus;
  usage: UsageFeeds<OrgUsageSnapshot>;
  /**
   * Call after a transaction that changed these orgs' usage (or what prices it) has committed:
   * tells every instance's subscribers, and runs this instance's hooks.
   */
  usageChanged(orgIds: readonly string[]): void;
  onUsageChanged(hook: UsageChangeHook): void;
  /** Changes to who may act for an org, as this instance has heard of them. */
  access: AccessChanges;
  /**
   * Call after a transaction that changed who may act for the org has committed (see
   * `orgAccessChanged`): this instance notes it at once, every other one when the bus delivers it.
   */
  accessChanged(orgId: string): void;
  /** Registers another kind of live stream to end at shutdown; returns the unregister function. */
  trackStream(end: () => void): () => void;
  /** The streams `trackStream` holds now (usageAlert subscriptions), for metrics. */
  streamCount(): number;
  /** Ends every live stream (before the HTTP server drains). */
  endStreams(): void;
  close(): Promise<void>;
};

/**
 * Redis when REDIS_URL is set, else PostgreSQL LISTEN/NOTIFY on a PostgreSQL database, else (the
 * embedded database, one process) in-process delivery.
 */
export async function openLiveBus(params: {
  database: Database;
  redisUrl: string | undefined;
  log: Logger;
}): Promise<LiveBus> {
  if (params.redisUrl) return redisBus(params.redisUrl, params.log);
  if (params.database.kind === 'postgres' && params.database.url) {
    return postgresBus(params.database.url, params.log);
  }
  return memoryBus(params.database.db);
}

export async function createLiveServices(params: {
  database: Database;
  redisUrl: string | undefined;
  clock: Clock;
  billingEnabled: boolean;
  log: Logger;
  minIntervalMs?: number;
}): Promise<LiveServices> {
  const { database, clock, billingEnabled, log } = params;
  const bus = await openLiveBus(params);
  const usage = new UsageFeeds<OrgUsageSnapshot>({
    bus,
    log,
    minIntervalMs: params.minIntervalMs,
    read: (orgId) => readOrgUsage(database.db, { orgId, clock, billingEnabled }),
  });
  const access = new AccessChanges(bus);
  const hooks: UsageChangeHook[] = [];
  const streams = new Set<() => void>();
  const endStreams = () => {
    usage.endAll();
    for (const end of [...streams]) end();
  };
  return {
    bus,
    usage,
    usageChanged(orgIds) {
      if (orgIds.length === 0) return;
      for (const orgId of orgIds) bus.publish({ t: 'usage', orgId });
      for (const hook of hooks) hook(orgIds);
    },
    onUsageChanged: (hook) => void hooks.push(hook),
    access,
    accessChanged(orgId) {
      access.changed(orgId);
      bus.publish({ t: 'access', orgId });
    },
    trackStream(end) {
      streams.add(end);
      return () => streams.delete(end);
    },
    streamCount: () => streams.size,
    endStreams,
    async close() {
      endStreams();
      usage.close();
      access.close();
      await bus.close();
    },
  };
}
