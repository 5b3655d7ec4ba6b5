import type { Options, PostgresType } from 'postgres';

/**
 * The postgres.js (3.4.9) options every client of ours uses, chosen so that a connection killed
 * under it (`pg_terminate_backend`, a failover, a restart) costs the statements in flight and
 * nothing more:
 *
 * - `fetch_types: false`. With it on, each new connection first reads the array types, and
 *   postgres.js drops the promise of that read (connection.js `ReadyForQuery` returns
 *   `fetchArrayTypes()` unawaited): a connection killed during it is an unhandled rejection, which
 *   ends the process (upstream issues 1192 and 1223). Nothing of ours needs those types: drizzle
 *   writes and parses its array columns as text itself, and raw statements pass arrays as JSON.
 *
 * - A startup message of more than 1 KiB. postgres.js defers small writes to `setImmediate` and
 *   only schedules that when its timer handle is null; a connection that closes with such a
 *   write pending cancels the timer but keeps the handle and the unsent bytes (`closed()`), so
 *   its next start-up message is never sent and every statement given to that pool slot waits
 *   for `connect_timeout`, again and again (upstream issues 1208 and 1154). A write of 1 KiB or
 *   more is sent at once and clears that state: the stale bytes go first, PostgreSQL refuses
 *   them as a bad start-up packet, and postgres.js reconnects cleanly. The padding is a custom
 *   setting nothing reads. (Over TLS the first write is the 8-byte SSLRequest, which this does
 *   not cover: use `sslnegotiation=direct`, PostgreSQL 17+, where TLS starts without it.)
 *
 * - A reconnect delay of at most half a second. postgres.js waits before a closed connection's
 *   next start-up, and by default that wait grows with every connection of the pool that closed
 *   on an error since the last successful start-up (3^n / 100 s, up to 20 s; a failed connect
 *   counts, as does a backend killed under a write). The wait is fixed when the connection
 *   closes, so after an outage of a few seconds, or a storm of killed backends, a statement given
 *   to such a connection waited up to 20 s, the database long back, and failed requests during
 *   the outage took as long to fail. The pool itself bounds how often it reconnects (one start-up
 *   per connection per statement that needs it), so a short wait costs the database little.
 */
export function postgresOptions(applicationName: string): Options<Record<string, PostgresType>> {
  return {
    onnotice: () => {},
    fetch_types: false,
    backoff: reconnectDelaySeconds,
    connection: {
      application_name: applicationName,
      [STARTUP_PADDING_SETTING]: STARTUP_PADDING,
    },
  };
}

/**
 * Seconds before a closed connection starts up again, after `failures` closes on an error in a
 * row across the pool: postgres.js's own growth (3^n / 100 s, with jitter: half to all of it),
 * capped at half a second instead of 20 s.
 */
export function reconnectDelaySeconds(failures: number): number {
  return Math.min(3 ** failures / 100, MAX_RECONNECT_DELAY_SECONDS) * (0.5 + Math.random() / 2);
}

const MAX_RECONNECT_DELAY_SECONDS = 0.5;

export const STARTUP_PADDING_SETTING = 'meterline.startup_padding';
const STARTUP_PADDING = '-'.repeat(1024);
