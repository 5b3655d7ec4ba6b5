import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/client.ts';
import { type OrgUsageSnapshot, readOrgUsage } from '../usage/read-usage.ts';
import { AccessChanges } from './access-changes.ts';
import { type LiveBus, memoryBus } from './bus.ts';
import { postgresBus } from './postgres-bus.ts';
import { redisBus } from './redis-bus.ts';
import { UsageFeeds } from './usage-feeds.ts';

/** The process-wide live parts: the bus between instances and the per-org usage feeds. */
export type LiveServices = {
  bus: LiveBus;
  usage: UsageFeeds<OrgUsageSnapshot>;
  /**
   * Changes to who may act for an org, as this instance has heard of them. Committed changes
   * reach the bus and `access` as domain events (see domain-event-feed.ts).
   */
  access: AccessChanges;
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
  const streams = new Set<() => void>();
  const endStreams = () => {
    usage.endAll();
    for (const end of [...streams]) end();
  };
  return {
    bus,
    usage,
    access,
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
