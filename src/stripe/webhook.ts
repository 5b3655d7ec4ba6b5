import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import Stripe from 'stripe';
import type { Clock } from '../clock.ts';
import { isStorableText } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { forgetStripeCustomer, recordStripeEvent, setInvoiceState } from './webhook-repository.ts';

const MAX_BODY_BYTES = 1_000_000;

const INVOICE_STATES: Record<string, string> = {
  'invoice.paid': 'paid',
  'invoice.payment_failed': 'payment_failed',
  'invoice.finalized': 'finalized',
};

type InvoiceLine = {
  metadata?: Record<string, string> | null;
  invoice_item?: string | null;
  parent?: { invoice_item_details?: { invoice_item?: string | null } | null } | null;
};

/**
 * POST /webhooks/stripe. The signature is verified on the raw body with STRIPE_WEBHOOK_SECRET
 * (400 and nothing changed when it does not verify); each event id is processed once: the id is
 * recorded in the same transaction as the state change, so a redelivery changes nothing.
 */
export function stripeWebhookHandler(deps: {
  db: Db;
  secret: string | undefined;
  clock: Clock;
  log: Logger;
}) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const answer = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') return answer(405, { error: 'POST only' });
    if (!deps.secret) return answer(503, { error: 'STRIPE_WEBHOOK_SECRET is not configured' });
    const raw = await readBody(req);
    if (!raw) return answer(413, { error: 'body too large' });
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(raw, String(req.headers['stripe-signature'] ?? ''), deps.secret);
    } catch (error) {
      deps.log.warn({ err: error }, 'Stripe webhook with a bad signature');
      return answer(400, { error: 'signature verification failed' });
    }
    const malformed = malformedEvent(event);
    if (malformed) {
      deps.log.warn({ problem: malformed }, 'Stripe webhook with a malformed event');
      return answer(400, { error: `malformed event: ${malformed}` });
    }
    const processed = await deps.db.transaction(async (tx) => {
      if (!(await recordStripeEvent(tx, { id: event.id, type: event.type, at: deps.clock() }))) return false;
      const state = INVOICE_STATES[event.type];
      if (state) {
        const invoice = event.data.object as { id: string; lines?: { data?: InvoiceLine[] } };
        const lines = invoice.lines?.data ?? [];
        await setInvoiceState(tx, {
          invoiceId: invoice.id,
          state,
          keys: lines.map((l) => l?.metadata?.meterline_key).filter(isId),
          stripeItemIds: lines
            .map((l) => l?.parent?.invoice_item_details?.invoice_item ?? l?.invoice_item)
            .filter(isId),
        });
      } else if (event.type === 'customer.deleted') {
        await forgetStripeCustomer(tx, (event.data.object as { id: string }).id);
      }
      return true;
    });
    answer(200, { received: true, duplicate: !processed });
  };
}

const isId = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && isStorableText(value);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A signed body is Stripe's, but its shape is still checked before it reaches SQL: what this
 * handler reads must have the types it is read as. Returns what is wrong, or null.
 */
function malformedEvent(event: unknown): string | null {
  if (!isObject(event)) return 'not a JSON object';
  if (!isId(event.id)) return 'id must be a non-empty string';
  if (typeof event.type !== 'string' || !isStorableText(event.type)) return 'type must be a string';
  if (!INVOICE_STATES[event.type] && event.type !== 'customer.deleted') return null;
  const object = isObject(event.data) ? event.data.object : undefined;
  if (!isObject(object) || !isId(object.id)) return `data.object.id must be a string for ${event.type}`;
  const lines = isObject(object.lines) ? object.lines.data : undefined;
  if (object.lines !== undefined && object.lines !== null && !Array.isArray(lines)) {
    return 'data.object.lines.data must be a list';
  }
  return null;
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
