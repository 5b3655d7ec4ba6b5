import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SecondInstance, startSecondInstance } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, codeOf, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';
import { CHECK_QUOTA, type QuotaResult, record, usedByMetric } from '../helpers/usage.ts';

/**
 * Concurrent consumptions are decided in batches (one transaction for many requests). These
 * tests send bursts large enough to fill batches, on two instances of one database, and check
 * that each request is still decided as if alone and in some order: limits and budgets exact,
 * one bad request failing only itself.
 */
describe.each(testDatabases())('consumption batches on %s', (kind) => {
  let server: TestServer;
  let second: SecondInstance;
  beforeAll(async () => {
    server = await startTestServer(kind);
    second = await startSecondInstance(server, {});
  });
  afterAll(async () => {
    await second?.close();
    await server?.close();
  });

  /** checkQuota with consume, as the service, on the first or the second instance. */
  async function consumeOn(instance: 0 | 1, input: Record<string, unknown>) {
    const url = instance === 0 ? server.url : second.url;
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_SERVICE_TOKEN}` },
      body: JSON.stringify({ query: CHECK_QUOTA, variables: { input: { consume: true, ...input } } }),
    });
    return (await res.json()) as {
      data?: { checkQuota: QuotaResult } | null;
      errors?: { extensions?: Record<string, unknown> }[];
    };
  }

  it('never passes any org hard limit in a burst over many orgs and two instances', async () => {
    const orgs: TestOrg[] = [];
    for (let i = 0; i < 6; i++) {
      const org = await createTestOrg(server, 'free');
      await addUsage(server, org, { api_calls: 990 });
      orgs.push(org);
    }
    const burst = Array.from({ length: 180 }, (_, i) =>
      consumeOn((i % 2) as 0 | 1, { orgId: orgs[i % orgs.length]!.id, metric: 'api_calls', quantity: 1 }),
    );
    const results = await Promise.all(burst);
    expect(results.map((r) => r.errors)).toEqual(Array(180).fill(undefined));
    for (const [n, org] of orgs.entries()) {
      const mine = results.filter((_, i) => i % orgs.length === n).map((r) => r.data!.checkQuota);
      expect(mine.filter((d) => d.allowed && d.consumed)).toHaveLength(10);
      expect(mine.filter((d) => d.reason === 'HARD_LIMIT' && !d.consumed)).toHaveLength(20);
      // Each allowed answer reports the usage its own consumption left: 991 ... 1000, once each.
      const usedAfter = mine.filter((d) => d.consumed).map((d) => d.used);
      expect(usedAfter.sort((a, b) => a - b)).toEqual([991, 992, 993, 994, 995, 996, 997, 998, 999, 1000]);
      expect((await usedByMetric(server, org)).api_calls).toBe(1000);
    }
  });

  it('fails only the bad requests of a burst: unknown metric, missing org', async () => {
    const org = await createTestOrg(server, 'pro');
    const good = Array.from({ length: 20 }, () => ({ orgId: org.id, metric: 'playbook_runs', quantity: 1 }));
    const bad = [
      { orgId: org.id, metric: 'no_such_metric', quantity: 1 },
      { orgId: randomUUID(), metric: 'playbook_runs', quantity: 1 },
    ];
    const inputs = [...good.slice(0, 10), ...bad, ...good.slice(10)];
    const results = await Promise.all(inputs.map((input, i) => consumeOn((i % 2) as 0 | 1, input)));
    expect(codeOf(results[10]!)).toBe('BAD_USER_INPUT');
    expect(codeOf(results[11]!)).toBe('NOT_FOUND');
    const answered = results.filter((_, i) => i !== 10 && i !== 11);
    expect(answered.every((r) => r.data?.checkQuota.consumed === true)).toBe(true);
    expect((await usedByMetric(server, org)).playbook_runs).toBe(20);
  });

  it('answers a burst without limits as one order of consumptions, across the included amount', async () => {
    // Pro's api_calls have no hard limit: these are counted without locks, answered from the
    // counter's value after each write. Every answer must be a step of one chain from 99,990.
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { api_calls: 99_990 });
    const inputs = Array.from({ length: 60 }, (_, i) => ({
      orgId: org.id,
      metric: 'api_calls',
      quantity: (i % 3) + 1,
    }));
    const results = await Promise.all(inputs.map((input, i) => consumeOn((i % 2) as 0 | 1, input)));
    expect(results.map((r) => r.errors)).toEqual(Array(60).fill(undefined));
    const steps = results
      .map((r, i) => ({ ...r.data!.checkQuota, quantity: inputs[i]!.quantity }))
      .sort((a, b) => a.used - b.used);
    let used = 99_990;
    for (const d of steps) {
      expect(d).toMatchObject({ allowed: true, consumed: true, used: used + d.quantity, limit: 100_000 });
      used = d.used;
      expect(d.reason).toBe(used > 100_000 ? 'OVERAGE' : 'WITHIN_INCLUDED');
      expect(d.remaining).toBe(Math.max(0, 100_000 - used));
    }
    expect(used).toBe(99_990 + 120);
    expect((await usedByMetric(server, org)).api_calls).toBe(used);
  });

  it('counts one idempotency key once when it arrives 32 times at once on two instances', async () => {
    const org = await createTestOrg(server, 'pro');
    const input = { orgId: org.id, metric: 'tokens', quantity: 7, idempotencyKey: randomUUID() };
    const others = Array.from({ length: 16 }, () => ({ orgId: org.id, metric: 'tokens', quantity: 1 }));
    const results = await Promise.all([
      ...Array.from({ length: 32 }, (_, i) => consumeOn((i % 2) as 0 | 1, input)),
      ...others.map((o, i) => consumeOn((i % 2) as 0 | 1, o)),
    ]);
    expect(results.map((r) => r.errors)).toEqual(Array(48).fill(undefined));
    const keyed = results.slice(0, 32).map((r) => r.data!.checkQuota);
    expect(keyed.filter((d) => d.consumed)).toHaveLength(1);
    expect(keyed.every((d) => d.allowed)).toBe(true);
    expect((await usedByMetric(server, org)).tokens).toBe(7 + 16);
  });

  it('keeps a BLOCK budget cap exact when a burst spends it across two metrics', async () => {
    const org = await createTestOrg(server, 'pro');
    const admin = await server.adminToken();
    const set = await server.gql(
      `mutation ($input: SetBudgetCapInput!) { setBudgetCap(input: $input) { org { id } } }`,
      { input: { orgId: org.id, maxOverage: '10', action: 'BLOCK' } },
      admin,
    );
    expect(set.errors).toBeUndefined();
    // $9.00 of token overage, api_calls at their 100,000 included: $1.00 of the cap is left.
    await addUsage(server, org, { tokens: 590_000, api_calls: 100_000 });
    // Each consumption costs $0.10: 1,000 tokens at $0.0001, or 100 calls at $0.001.
    const inputs = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? { orgId: org.id, metric: 'tokens', quantity: 1_000 }
        : { orgId: org.id, metric: 'api_calls', quantity: 100 },
    );
    const results = await Promise.all(inputs.map((input, i) => consumeOn((i % 2) as 0 | 1, input)));
    expect(results.map((r) => r.errors)).toEqual(Array(40).fill(undefined));
    const decisions = results.map((r) => r.data!.checkQuota);
    expect(decisions.filter((d) => d.consumed)).toHaveLength(10);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.reason === 'BUDGET_CAP')).toBe(true);
    const used = await usedByMetric(server, org);
    const spentTenths = (used.tokens! - 590_000) / 1_000 + (used.api_calls! - 100_000) / 100;
    expect(spentTenths).toBe(10);
  });

  it('keeps a BLOCK budget cap exact when concurrent recordUsage calls spend it across two metrics', async () => {
    const org = await createTestOrg(server, 'pro');
    const set = await server.gql(
      `mutation ($input: SetBudgetCapInput!) { setBudgetCap(input: $input) { org { id } } }`,
      { input: { orgId: org.id, maxOverage: '10', action: 'BLOCK' } },
      await server.adminToken(),
    );
    expect(set.errors).toBeUndefined();
    await addUsage(server, org, { tokens: 590_000, api_calls: 100_000 });
    const event = (i: number) =>
      i % 2 === 0
        ? { id: randomUUID(), orgId: org.id, metric: 'tokens', quantity: 1_000 }
        : { id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 100 };
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => record(server, [event(i)])));
    expect(results.map((r) => r.errors)).toEqual(Array(30).fill(undefined));
    const accepted = results.reduce((n, r) => n + r.data!.recordUsage.accepted, 0);
    expect(accepted).toBe(10);
    const used = await usedByMetric(server, org);
    expect((used.tokens! - 590_000) / 1_000 + (used.api_calls! - 100_000) / 100).toBe(10);
  });
});
