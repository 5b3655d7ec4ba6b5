import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKey } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import {
  addTestMetric,
  addUsage,
  codeOf,
  createTestOrg,
  createTestPlan,
  type TestOrg,
  unique,
} from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';
import { consume, record, usedByMetric } from '../helpers/usage.ts';

const UPDATE_PLAN = `mutation ($input: UpdatePlanInput!) { updatePlan(input: $input) { plan { code name active
  entitlements { metric { key } included hardLimit overagePrice { model unitPrice packageSize packagePrice tiers { upTo unitPrice } } } } } }`;
const SET_OVERRIDE = `mutation ($input: SetEntitlementOverrideInput!) { setEntitlementOverride(input: $input) {
  override { included softLimit hardLimit unlimited } } }`;
const SET_BUDGET = `mutation ($input: SetBudgetCapInput!) { setBudgetCap(input: $input) {
  org { budgetCap { maxOverage { amount currency } action alertedAt } } } }`;
const AUDIT = `query ($target: String) { auditLog(target: $target) { actor action target before after at } }`;

describe.each(testDatabases())('billing administration on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.adminToken();
  });
  afterAll(() => server?.close());

  const setBudget = (org: TestOrg, maxOverage: string | null, action = 'BLOCK') =>
    server.gql(SET_BUDGET, { input: { orgId: org.id, maxOverage, action } }, admin);

  it('creates GRADUATED and PACKAGE plans, updates one, and audits the change', async () => {
    const code = unique('tiered').toLowerCase();
    const created = await server.gql(
      `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan { code } } }`,
      {
        input: {
          code,
          name: 'Tiered',
          basePrice: '10',
          entitlements: [
            {
              metric: 'tokens',
              included: 1000,
              overage: {
                model: 'GRADUATED',
                tiers: [
                  { upTo: 1000, unitPrice: '0.01' },
                  { upTo: null, unitPrice: '0.005' },
                ],
              },
            },
            {
              metric: 'playbook_runs',
              included: 10,
              overage: { model: 'PACKAGE', packageSize: 10, packagePrice: '5' },
            },
          ],
        },
      },
      admin,
    );
    expect(created.errors).toBeUndefined();
    const updated = await server.gql<{ updatePlan: { plan: { name: string; entitlements: unknown[] } } }>(
      UPDATE_PLAN,
      {
        input: {
          code,
          name: 'Tiered v2',
          entitlements: [
            { metric: 'api_calls', included: 500, overage: { model: 'PER_UNIT', unitPrice: '0.002' } },
          ],
          removeMetrics: ['playbook_runs'],
        },
      },
      admin,
    );
    expect(updated.errors).toBeUndefined();
    expect(updated.data!.updatePlan.plan.name).toBe('Tiered v2');
    // A name PostgreSQL cannot store, or a price past 2^53-1 minor units: refused with the field named.
    for (const change of [{ name: 'bad\u0000name' }, { basePrice: '100000000000000' }]) {
      const refused = await server.gql(UPDATE_PLAN, { input: { code, ...change } }, admin);
      expect(codeOf(refused)).toBe('BAD_USER_INPUT');
      expect(refused.errors![0]!.message).toMatch(/name|basePrice/);
    }
    expect(updated.data!.updatePlan.plan.entitlements).toEqual([
      {
        metric: { key: 'api_calls' },
        included: 500,
        hardLimit: null,
        overagePrice: {
          model: 'PER_UNIT',
          unitPrice: '0.002',
          packageSize: null,
          packagePrice: null,
          tiers: null,
        },
      },
      {
        metric: { key: 'tokens' },
        included: 1000,
        hardLimit: null,
        overagePrice: {
          model: 'GRADUATED',
          unitPrice: null,
          packageSize: null,
          packagePrice: null,
          tiers: [
            { upTo: 1000, unitPrice: '0.01' },
            { upTo: null, unitPrice: '0.005' },
          ],
        },
      },
    ]);
    const audit = await server.gql<{
      auditLog: {
        actor: string;
        action: string;
        before: { plan: { name: string } };
        after: { plan: { name: string } };
      }[];
    }>(AUDIT, { target: `plan:${code}` }, admin);
    expect(audit.data!.auditLog).toHaveLength(1);
    expect(audit.data!.auditLog[0]).toMatchObject({ actor: 'user:platform-admin', action: 'updatePlan' });
    expect(audit.data!.auditLog[0]!.before.plan.name).toBe('Tiered');
    expect(audit.data!.auditLog[0]!.after.plan.name).toBe('Tiered v2');

    const bad = await server.gql(
      UPDATE_PLAN,
      { input: { code, entitlements: [{ metric: 'tokens', included: 10, hardLimit: 5 }] } },
      admin,
    );
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    const org = await createTestOrg(server, 'pro');
    expect(codeOf(await server.gql(UPDATE_PLAN, { input: { code, name: 'x' } }, org.ownerToken))).toBe(
      'FORBIDDEN',
    );
  });

  it('applies an entitlement override (effective = override ?? plan) and audits it', async () => {
    const org = await createTestOrg(server, 'free');
    const res = await server.gql<{ setEntitlementOverride: { override: unknown } }>(
      SET_OVERRIDE,
      { input: { orgId: org.id, metric: 'api_calls', included: 2000, hardLimit: 2000 } },
      admin,
    );
    expect(res.data!.setEntitlementOverride.override).toEqual({
      included: 2000,
      softLimit: null,
      hardLimit: 2000,
      unlimited: false,
    });
    await addUsage(server, org, { api_calls: 1500 });
    const allowed = await consume(server, { orgId: org.id, metric: 'api_calls', quantity: 500 });
    expect(allowed.data!.checkQuota).toMatchObject({ allowed: true, used: 2000, limit: 2000 });
    const denied = await consume(server, { orgId: org.id, metric: 'api_calls', quantity: 1 });
    expect(denied.data!.checkQuota).toMatchObject({ allowed: false, reason: 'HARD_LIMIT' });

    const invalid = await server.gql(
      SET_OVERRIDE,
      { input: { orgId: org.id, metric: 'tokens', unlimited: true, included: 5 } },
      admin,
    );
    expect(codeOf(invalid)).toBe('BAD_USER_INPUT');
    const cleared = await server.gql<{ setEntitlementOverride: { override: unknown } }>(
      SET_OVERRIDE,
      { input: { orgId: org.id, metric: 'api_calls', clear: true } },
      admin,
    );
    expect(cleared.data!.setEntitlementOverride.override).toBeNull();
    const audit = await server.gql<{ auditLog: { action: string }[] }>(AUDIT, { target: null }, admin);
    expect(
      audit.data!.auditLog.filter((a) => a.action === 'setEntitlementOverride').length,
    ).toBeGreaterThanOrEqual(2);
    expect(codeOf(await server.gql(AUDIT, {}, org.ownerToken))).toBe('FORBIDDEN');
  });

  it('BLOCK budget cap: counts seat readings (a gauge) with the value they make', async () => {
    const code = unique('seats').toLowerCase();
    const plan = await server.gql(
      `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan { code } } }`,
      {
        input: {
          code,
          name: 'Priced seats',
          basePrice: '0',
          entitlements: [{ metric: 'seats', included: 5, overage: { model: 'PER_UNIT', unitPrice: '10' } }],
        },
      },
      admin,
    );
    expect(plan.errors).toBeUndefined();
    const org = await createTestOrg(server, code);
    expect((await setBudget(org, '50')).errors).toBeUndefined();
    const seat = (quantity: number) => ({ id: randomUUID(), orgId: org.id, metric: 'seats', quantity });
    // 10 seats = 5 over x $10 = $50: at the cap, allowed; 11 seats ($60) would pass it.
    const ok = await record(server, [seat(10)]);
    expect(ok.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [] });
    const over = await record(server, [seat(11), seat(9)]);
    expect(over.data!.recordUsage.accepted).toBe(1);
    expect(over.data!.recordUsage.rejected).toMatchObject([{ index: 0, code: 'BUDGET_CAP' }]);
    const denied = await consume(server, { orgId: org.id, metric: 'seats', quantity: 12 });
    expect(denied.data!.checkQuota).toMatchObject({ allowed: false, reason: 'BUDGET_CAP' });
    expect((await usedByMetric(server, org)).seats).toBe(10);
  });

  it('BLOCK budget cap: a LATEST reading older than the one counted costs nothing', async () => {
    const metric = await addTestMetric(server, 'gauge', 'LATEST');
    const code = await createTestPlan(server, {
      name: 'Priced gauge',
      entitlements: [{ metric, included: 5, overage: { model: 'PER_UNIT', unitPrice: '10' } }],
    });
    const org = await createTestOrg(server, code);
    expect((await setBudget(org, '50')).errors).toBeUndefined();
    const reading = (id: string, quantity: number, minutesFromNow: number) => ({
      id,
      orgId: org.id,
      metric,
      quantity,
      timestamp: new Date(Date.now() + minutesFromNow * 60_000).toISOString(),
    });
    // 6 read two minutes ahead ($10 of overage); 20 read half an hour ago would cost $150, but it
    // is older than the 6, so the period's value (and cost) stays where the 6 put it.
    const ahead = await record(server, [reading('ahead', 6, 2)]);
    expect(ahead.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [] });
    const older = await record(server, [reading('older', 20, -30)]);
    expect(older.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [] });
    expect((await usedByMetric(server, org))[metric]).toBe(6);
  });

  it('BLOCK budget cap: denies the consumption that takes overage past the cap (checkQuota and recordUsage)', async () => {
    const org = await createTestOrg(server, 'pro');
    const set = await setBudget(org, '10');
    expect(set.data).toMatchObject({
      setBudgetCap: {
        org: { budgetCap: { maxOverage: { amount: '10', currency: 'USD' }, action: 'BLOCK' } },
      },
    });
    await addUsage(server, org, { tokens: 590_000 }); // $9.00 of overage
    const upToCap = await consume(server, { orgId: org.id, metric: 'tokens', quantity: 10_000 }); // $10.00
    expect(upToCap.data!.checkQuota).toMatchObject({ allowed: true, reason: 'OVERAGE', used: 600_000 });
    const past = await consume(server, { orgId: org.id, metric: 'tokens', quantity: 100 }); // $10.01
    expect(past.data!.checkQuota).toMatchObject({ allowed: false, reason: 'BUDGET_CAP', used: 600_000 });
    const other = await consume(server, { orgId: org.id, metric: 'playbook_runs', quantity: 51 }); // +$1.00
    expect(other.data!.checkQuota).toMatchObject({ allowed: false, reason: 'BUDGET_CAP' });
    const within = await consume(server, { orgId: org.id, metric: 'playbook_runs', quantity: 50 }); // included
    expect(within.data!.checkQuota).toMatchObject({ allowed: true, reason: 'WITHIN_INCLUDED' });

    const batch = await record(server, [
      { id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 1000 },
      { id: randomUUID(), orgId: org.id, metric: 'tokens', quantity: 5000 },
    ]);
    expect(batch.data!.recordUsage.accepted).toBe(1);
    expect(batch.data!.recordUsage.rejected).toMatchObject([{ index: 1, code: 'BUDGET_CAP' }]);
    expect((await usedByMetric(server, org)).tokens).toBe(600_000);

    await setBudget(org, null);
    const uncapped = await consume(server, { orgId: org.id, metric: 'tokens', quantity: 100 });
    expect(uncapped.data!.checkQuota.allowed).toBe(true);
  });

  it('BLOCK budget cap: verifyApiKey answers QUOTA_EXCEEDED with reason BUDGET_CAP', async () => {
    const org = await createTestOrg(server, 'pro');
    const key = await createTestKey(server, org);
    await setBudget(org, '5');
    await addUsage(server, org, { api_calls: 105_000 }); // $5.00 of overage: at the cap
    const res = await server.gql<{
      verifyApiKey: { valid: boolean; code: string; quota: { reason: string } };
    }>(
      `mutation ($input: VerifyApiKeyInput!) { verifyApiKey(input: $input) { valid code quota { reason } } }`,
      { input: { key: key.secret, cost: 10 } }, // $5.01 > $5.00
      TEST_SERVICE_TOKEN,
    );
    expect(res.data!.verifyApiKey).toEqual({
      valid: false,
      code: 'QUOTA_EXCEEDED',
      quota: { reason: 'BUDGET_CAP' },
    });
  });

  it('ALERT budget cap: allows the consumption and raises the alert once', async () => {
    const org = await createTestOrg(server, 'pro');
    await setBudget(org, '1', 'ALERT');
    await addUsage(server, org, { api_calls: 100_000 });
    const res = await consume(server, { orgId: org.id, metric: 'api_calls', quantity: 2000 }); // $2.00
    expect(res.data!.checkQuota).toMatchObject({ allowed: true, reason: 'OVERAGE' });
    const read = async () =>
      (
        await server.gql<{ org: { budgetCap: { alertedAt: string | null } } }>(
          `query ($id: ID!) { org(id: $id) { budgetCap { alertedAt } } }`,
          { id: org.id },
          admin,
        )
      ).data!.org.budgetCap.alertedAt;
    const first = await read();
    expect(first).not.toBeNull();
    await consume(server, { orgId: org.id, metric: 'api_calls', quantity: 2000 });
    expect(await read()).toBe(first);
  });

  it('shows the billing flag to platform admins only', async () => {
    const res = await server.gql<{
      billingSettings: { overageBillingEnabled: boolean; stripeConfigured: boolean };
    }>(`{ billingSettings { overageBillingEnabled stripeConfigured } }`, {}, admin);
    expect(res.data!.billingSettings).toEqual({ overageBillingEnabled: true, stripeConfigured: false });
    const org = await createTestOrg(server, 'pro');
    expect(
      codeOf(await server.gql(`{ billingSettings { overageBillingEnabled } }`, {}, org.ownerToken)),
    ).toBe('FORBIDDEN');
  });
});
