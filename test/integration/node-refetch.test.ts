import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKey } from '../helpers/api-keys.ts';
import { closePeriod } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

const NODE = 'query ($id: ID!) { node(id: $id) { __typename id } }';
type NodeAnswer = { node: { __typename: string; id: string } | null };

describe.each(testDatabases())('node(id) of every Node type on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  const nodeAs = async (id: string, token: string) =>
    (await server.gql<NodeAnswer>(NODE, { id }, token)).data?.node ?? null;

  it('refetches invoice items, alerts, audit entries, webhook endpoints and deliveries, for those who may read them only', async () => {
    const org = await createTestOrg(server, 'pro');
    // An invoice item: last month's overage (pro includes 100,000 api_calls), its period closed.
    const now = new Date();
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) - 12 * 3_600_000);
    await addUsage(server, org, { api_calls: 150_000 }, lastMonth);
    expect((await closePeriod(server, { orgId: org.id })).errors).toBeUndefined();
    // A webhook endpoint (its host does not resolve here: accepted, its deliveries fail as DNS).
    const endpoint = await server.gql<{ createWebhookEndpoint: { endpoint: { id: string } } }>(
      `mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }`,
      { input: { orgId: org.id, url: 'https://hooks.example.com/meterline' } },
      org.ownerToken,
    );
    expect(endpoint.errors).toBeUndefined();
    // Alerts (and a delivery of each to the endpoint): 90,000 of this month's 100,000.
    await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 90_000 }]);
    const admin = await server.adminToken();
    type Ids = { invoiceItem?: string; alert?: string; audit?: string; endpoint?: string; delivery?: string };
    let ids: Ids = {};
    for (let attempt = 0; attempt < 50 && !(ids.alert && ids.delivery); attempt++) {
      const res = await server.gql<{
        org: {
          invoiceItems: { edges: { node: { id: string } }[] };
          usageAlerts: { id: string }[];
          webhookEndpoints: { id: string; deliveries: { id: string }[] }[];
        };
        auditEntries: { edges: { node: { id: string } }[] };
      }>(
        `query ($id: ID!) { org(id: $id) { invoiceItems(first: 1) { edges { node { id } } } usageAlerts { id }
            webhookEndpoints { id deliveries { id } } }
          auditEntries(first: 1, action: "createOrg") { edges { node { id } } } }`,
        { id: org.id },
        admin,
      );
      expect(res.errors).toBeUndefined();
      ids = {
        invoiceItem: res.data!.org.invoiceItems.edges[0]?.node.id,
        alert: res.data!.org.usageAlerts[0]?.id,
        audit: res.data!.auditEntries.edges[0]?.node.id,
        endpoint: res.data!.org.webhookEndpoints[0]?.id,
        delivery: res.data!.org.webhookEndpoints[0]?.deliveries[0]?.id,
      };
      if (!(ids.alert && ids.delivery)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { invoiceItem, alert, audit, endpoint: endpointId, delivery } = ids as Required<Ids>;
    expect([invoiceItem, alert, audit, endpointId, delivery].every(Boolean)).toBe(true);
    expect(endpointId).toBe(endpoint.data!.createWebhookEndpoint.endpoint.id);

    expect(await nodeAs(invoiceItem, org.ownerToken)).toEqual({ __typename: 'InvoiceItem', id: invoiceItem });
    expect(await nodeAs(alert, org.ownerToken)).toEqual({ __typename: 'UsageAlert', id: alert });
    expect(await nodeAs(audit, admin)).toEqual({ __typename: 'AuditEntry', id: audit });
    expect(await nodeAs(endpointId, org.ownerToken)).toEqual({
      __typename: 'WebhookEndpoint',
      id: endpointId,
    });
    expect(await nodeAs(delivery, org.ownerToken)).toEqual({ __typename: 'WebhookDelivery', id: delivery });

    // Another org's owner sees none of them; the audit log is the platform admin's only.
    const stranger = await createTestOrg(server, 'pro');
    for (const id of [invoiceItem, alert, audit, endpointId, delivery]) {
      expect(await nodeAs(id, stranger.ownerToken)).toBeNull();
    }
    expect(await nodeAs(audit, org.ownerToken)).toBeNull();
    // An API key reads what its scopes grant: billing needs BILLING_READ, alerts USAGE_READ.
    const billing = await createTestKey(server, org, { scopes: ['BILLING_READ'] });
    const usage = await createTestKey(server, org, { scopes: ['USAGE_READ'] });
    expect(await nodeAs(invoiceItem, billing.secret)).toMatchObject({ id: invoiceItem });
    expect(await nodeAs(alert, billing.secret)).toBeNull();
    expect(await nodeAs(alert, usage.secret)).toMatchObject({ id: alert });
    expect(await nodeAs(invoiceItem, usage.secret)).toBeNull();
    // Endpoints and deliveries are the org's OWNERs' and ADMINs': no key, no plain member.
    const memberId = `member-${randomUUID()}`;
    const added = await server.gql(
      'mutation ($input: AddMemberInput!) { addMember(input: $input) { __typename } }',
      { input: { orgId: org.id, userId: memberId, role: 'MEMBER' } },
      org.ownerToken,
    );
    expect(added.errors).toBeUndefined();
    const member = await server.token(memberId);
    for (const token of [billing.secret, usage.secret, member]) {
      expect(await nodeAs(endpointId, token)).toBeNull();
      expect(await nodeAs(delivery, token)).toBeNull();
    }
    expect(await nodeAs(endpointId, admin)).toMatchObject({ id: endpointId });
  });
});
