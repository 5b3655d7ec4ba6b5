import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveBus, LiveMessage } from '../../src/live/bus.ts';
import { postgresBus } from '../../src/live/postgres-bus.ts';
import { createLogger } from '../../src/logger.ts';
import { createScratchDatabase } from '../helpers/databases.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

/**
 * The LISTEN/NOTIFY bus sends the messages published within a few milliseconds in one
 * statement: each distinct message must arrive, once, in the order published, whatever it holds.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('the PostgreSQL live bus', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  afterAll(() => scratch?.drop());

  it('delivers a burst of messages published together, each distinct one once and in order', async () => {
    const bus = await postgresBus(scratch.url, createLogger('error'));
    const received: LiveMessage[] = [];
    bus.subscribe((m) => received.push(m));
    const orgIds = Array.from({ length: 5 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
    for (const orgId of orgIds) bus.publish({ t: 'usage', orgId });
    bus.publish({ t: 'usage', orgId: orgIds[0]! }); // the same message again in the same turn
    bus.publish({ t: 'alert', orgId: orgIds[1]!, alertId: 'a"l{e}r,t\\' });
    const until = Date.now() + 10_000;
    while (received.length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // nothing more may arrive
    await bus.close();
    expect(received).toEqual([
      ...orgIds.map((orgId) => ({ t: 'usage', orgId })),
      { t: 'alert', orgId: orgIds[1], alertId: 'a"l{e}r,t\\' },
    ]);
  });

  /** Publishes a new message every 100 ms until it arrives; false when none did within `ms`. */
  const heard = async (bus: LiveBus, received: LiveMessage[], ms: number) => {
    const orgId = crypto.randomUUID();
    const until = Date.now() + ms;
    while (Date.now() < until) {
      bus.publish({ t: 'usage', orgId });
      await sleep(100);
      if (received.some((m) => m.t === 'usage' && m.orgId === orgId)) return true;
    }
    return false;
  };

  it('listens again when its LISTEN connection goes silent, and has the live views re-read', async () => {
    const through = new URL(scratch.url);
    const proxy = await startTcpProxy(Number(through.port || 5432));
    through.hostname = '127.0.0.1';
    through.port = String(proxy.port);
    const bus = await postgresBus(through.toString(), createLogger('silent'), { heartbeatMs: 200 });
    try {
      const received: LiveMessage[] = [];
      bus.subscribe((m) => received.push(m));
      expect(await heard(bus, received, 5_000)).toBe(true);
      // postgres.js sees no error on a silent connection: without the heartbeat nothing would
      // ever arrive again.
      expect(proxy.silence('listen "meterline_live"')).toBe(1);
      const silencedAt = received.length;
      const until = Date.now() + 5_000;
      while (!received.slice(silencedAt).some((m) => m.t === 'resync') && Date.now() < until) await sleep(50);
      expect(received.slice(silencedAt)).toContainEqual({ t: 'resync' });
      expect(await heard(bus, received, 5_000)).toBe(true);
    } finally {
      await bus.close();
      await proxy.stop();
    }
  });

  it('keeps listening through storms of connection kills', async () => {
    const killer = postgres(scratch.url, { max: 1, onnotice: () => {} });
    const bus = await postgresBus(scratch.url, createLogger('silent'), { heartbeatMs: 250 });
    try {
      const received: LiveMessage[] = [];
      bus.subscribe((m) => received.push(m));
      // postgres.js re-listens by itself after each kill, but one of these storms in about eight
      // left it with no listening connection at all (before the heartbeat).
      for (let storm = 0; storm < 5; storm++) {
        const stormEnds = Date.now() + 1_500;
        while (Date.now() < stormEnds) {
          await killer`select pg_terminate_backend(pid) from pg_stat_activity
            where application_name = 'meterline-live' and datname = current_database()`;
          await sleep(Math.random() * 40);
        }
        expect(await heard(bus, received, 8_000), `a message after storm ${storm + 1}`).toBe(true);
      }
    } finally {
      await bus.close();
      await killer.end();
    }
  });

  it('hears its own heartbeat: a quiet bus does not re-listen, and no listener sees a beat', async () => {
    const bus = await postgresBus(scratch.url, createLogger('silent'), { heartbeatMs: 100 });
    const received: LiveMessage[] = [];
    bus.subscribe((m) => received.push(m));
    await sleep(1_500);
    await bus.close();
    expect(received).toEqual([]);
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
