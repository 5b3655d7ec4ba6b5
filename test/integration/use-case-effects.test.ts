import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import type { DomainEvent } from '../../src/events/domain-events.ts';
import { closePeriod, rawOrgId } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, codeOf, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const CHANGE_PLAN = `mutation ($input: ChangePlanInput!) { changePlan(input: $input) { org { id } } }`;
const RECALC = `mutation ($input: RecalculateOveragesInput!) {
  recalculateOverages(input: $input) { summary { total { amount } calculatedAt } } }`;
const AUDIT = `query ($target: String) { auditLog(target: $target) { action } }`;

const FEB_10 = new Date('2026-02-10T12:00:00Z');
const MARCH_15 = new Date('2026-03-15T09:00:00Z');

/** Use cases own their effects: audit rows and events go with the commit, never without it. */
describe.each(testDatabases())('effects of use cases (%s)', (kind) => {
  let server: TestServer;
  let admin: string;
  const heard: DomainEvent[] = [];
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.adminToken();
    server.meterline.events.subscribe('usageChanged', (e) => void heard.push(e));
  });
  afterAll(() => server?.close());

  const heardFor = (orgId: string) =>
    heard.filter((e) => e.type === 'usageChanged' && e.orgIds.includes(orgId)).length;
  const auditActions = async (target: string) =>
    (await server.gql<{ auditLog: { action: string }[] }>(AUDIT, { target }, admin)).data!.auditLog.map(
      (a) => a.action,
    );

  it('a committed change is audited and told once, after the commit', async () => {
    const org = await createTestOrg(server, 'pro');
    const res = await server.gql(CHANGE_PLAN, { input: { orgId: org.id, planCode: 'free' } }, admin);
    expect(res.errors).toBeUndefined();
    expect(heardFor(rawOrgId(org))).toBe(1);
    expect(await auditActions(`org:${rawOrgId(org)}`)).toContain('changePlan');
  });

  it('a change that fails at commit leaves no audit record and tells nobody', async () => {
    const org = await createTestOrg(server, 'pro');
    const id = rawOrgId(org);
    // Refuses this org's plan change when the transaction commits: after the audit row was written.
    const { db } = server.database;
    await db.execute(
      sql.raw(`create or replace function refuse_plan_change() returns trigger language plpgsql as $$
        begin
          if new.id = '${id}' and new.plan_id <> old.plan_id then
            raise exception 'plan change refused at commit';
          end if;
          return new;
        end $$`),
    );
    await db.execute(
      sql.raw(`create constraint trigger refuse_plan_change after update on orgs
        deferrable initially deferred for each row execute function refuse_plan_change()`),
    );
    try {
      const res = await server.gql(CHANGE_PLAN, { input: { orgId: org.id, planCode: 'free' } }, admin);
      expect(codeOf(res)).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await db.execute(sql.raw('drop trigger refuse_plan_change on orgs'));
    }
    expect(await auditActions(`org:${id}`)).not.toContain('changePlan');
    expect(heardFor(id)).toBe(0);
    const plans = rowsOf<{ code: string }>(
      await db.execute(sql`select p.code from orgs o join plans p on p.id = o.plan_id where o.id = ${id}`),
    );
    expect(plans).toEqual([{ code: 'pro' }]);
  });

  it('recalculating a closed period needs force, decided by the use case', async () => {
    server.setNow(MARCH_15);
    try {
      const org = await createTestOrg(server, 'pro');
      await addUsage(server, org, { tokens: 750_000 }, FEB_10);
      expect((await closePeriod(server, { orgId: org.id })).errors).toBeUndefined();
      const input = { orgId: org.id, at: FEB_10.toISOString() };
      const refused = await server.gql(RECALC, { input }, admin);
      expect(codeOf(refused)).toBe('CONFLICT');
      expect(refused.errors?.[0]?.message).toBe(
        'This period is closed and invoiced; pass force: true to recalculate its lines anyway.',
      );
      expect(heardFor(rawOrgId(org))).toBe(0);
      const forced = await server.gql(RECALC, { input: { ...input, force: true } }, admin);
      expect(forced.errors).toBeUndefined();
      expect(heardFor(rawOrgId(org))).toBe(1);
      const future = await server.gql(
        RECALC,
        { input: { orgId: org.id, at: '2027-01-01T00:00:00Z' } },
        admin,
      );
      expect(codeOf(future)).toBe('BAD_USER_INPUT');
    } finally {
      server.setNow(undefined);
    }
  });
});
