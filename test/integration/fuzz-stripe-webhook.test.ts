import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import { testDatabases } from '../helpers/databases.ts';
import { fuzzParameters, fuzzTimeout, isStorable, oddString, unstorableString } from '../helpers/fuzz.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const WEBHOOK_SECRET = 'whsec_fuzz_meterline_0123456789';

const sign = (payload: string, secret = WEBHOOK_SECRET) =>
  Stripe.webhooks.generateTestHeaderString({ payload, secret });

/** JSON documents of every shape, some nested far deeper than any real event. */
const json = fc.oneof(
  fc.json({ maxDepth: 6 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 1_000, max: 50_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1_000, max: 20_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
);

const hostileValue = fc.oneof(
  oddString,
  unstorableString,
  fc.constantFrom<unknown>(null, 5, true, [], {}, ['x'], { id: 5 }, ''),
);

/** Event-like objects: the fields the handler reads, each either right or of a hostile shape. */
const eventLike = fc
  .record({
    id: fc.oneof(
      fc.uuid().map((u) => `evt_${u}`),
      hostileValue,
    ),
    type: fc.oneof(
      fc.constantFrom(
        'invoice.paid',
        'invoice.payment_failed',
        'invoice.finalized',
        'customer.deleted',
        'charge.refunded',
      ),
      hostileValue,
    ),
    data: fc.oneof(
      hostileValue,
      fc.record({
        object: fc.oneof(
          hostileValue,
          fc.record({
            id: fc.oneof(fc.constant('in_fuzz'), hostileValue),
            lines: fc.oneof(
              hostileValue,
              fc.record({
                data: fc.oneof(
                  hostileValue,
                  fc.array(
                    fc.oneof(
                      hostileValue,
                      fc.record({
                        metadata: fc.oneof(hostileValue, fc.record({ meterline_key: hostileValue })),
                        invoice_item: hostileValue,
                        parent: hostileValue,
                      }),
                    ),
                    { maxLength: 4 },
                  ),
                ),
              }),
            ),
          }),
        ),
      }),
    ),
  })
  .map((e) => JSON.stringify(e));

const isStorableId = (s: unknown) => typeof s === 'string' && s.length > 0 && isStorable(s);

describe.each(testDatabases())('the Stripe webhook under generated hostile input on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { env: { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET } });
  });
  afterAll(() => server?.close());

  const recorded = async () =>
    Number(
      rowsOf<{ n: string }>(
        await server.database.db.execute(sql`select count(*)::text as n from stripe_events`),
      )[0]!.n,
    );
  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${server.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  it(
    'refuses every body whose signature does not verify with 400, and records nothing',
    async () => {
      const signature = fc.oneof(
        fc.constant(undefined),
        fc.string({ maxLength: 200 }),
        fc.constant('t=1,v1=deadbeef'),
        fc.constant('other secret'),
        fc.constant('other body'),
        fc.constant('stale'),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(json, eventLike, fc.string({ maxLength: 500 })),
          signature,
          async (body, how) => {
            const before = await recorded();
            const header =
              how === 'other secret'
                ? sign(body, 'whsec_someone_else')
                : how === 'other body'
                  ? sign(`${body} `)
                  : how === 'stale'
                    ? Stripe.webhooks.generateTestHeaderString({
                        payload: body,
                        secret: WEBHOOK_SECRET,
                        timestamp: 1_000_000_000,
                      })
                    : how;
            const res = await post(
              body,
              header === undefined ? {} : { 'stripe-signature': header.replace(/[^\t\x20-\x7e]/g, '') },
            );
            expect(res.status).toBe(400);
            expect(((await res.json()) as { error: string }).error).toMatch(/signature/);
            expect(await recorded()).toBe(before);
          },
        ),
        fuzzParameters(30),
      );
    },
    fuzzTimeout(60_000),
  );

  it(
    'answers every signed body with 200 (recorded once) or 400 (nothing recorded), never 5xx',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(json, eventLike, fc.string({ maxLength: 300 })), async (body) => {
          const before = await recorded();
          const res = await post(body, { 'stripe-signature': sign(body) });
          const answer = (await res.json()) as { error?: string; received?: boolean; duplicate?: boolean };
          let parsed: { id?: unknown } | undefined;
          try {
            parsed = JSON.parse(body);
          } catch {}
          const wellFormedId =
            parsed !== null &&
            typeof parsed === 'object' &&
            !Array.isArray(parsed) &&
            isStorableId(parsed.id);
          expect([200, 400], JSON.stringify(answer)).toContain(res.status);
          if (res.status === 200) {
            expect(wellFormedId).toBe(true);
            expect(await recorded()).toBe(before + (answer.duplicate ? 0 : 1));
            // A redelivery of the same signed body changes nothing more.
            const again = await post(body, { 'stripe-signature': sign(body) });
            expect(again.status).toBe(200);
            expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true);
            expect(await recorded()).toBe(before + (answer.duplicate ? 0 : 1));
          } else {
            expect(answer.error!.length).toBeGreaterThanOrEqual(15);
            expect(await recorded()).toBe(before);
          }
        }),
        fuzzParameters(40),
      );
    },
    fuzzTimeout(60_000),
  );

  it('refuses bodies past the size limits without reading them into the ledger', async () => {
    const before = await recorded();
    for (const size of [1_000_001, 7 * 1024 * 1024]) {
      const body = `{"id":"evt_big","type":"x","pad":"${'p'.repeat(size)}"}`;
      const res = await post(body, { 'stripe-signature': sign(body) });
      expect(res.status).toBe(413);
    }
    expect(await recorded()).toBe(before);
  });
});
