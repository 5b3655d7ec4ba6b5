import type { Logger } from 'pino';
import postgres from 'postgres';
import { postgresOptions } from '../db/postgres-options.ts';
import {
  decodeMessage,
  encodeMessage,
  Listeners,
  type LiveBus,
  type LiveListener,
  type LiveMessage,
} from './bus.ts';
import { DEFAULT_HEARTBEAT_MS, listenWithHeartbeat } from './postgres-listener.ts';

export const LIVE_CHANNEL = 'meterline_live';

/** How long a published message waits for others to go out with it (see below). */
const NOTIFY_WINDOW_MS = 20;

/**
 * PostgreSQL LISTEN/NOTIFY between instances on one database. Its own small connection pool:
 * LISTEN holds a connection for good, so it must not take one from the request pool. NOTIFY
 * reaches every listener, this instance's own too, so a message is delivered here only by that
 * loop-back (once). The LISTEN is re-established after a lost connection (by postgres.js, and by
 * a heartbeat when that fails: postgres-listener.ts); every LISTEN after the first tells the live
 * views to re-read, since notifications sent meanwhile were lost.
 */
export async function postgresBus(
  url: string,
  log: Logger,
  options: { heartbeatMs?: number } = {},
): Promise<LiveBus> {
  const sql = postgres(url, { ...postgresOptions('meterline-live'), max: 2 });
  const listeners = new Listeners();
  const listener = await listenWithHeartbeat({
    url,
    channel: LIVE_CHANNEL,
    applicationName: 'meterline-live',
    notify: (payload) => sql.notify(LIVE_CHANNEL, payload),
    onPayload(payload) {
      const message = decodeMessage(payload);
      if (message) listeners.emit(message);
    },
    onRelisten() {
      log.warn('live bus: LISTEN connection re-established; live views re-read their state');
      listeners.emit({ t: 'resync' });
    },
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    log,
  }).catch(async (error: unknown) => {
    await sql.end({ timeout: 0 });
    throw error;
  });
  // At most one NOTIFY statement per NOTIFY_WINDOW_MS: a message published after a quiet window
  // goes out on the next turn of the event loop (with the others of that turn); one published
  // sooner waits for the window to end, with all the others published meanwhile. Each distinct
  // message goes once (a burst of consumptions on one org is one "usage changed", as PostgreSQL
  // would fold identical notifications of one transaction anyway). Every NOTIFY is a transaction
  // of its own that wakes every listener, so under a stream of quota decisions a NOTIFY per turn
  // would cost as much as the decisions' own writes; live views re-read at most every 250 ms
  // (usage-feeds.ts), so the window delays no view noticeably.
  // They go as one JSON array: without fetched array types (see postgres-options.ts) postgres.js
  // cannot send a JavaScript array as a text[] parameter.
  let pending = new Set<string>();
  let sending: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let flushedAt = Number.NEGATIVE_INFINITY;
  const flush = () => {
    clearTimeout(timer);
    clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
    flushedAt = performance.now();
    const payloads = [...pending];
    if (payloads.length === 0) return;
    pending = new Set();
    const sent =
      payloads.length === 1
        ? sql.notify(LIVE_CHANNEL, payloads[0]!)
        : sql`select pg_notify(${LIVE_CHANNEL}, p) from jsonb_array_elements_text(${sql.json(payloads)}) as p`;
    const done = sent.then(
      () => {},
      (error: unknown) => log.error({ err: error }, 'live bus: NOTIFY failed'),
    );
    sending = Promise.all([sending, done]).then(() => {});
  };
  return {
    kind: 'postgres',
    publish(message: Exclude<LiveMessage, { t: 'resync' }>) {
      if (pending.size === 0) {
        const wait = flushedAt + NOTIFY_WINDOW_MS - performance.now();
        if (wait > 0) timer = setTimeout(flush, wait);
        else immediate = setImmediate(flush);
      }
      pending.add(encodeMessage(message));
    },
    subscribe: (listener: LiveListener) => listeners.add(listener),
    async close() {
      if (pending.size > 0) flush();
      await sending;
      await listener.close();
      await sql.end({ timeout: 2 });
    },
  };
}
