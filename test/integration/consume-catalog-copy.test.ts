import { describe, expect, it } from 'vitest';
import { postGraphQL, twoInstances } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, createTestOrg, type TestOrg, unique } from '../helpers/fixtures.ts';
import { TEST_SERVICE_TOKEN } from '../helpers/server.ts';
import { CHECK_QUOTA, type QuotaResult, usedByMetric } from '../helpers/usage.ts';

/**
 * Consumptions that cannot be refused are decided on each instance from a copy of the orgs'
 * catalog, checked against the database's catalog versions in the write that counts them. Here
 * the copy is filled on the second instance, the catalog is changed through the first one (so the
 * second hears nothing of it), and the second instance's very next decision must follow the change.
 */
describe.each(testDatabases())('the consumption catalog copy on %s', (kind) => {
  const instances = twoInstances(kind);

  /** checkQuota with consume on the second instance, as the service. */
  async function consumeOnSecond(org: TestOrg, quantity = 1): Promise<QuotaResult> {
    const res = await postGraphQL<{ checkQuota: QuotaResult }>(
      instances.second.url,
      CHECK_QUOTA,
      { authorization: `Bearer ${TEST_SERVICE_TOKEN}` },
      { input: { orgId: org.id, metric: 'api_calls', quantity, consume: true } },
    );
    expect(res.errors).toBeUndefined();
    return res.data!.checkQuota;
  }

  async function asAdmin(query: string, input: Record<string, unknown>) {
    const res = await instances.server.gql(query, { input }, instances.admin);
    expect(res.errors).toBeUndefined();
  }

  /** A pro org at 1,000 API calls whose catalog the second instance has copied (one consumption). */
  async function copiedProOrg(): Promise<TestOrg> {
    const org = await createTestOrg(instances.server, 'pro');
    await addUsage(instances.server, org, { api_calls: 999 });
    expect(await consumeOnSecond(org)).toMatchObject({ allowed: true, consumed: true, used: 1000 });
    return org;
  }

  it('follows a plan change at once: pro to free is refused at the hard limit', async () => {
    const org = await copiedProOrg();
    await asAdmin(`mutation ($input: ChangePlanInput!) { changePlan(input: $input) { org { id } } }`, {
      orgId: org.id,
      planCode: 'free',
    });
    expect(await consumeOnSecond(org)).toMatchObject({
      allowed: false,
      reason: 'HARD_LIMIT',
      used: 1000,
      consumed: false,
    });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(1000);
  });

  it('follows a new override of the org at once', async () => {
    const org = await copiedProOrg();
    await asAdmin(
      `mutation ($input: SetEntitlementOverrideInput!) { setEntitlementOverride(input: $input) { override { hardLimit } } }`,
      { orgId: org.id, metric: 'api_calls', included: 1000, hardLimit: 1000 },
    );
    expect(await consumeOnSecond(org)).toMatchObject({ allowed: false, reason: 'HARD_LIMIT', used: 1000 });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(1000);
  });

  it("follows a change of the plan's entitlements at once", async () => {
    const code = unique('walled').toLowerCase();
    await asAdmin(`mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan { code } } }`, {
      code,
      name: 'Walled later',
      basePrice: '1',
      entitlements: [{ metric: 'api_calls', included: 10 }],
    });
    const org = await createTestOrg(instances.server, code);
    await addUsage(instances.server, org, { api_calls: 9 });
    expect(await consumeOnSecond(org)).toMatchObject({ allowed: true, consumed: true, used: 10 });
    await asAdmin(`mutation ($input: UpdatePlanInput!) { updatePlan(input: $input) { plan { code } } }`, {
      code,
      entitlements: [{ metric: 'api_calls', included: 10, hardLimit: 10 }],
    });
    expect(await consumeOnSecond(org)).toMatchObject({ allowed: false, reason: 'HARD_LIMIT', used: 10 });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(10);
  });

  it('follows a new budget cap at once', async () => {
    const org = await createTestOrg(instances.server, 'pro');
    await addUsage(instances.server, org, { api_calls: 100_000 });
    expect(await consumeOnSecond(org)).toMatchObject({ allowed: true, reason: 'OVERAGE', used: 100_001 });
    await asAdmin(`mutation ($input: SetBudgetCapInput!) { setBudgetCap(input: $input) { org { id } } }`, {
      orgId: org.id,
      maxOverage: '0',
      action: 'BLOCK',
    });
    // Pro's api_calls overage is priced per unit: any more overage passes a cap of 0.
    expect(await consumeOnSecond(org, 1000)).toMatchObject({ allowed: false, reason: 'BUDGET_CAP' });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(100_001);
  });

  it('follows a change that lifts a limit (the copy does not keep refusing)', async () => {
    const org = await createTestOrg(instances.server, 'free');
    await addUsage(instances.server, org, { api_calls: 1000 });
    expect(await consumeOnSecond(org)).toMatchObject({ allowed: false, reason: 'HARD_LIMIT' });
    await asAdmin(`mutation ($input: ChangePlanInput!) { changePlan(input: $input) { org { id } } }`, {
      orgId: org.id,
      planCode: 'pro',
    });
    expect(await consumeOnSecond(org)).toMatchObject({ allowed: true, consumed: true, used: 1001 });
  });
});
