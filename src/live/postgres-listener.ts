import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import postgres from 'postgres';
import { postgresOptions } from '../db/postgres-options.ts';

/** How often a listener proves that it still hears, by default (see `listenWithHeartbeat`). */
export const DEFAULT_HEARTBEAT_MS = 5_000;

export type HeartbeatListener = { close(): Promise<void> };

/**
 * LISTEN on `channel` that proves every `heartbeatMs` that it still hears: it NOTIFYs itself a
 * beat (through `notify`, another connection) and expects it back.
 *
 * Why: postgres.js (3.4.9) re-issues LISTEN by itself after its connection closes, but when the
 * new connection is killed again while it starts up, it can end with no listening connection and
 * nothing left to retry (5 storms of 40 in a test of 1.5 s storms of `pg_terminate_backend`). A
 * connection that goes silent without closing (a partition that sends no reset) is not noticed
 * at all. Either way no notification would arrive, this instance's own included, until a restart.
 *
 * A beat not heard back `heartbeatMs` after its NOTIFY committed means the LISTEN is gone: the
 * listening client is dropped and a new one listens. Every LISTEN after the first (postgres.js's
 * own re-listens and ours) calls `onRelisten`, since notifications sent meanwhile were lost. A
 * beat whose NOTIFY fails (the database unreachable) proves nothing, so none is judged until a
 * NOTIFY succeeds again. Beats of other instances on the channel are ignored; nothing else sees any.
 */
export async function listenWithHeartbeat(params: {
  url: string;
  channel: string;
  applicationName: string;
  notify(payload: string): Promise<unknown>;
  onPayload(payload: string): void;
  onRelisten(): void;
  heartbeatMs: number;
  log: Logger;
}): Promise<HeartbeatListener> {
  const { url, channel, heartbeatMs, log } = params;
  const ownBeat = `{"t":"beat","from":"${randomUUID()}","n":`;
  /** The beat in flight: its number, and when its NOTIFY committed (undefined while it is sent). */
  let beat: { n: number; sentAt?: number } | undefined;
  let beats = 0;
  let listens = 0;
  let closed = false;

  const onPayload = (payload: string) => {
    if (!payload.startsWith(BEAT)) return params.onPayload(payload);
    if (payload.startsWith(ownBeat) && beat?.n === Number(payload.slice(ownBeat.length, -1))) {
      beat = undefined;
    }
  };
  const listen = () => {
    // max 1: postgres.js's LISTEN client is one connection of its own besides this pool's.
    const sql = postgres(url, { ...postgresOptions(params.applicationName), max: 1 });
    const listening = sql.listen(channel, onPayload, () => {
      listens++;
      if (listens > 1) params.onRelisten();
    });
    return { sql, listening };
  };

  let client = listen();
  try {
    await client.listening;
  } catch (error) {
    await client.sql.end({ timeout: 0 });
    throw error;
  }

  const relisten = () => {
    log.warn(
      { heartbeatMs },
      'live bus: a heartbeat was not heard back; listening again on a new connection',
    );
    beat = undefined;
    client.sql.end({ timeout: 0 }).catch(() => {});
    client = listen();
    // A LISTEN that fails is seen as a beat not heard back: the next one listens again.
    client.listening.catch(() => {});
  };
  const sendBeat = async () => {
    const current: { n: number; sentAt?: number } = { n: ++beats };
    beat = current;
    try {
      await params.notify(`${ownBeat}${current.n}}`);
      current.sentAt = performance.now();
    } catch {
      if (beat === current) beat = undefined;
    }
  };
  const timer = setInterval(() => {
    if (closed) return;
    if (beat === undefined) {
      void sendBeat();
    } else if (beat.sentAt !== undefined && performance.now() - beat.sentAt >= heartbeatMs) {
      relisten();
    }
  }, heartbeatMs);
  timer.unref();

  return {
    async close() {
      closed = true;
      clearInterval(timer);
      await client.sql.end({ timeout: 2 });
    },
  };
}

/** How every beat's payload starts (a beat is JSON, like the bus's messages, but never one of them). */
const BEAT = '{"t":"beat",';
