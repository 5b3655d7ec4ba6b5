import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import { KeyIdentities } from './key-identities.ts';
import { LastUsedTracker } from './last-used.ts';
import { connectRateLimitRedis, RequestRateLimiter } from './rate-limit.ts';

/** The long-lived parts of the keys module, made once per process and closed on shutdown. */
export type KeyServices = {
  limiter: RequestRateLimiter;
  identities: KeyIdentities;
  lastUsed: LastUsedTracker;
  /** Stops the flush timer, writes the last uses, and closes the Redis connection. */
  close(): Promise<void>;
};

export function createKeyServices(params: {
  db: Db;
  log: Logger;
  redisUrl?: string | undefined;
  lastUsedFlushMs?: number;
}): KeyServices {
  const redis = params.redisUrl ? connectRateLimitRedis(params.redisUrl, params.log) : undefined;
  const limiter = new RequestRateLimiter(redis);
  const lastUsed = new LastUsedTracker(params.db, params.log, params.lastUsedFlushMs);
  lastUsed.start();
  return {
    limiter,
    identities: new KeyIdentities(),
    lastUsed,
    async close() {
      await Promise.all([lastUsed.close(), limiter.close()]);
    },
  };
}
