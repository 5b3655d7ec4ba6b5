import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  type RateLimiterRes,
} from 'rate-limiter-flexible';

/**
 * Plans give a request rate per minute, for the org as a whole: one fixed window of 60 s per org,
 * shared by all its API keys (a key per client must not multiply the plan's rate).
 */
const WINDOW_SECONDS = 60;
const KEY_PREFIX = 'meterline:rl:org';

/** An org's request-rate state after one request was counted. */
export type RateLimitState = {
  /** Requests per window (the plan's rateLimitPerMinute). */
  limit: number;
  /** Requests left in the current window (0 when this one was refused). */
  remaining: number;
  /** Requests counted in the current window, this one included (refused ones too). */
  counted: number;
  /** When the current window ends and the count starts again. */
  resetAt: Date;
  /** Whole seconds until resetAt, rounded up: what Retry-After and X-RateLimit-Reset say. */
  resetAfter: number;
  allowed: boolean;
};

/**
 * Counts requests per org against its plan's rate, with rate-limiter-flexible: in memory on
 * one instance, in Redis when REDIS_URL is set so every instance shares one count. When Redis is
 * unreachable or slow each instance falls back to its own in-memory count (the insurance
 * limiter): neither "allow everything" nor "deny everything", and the service keeps answering.
 */
export class RequestRateLimiter {
  /**
   * One count per org for every rate: the limiter only counts (its `points` is never reached),
   * and each request is judged against the rate its caller gives. A limiter per rate would keep
   * a count per rate in memory, so a plan change (another rate) would start the org's window
   * again from zero.
   */
  private readonly counter: RateLimiterAbstract;

  private readonly redis: Redis | undefined;

  constructor(redis: Redis | undefined) {
    this.redis = redis;
    const options = { points: Number.MAX_SAFE_INTEGER, duration: WINDOW_SECONDS, keyPrefix: KEY_PREFIX };
    const memory = new RateLimiterMemory(options);
    this.counter = redis
      ? new RateLimiterRedis({
          ...options,
          storeClient: redis,
          insuranceLimiter: memory,
          // While Redis reconnects go straight to memory instead of failing each command.
          rejectIfRedisNotReady: true,
        })
      : memory;
  }

  /** Counts one request of an org (any of its keys) against `limit` requests per minute. */
  async consume(orgId: string, limit: number): Promise<RateLimitState> {
    const started = Date.now();
    // Counted whether allowed or not, as rate-limiter-flexible counts a refused request.
    const res: RateLimiterRes = await this.counter.consume(orgId, 1);
    const allowed = res.consumedPoints <= limit;
    const msLeft = Math.max(0, res.msBeforeNext);
    return {
      limit,
      remaining: allowed ? Math.max(0, limit - res.consumedPoints) : 0,
      counted: res.consumedPoints,
      resetAt: new Date(started + msLeft),
      resetAfter: Math.ceil(msLeft / 1000),
      allowed,
    };
  }

  /**
   * Takes back one counted request of an org (one made with a secret that turned out not to be a
   * live key of it). Best effort: a count that cannot be given back only leaves the org one
   * request fewer this window.
   */
  async giveBack(orgId: string): Promise<void> {
    await this.counter.reward(orgId, 1).catch(() => {});
  }

  /**
   * A request already counted (`taken`), judged against another limit: the plan's rate changed
   * between the read it was counted under and now. Counts nothing again (every limit of an org
   * shares one count, see `counter`).
   */
  rejudge(taken: RateLimitState, limit: number): RateLimitState {
    if (taken.limit === limit) return taken;
    const allowed = taken.counted <= limit;
    return { ...taken, limit, allowed, remaining: allowed ? limit - taken.counted : 0 };
  }

  /** Where counts are kept now: memory (no REDIS_URL), Redis, or memory while Redis is unreachable. */
  store(): 'memory' | 'redis' | 'memory-fallback' {
    if (!this.redis) return 'memory';
    return this.redis.status === 'ready' ? 'redis' : 'memory-fallback';
  }

  async close(): Promise<void> {
    if (!this.redis) return;
    // quit() waits for a live connection to answer; a dead one is just dropped.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis?.disconnect());
    else this.redis.disconnect();
  }
}

/**
 * The Redis client for the limiter. No offline queue (a command while disconnected fails at once,
 * and the insurance limiter answers), a short connect and command timeout, and reconnection in
 * the background. Connection errors are logged when the state changes, not once per retry.
 */
export function connectRateLimitRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    connectTimeout: 1_000,
    commandTimeout: 250,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 200, 5_000),
  });
  let healthy: boolean | undefined;
  redis.on('ready', () => {
    if (healthy !== true) log.info('rate limits: Redis connected; limits are shared by all instances');
    healthy = true;
  });
  redis.on('error', (error: Error) => {
    if (healthy !== false) {
      log.warn({ err: error }, 'rate limits: Redis unreachable; counting in memory on each instance');
    }
    healthy = false;
  });
  return redis;
}

/**
 * Response headers for a rate-limited request.
 * - X-RateLimit-Limit / -Remaining: requests per minute and left in this window.
 * - X-RateLimit-Reset: seconds until the window resets (delta seconds, like Retry-After and the
 *   IETF `t` parameter; not an epoch time).
 * - RateLimit-Policy / RateLimit: the IETF draft (draft-ietf-httpapi-ratelimit-headers) form.
 * - Retry-After (refused requests only): seconds to wait, at least 1.
 */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const headers: Record<string, string> = {
    'X-RateLimit-Limit': String(state.limit),
    'X-RateLimit-Remaining': String(state.remaining),
    'X-RateLimit-Reset': String(state.resetAfter),
    'RateLimit-Policy': `"api-key";q=${state.limit};w=${WINDOW_SECONDS}`,
    RateLimit: `"api-key";r=${state.remaining};t=${state.resetAfter}`,
  };
  if (!state.allowed) headers['Retry-After'] = String(Math.max(1, state.resetAfter));
  return headers;
}
