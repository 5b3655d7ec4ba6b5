import type { Logger } from 'pino';
import postgres from 'postgres';
import {
  decodeMessage,
  encodeMessage,
  Listeners,
  type LiveBus,
  type LiveListener,
  type LiveMessage,
} from './bus.ts';

export const LIVE_CHANNEL = 'meterline_live';

/**
 * PostgreSQL LISTEN/NOTIFY between instances on one database. Its own small connection pool:
 * LISTEN holds a connection for good, so it must not take one from the request pool. NOTIFY
 * reaches every listener, this instance's own too, so a message is delivered here only by that
 * loop-back (once). postgres.js re-listens after a lost connection; every (re)listen after the
 * first tells the live views to re-read, since notifications sent meanwhile were lost.
 */
export async function postgresBus(url: string, log: Logger): Promise<LiveBus> {
  const sql = postgres(url, {
    max: 2,
    onnotice: () => {},
    connection: { application_name: 'meterline-live' },
  });
  const listeners = new Listeners();
  let listens = 0;
  const subscription = await sql.listen(
    LIVE_CHANNEL,
    (payload) => {
      const message = decodeMessage(payload);
      if (message) listeners.emit(message);
    },
    () => {
      listens++;
      if (listens > 1) {
        log.warn('live bus: LISTEN connection re-established; live views re-read their state');
        listeners.emit({ t: 'resync' });
      }
    },
  );
  return {
    kind: 'postgres',
    publish(message: Exclude<LiveMessage, { t: 'resync' }>) {
      sql.notify(LIVE_CHANNEL, encodeMessage(message)).catch((error: unknown) => {
        log.error({ err: error }, 'live bus: NOTIFY failed');
      });
    },
    subscribe: (listener: LiveListener) => listeners.add(listener),
    async close() {
      await subscription.unlisten().catch(() => {});
      await sql.end({ timeout: 2 });
    },
  };
}
