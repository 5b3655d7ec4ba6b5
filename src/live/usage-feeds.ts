import type { Logger } from 'pino';
import type { LiveBus } from './bus.ts';
import { Latest } from './latest.ts';

/** How often at most one org's usage is re-read and pushed while it keeps changing. */
export const DEFAULT_MIN_INTERVAL_MS = 250;

type Feed<S> = {
  subscribers: Set<Latest<S>>;
  /** A change arrived since the last read started. */
  dirty: boolean;
  reading: boolean;
  timer: NodeJS.Timeout | undefined;
  lastReadAt: number;
};

type UsageFeedsDeps<S> = {
  bus: LiveBus;
  /** The org's current state; null when the org is gone. */
  read: (orgId: string) => Promise<S | null>;
  log: Logger;
  minIntervalMs?: number;
};

/**
 * Live state per org, shared by all of this instance's subscribers of that org. A change marks
 * the org dirty; one read serves every subscriber, at most one read per `minIntervalMs` per org
 * (bursts coalesce), and a change during a read causes one more read after it, so the last push
 * always shows the state after the last change. A new subscriber gets a read at once (the
 * current state first).
 */
export class UsageFeeds<S> {
  private readonly feeds = new Map<string, Feed<S>>();
  private readonly unsubscribe: () => void;

  private readonly deps: UsageFeedsDeps<S>;

  constructor(deps: UsageFeedsDeps<S>) {
    this.deps = deps;
    this.unsubscribe = deps.bus.subscribe((message) => {
      if (message.t === 'usage') this.changed(message.orgId);
      if (message.t === 'resync') for (const orgId of this.feeds.keys()) this.changed(orgId);
    });
  }

  /** Subscribers on this instance (for metrics and tests). */
  subscriberCount(): number {
    let n = 0;
    for (const feed of this.feeds.values()) n += feed.subscribers.size;
    return n;
  }

  subscribe(orgId: string): AsyncIterableIterator<S> {
    let feed = this.feeds.get(orgId);
    if (!feed) {
      feed = { subscribers: new Set(), dirty: false, reading: false, timer: undefined, lastReadAt: 0 };
      this.feeds.set(orgId, feed);
    }
    const f = feed;
    const stream = new Latest<S>(() => {
      f.subscribers.delete(stream);
      if (f.subscribers.size === 0) {
        clearTimeout(f.timer);
        this.feeds.delete(orgId);
      }
    });
    f.subscribers.add(stream);
    f.dirty = true;
    this.schedule(orgId, f, true);
    return stream;
  }

  /** Ends every stream (shutdown): subscribers see their subscription complete. */
  endAll(): void {
    for (const feed of [...this.feeds.values()]) for (const s of [...feed.subscribers]) void s.return();
  }

  close(): void {
    this.endAll();
    this.unsubscribe();
  }

  private changed(orgId: string): void {
    const feed = this.feeds.get(orgId);
    if (!feed) return;
    feed.dirty = true;
    this.schedule(orgId, feed, false);
  }

  private schedule(orgId: string, feed: Feed<S>, now: boolean): void {
    if (feed.reading || feed.timer) return;
    const interval = this.deps.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
    const wait = now ? 0 : Math.max(0, feed.lastReadAt + interval - Date.now());
    feed.timer = setTimeout(() => {
      feed.timer = undefined;
      void this.read(orgId, feed);
    }, wait);
  }

  private async read(orgId: string, feed: Feed<S>): Promise<void> {
    if (!feed.dirty || feed.subscribers.size === 0) return;
    feed.dirty = false;
    feed.reading = true;
    feed.lastReadAt = Date.now();
    try {
      const state = await this.deps.read(orgId);
      if (state === null) {
        for (const s of [...feed.subscribers]) void s.return();
        return;
      }
      for (const s of feed.subscribers) s.push(state);
    } catch (error) {
      // Retried on the next change; a transient database error must not end the subscriptions.
      this.deps.log.error({ err: error, orgId }, 'live usage: reading the org failed');
    } finally {
      feed.reading = false;
    }
    if (feed.dirty && this.feeds.get(orgId) === feed) this.schedule(orgId, feed, false);
  }
}
