import { orgIdFromInput } from '../../src/orgs/org-id.ts';
import type { TestOrg } from './fixtures.ts';
import type { TestServer } from './server.ts';

export const CLOSE_PERIOD = `mutation ($input: CloseBillingPeriodInput) {
  closeBillingPeriod(input: $input) { periodsClosed alreadyClosed notEnded itemsCreated failed { orgId message } } }`;

export const INVOICE_ITEMS = `query ($id: ID!) { org(id: $id) { invoiceItems(first: 50) { edges { node {
  metric { key } amount { amount amountMinor currency } idempotencyKey description status stripeId attempts lastError
  periodStart } } } } }`;

export type InvoiceItemResult = {
  metric: { key: string };
  amount: { amount: string; amountMinor: number; currency: string };
  idempotencyKey: string;
  description: string;
  status: string;
  stripeId: string | null;
  attempts: number;
  lastError: string | null;
  periodStart: string;
};

/** The org's raw UUID (keys and metadata use it). */
export const rawOrgId = (org: TestOrg) => orgIdFromInput(org.id)!;

export async function closePeriod(server: TestServer, input: Record<string, unknown> = {}) {
  return server.gql<{
    closeBillingPeriod: {
      periodsClosed: number;
      alreadyClosed: number;
      notEnded: number;
      itemsCreated: number;
      failed: { orgId: string; message: string }[];
    };
  }>(CLOSE_PERIOD, { input }, await server.adminToken());
}

export async function invoiceItemsOf(server: TestServer, org: TestOrg): Promise<InvoiceItemResult[]> {
  const res = await server.gql<{ org: { invoiceItems: { edges: { node: InvoiceItemResult }[] } } }>(
    INVOICE_ITEMS,
    { id: org.id },
    await server.adminToken(),
  );
  if (!res.data?.org) throw new Error(`invoiceItems failed: ${JSON.stringify(res.errors)}`);
  return res.data.org.invoiceItems.edges.map((e) => e.node);
}
