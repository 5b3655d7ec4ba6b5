import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveMessage } from '../../src/live/bus.ts';
import { postgresBus } from '../../src/live/postgres-bus.ts';
import { createLogger } from '../../src/logger.ts';
import { createScratchDatabase } from '../helpers/databases.ts';

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
});
