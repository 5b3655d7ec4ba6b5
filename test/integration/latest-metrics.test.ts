import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { addTestMetric, createTestOrg, createTestPlan } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';
import { CHECK_QUOTA, consume, record, usedByMetric } from '../helpers/usage.ts';

/**
 * A LATEST metric keeps the value of the period's latest reading (core/aggregation.ts). With a
 * hard limit its counter is locked, and so created empty, before the first reading is written:
 * that reading must still be taken. The default catalog has no LATEST metric; each test adds its
 * own (there is no API for metrics).
 */
describe.each(testDatabases())('LATEST metrics on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  /** A new LATEST metric, a plan with 10 included and a hard limit of 10, and an org on it. */
  async function orgWithGauge() {
    const metric = await addTestMetric(server, 'gauge', 'LATEST');
    const code = await createTestPlan(server, {
      name: 'Ten gauges',
      entitlements: [{ metric, included: 10, hardLimit: 10 }],
    });
    return { metric, org: await createTestOrg(server, code) };
  }

  it('takes the first reading of a period, then the latest by timestamp', async () => {
    const { metric, org } = await orgWithGauge();
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    const readings = [
      { id: 'r1', quantity: 5, timestamp: at(30) },
      { id: 'r2', quantity: 7, timestamp: at(20) },
      { id: 'r0', quantity: 9, timestamp: at(40) }, // older than r2: not the latest
    ];
    const used: number[] = [];
    for (const r of readings) {
      const res = await record(server, [{ ...r, orgId: org.id, metric }]);
      expect(res.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [] });
      used.push((await usedByMetric(server, org))[metric]!);
    }
    expect(used).toEqual([5, 7, 7]);
  });

  it('counts the value a consuming check answers', async () => {
    const { metric, org } = await orgWithGauge();
    const first = (await consume(server, { orgId: org.id, metric, quantity: 4, idempotencyKey: 'g1' })).data!
      .checkQuota;
    expect(first).toMatchObject({ allowed: true, consumed: true, used: 4 });
    expect((await usedByMetric(server, org))[metric]).toBe(4);
    const past = (await consume(server, { orgId: org.id, metric, quantity: 11, idempotencyKey: 'g2' })).data!
      .checkQuota;
    expect(past).toMatchObject({ allowed: false, reason: 'HARD_LIMIT', consumed: false });
    expect((await usedByMetric(server, org))[metric]).toBe(4);
  });

  /** A gauge whose counter holds a reading of 5 stamped two minutes ahead (allowed up to five). */
  async function gaugeReadAhead() {
    const gauge = await orgWithGauge();
    const ahead = new Date(Date.now() + 2 * 60_000).toISOString();
    const res = await record(server, [
      { id: 'ahead', orgId: gauge.org.id, metric: gauge.metric, quantity: 5, timestamp: ahead },
    ]);
    expect(res.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [] });
    return gauge;
  }

  it("records a reading older than the counter's without moving the value, past the hard limit too", async () => {
    const { metric, org } = await gaugeReadAhead();
    // 50 is over the hard limit of 10, but older: it cannot become the period's value.
    const older = new Date(Date.now() - 30 * 60_000).toISOString();
    const late = await record(server, [
      { id: 'older', orgId: org.id, metric, quantity: 50, timestamp: older },
    ]);
    expect(late.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [] });
    expect((await usedByMetric(server, org))[metric]).toBe(5);
  });

  it('answers a consuming check read now with the value the counter keeps', async () => {
    const { metric, org } = await gaugeReadAhead();
    const check = (await consume(server, { orgId: org.id, metric, quantity: 3, idempotencyKey: 'now' })).data!
      .checkQuota;
    expect(check).toMatchObject({ allowed: true, consumed: true, used: 5, remaining: 5 });
    expect((await usedByMetric(server, org))[metric]).toBe(5);
    // Asked without consuming, a reading of 50 now would not move the value either.
    const asked = await server.gql<{ checkQuota: unknown }>(
      CHECK_QUOTA,
      {
        input: { orgId: org.id, metric, quantity: 50 },
      },
      TEST_SERVICE_TOKEN,
    );
    expect(asked.data!.checkQuota).toMatchObject({ allowed: true, consumed: false, used: 5 });
  });

  /**
   * A reading of the instant the counter's reading was taken is the latest only with a larger
   * event id (byte order, as the write and core/aggregation.ts break the tie): a smaller one is
   * recorded without moving the value, so no limit can refuse it.
   */
  it('decides a reading tying the held instant by event id, over recordUsage and checkQuota', async () => {
    const { metric, org } = await orgWithGauge();
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const reading = (id: string, quantity: number) => ({
      id,
      orgId: org.id,
      metric,
      quantity,
      timestamp: at.toISOString(),
    });
    expect((await record(server, [reading('m', 5)])).data!.recordUsage).toMatchObject({ accepted: 1 });
    // 'l' < 'm': not the latest, so 50 (past the hard limit of 10) is kept and moves nothing.
    expect((await record(server, [reading('l', 50)])).data!.recordUsage).toMatchObject({
      accepted: 1,
      rejected: [],
    });
    expect((await usedByMetric(server, org))[metric]).toBe(5);
    // 'n' > 'm': the new value, refused past the hard limit.
    const later = (await record(server, [reading('n', 50)])).data!.recordUsage;
    expect(later.rejected.map((r) => r.code)).toEqual(['HARD_LIMIT']);
    server.setNow(at);
    try {
      // A consume read at the same instant under a smaller key: the value stays 5.
      const tied = (await consume(server, { orgId: org.id, metric, quantity: 50, idempotencyKey: 'k' })).data!
        .checkQuota;
      expect(tied).toMatchObject({ allowed: true, consumed: true, used: 5 });
      const larger = (await consume(server, { orgId: org.id, metric, quantity: 50, idempotencyKey: 'z' }))
        .data!.checkQuota;
      expect(larger).toMatchObject({ allowed: false, reason: 'HARD_LIMIT', consumed: false, used: 5 });
    } finally {
      server.setNow(undefined);
    }
    expect((await usedByMetric(server, org))[metric]).toBe(5);
  });
});
