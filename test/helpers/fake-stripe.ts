/**
 * An in-process fake of the Stripe API, enough for Meterline: customers and invoice items, with
 * idempotency keys as Stripe documents them (same key and same parameters: the first answer
 * again; same key with other parameters: an idempotency_error), Stripe's documented rules on
 * amounts (see `amountProblem`), and failures on demand (5xx, hanging requests past the client's
 * timeout, slow answers). Tests point the official SDK at it, so nothing reaches the internet;
 * every request it receives is recorded.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeInvoiceItem = {
  id: string;
  object: 'invoiceitem';
  amount: number;
  currency: string;
  customer: string;
  description: string | null;
  metadata: Record<string, string>;
  period: { start: number; end: number };
  date: number;
  livemode: false;
};

export type FakeCustomer = {
  id: string;
  object: 'customer';
  name: string | null;
  metadata: Record<string, string>;
  deleted?: boolean;
};

type Planned =
  | { kind: 'status'; status: number; message: string }
  | { kind: 'hang' }
  | { kind: 'hold' }
  | { kind: 'delay'; ms: number };

export type FakeRequest = {
  method: string;
  path: string;
  idempotencyKey: string | null;
  authorized: boolean;
  /** Answered from the idempotency store (Stripe's `Idempotent-Replayed: true`). */
  replayed?: boolean;
};

export type FakeStripe = {
  url: string;
  host: string;
  port: number;
  customers: Map<string, FakeCustomer>;
  invoiceItems: Map<string, FakeInvoiceItem>;
  requests: FakeRequest[];
  /** Write requests (POST) received and not answered yet. */
  inFlight(): number;
  /** The next `times` write requests (POST) answer `status` (e.g. 500) without doing anything. */
  failNext(times: number, status?: number, message?: string): void;
  /** The next `times` write requests fail (500) and succeed in turn, starting with a failure. */
  flapNext(times: number): void;
  /** Forgets the failures and delays planned and not used yet. */
  clearPlan(): void;
  /** Down: every connection is dropped as it opens (and open ones at once), as an unreachable Stripe. */
  setDown(down: boolean): void;
  /** The next `times` write requests get no answer (the client times out). */
  hangNext(times: number): void;
  /** The next `times` write requests wait until `release()`, then are carried out and answered. */
  holdNext(times: number): void;
  release(): void;
  /** The next `times` write requests are answered after `ms`. */
  slowNext(times: number, ms: number): void;
  /** Adds an invoice item Meterline did not send (for reconciliation tests). */
  addForeignItem(item: Partial<FakeInvoiceItem> & { customer: string; amount: number }): FakeInvoiceItem;
  close(): Promise<void>;
};

export const FAKE_STRIPE_KEY = 'sk_test_fake_meterline';

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

// Stripe's documented currency rules, written out here on their own (not taken from Meterline's
// code, so the fake checks Meterline against them): ISK and UGX are sent in hundredths but
// charged only in whole units; three-decimal currencies are sent in thousandths with a last
// digit of 0. (Zero-decimal currencies, MGA among them, take whole units: any integer.)
const WHOLE_UNITS_IN_HUNDREDTHS = new Set(['isk', 'ugx']);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** What Stripe answers about an invoice item's amount in a currency, or null when it takes it. */
function amountProblem(amount: number, currency: string): { code: string; message: string } | null {
  if (WHOLE_UNITS_IN_HUNDREDTHS.has(currency) && amount % 100 !== 0) {
    return {
      code: 'invalid_charge_amount_no_decimal_compatible',
      message: `Invalid amount. Currency ${currency.toUpperCase()} has become effectively zero-decimal and charged amounts must be evenly divisible by 100.`,
    };
  }
  if (THREE_DECIMAL.has(currency) && amount % 10 !== 0) {
    return {
      code: 'invalid_charge_amount',
      message: `Invalid amount. ${currency.toUpperCase()} amounts must have 0 as their least-significant digit: round to the nearest ten.`,
    };
  }
  return null;
}

/** Parses Stripe's form encoding (`metadata[org_id]=x&period[start]=1`) into nested objects. */
function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const parts = rawKey.split('[').map((p) => p.replace(/]$/, ''));
    let node = out as Record<string, unknown>;
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1) node[part] = value;
      else {
        node[part] ??= {};
        node = node[part] as Record<string, unknown>;
      }
    }
  }
  return out;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const customers = new Map<string, FakeCustomer>();
  const invoiceItems = new Map<string, FakeInvoiceItem>();
  const requests: FakeStripe['requests'] = [];
  const idempotent = new Map<string, { params: string; status: number; body: unknown }>();
  const plan: Planned[] = [];
  const hung = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let down = false;
  let inFlight = 0;
  const holds: (() => void)[] = [];

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') });
    res.end(JSON.stringify(body));
  };
  const error = (status: number, type: string, message: string, code?: string) => ({
    status,
    body: { error: { type, message, ...(code ? { code } : {}) } },
  });

  function handle(method: string, path: string, query: URLSearchParams, params: Record<string, unknown>) {
    const now = Math.floor(Date.now() / 1000);
    if (method === 'POST' && path === '/v1/customers') {
      const customer: FakeCustomer = {
        id: id('cus'),
        object: 'customer',
        name: (params.name as string) ?? null,
        metadata: (params.metadata as Record<string, string>) ?? {},
      };
      customers.set(customer.id, customer);
      return { status: 200, body: customer };
    }
    if (method === 'POST' && path === '/v1/invoiceitems') {
      const customer = customers.get(String(params.customer));
      if (!customer || customer.deleted) {
        return error(400, 'invalid_request_error', `No such customer: '${String(params.customer)}'`);
      }
      const amount = Number(params.amount);
      if (!Number.isSafeInteger(amount))
        return error(400, 'invalid_request_error', 'Invalid integer: amount');
      const problem = amountProblem(amount, String(params.currency));
      if (problem) return error(400, 'invalid_request_error', problem.message, problem.code);
      const period = params.period as { start?: string; end?: string } | undefined;
      const item: FakeInvoiceItem = {
        id: id('ii'),
        object: 'invoiceitem',
        amount,
        currency: String(params.currency),
        customer: customer.id,
        description: (params.description as string) ?? null,
        metadata: (params.metadata as Record<string, string>) ?? {},
        period: { start: Number(period?.start ?? now), end: Number(period?.end ?? now) },
        date: now,
        livemode: false,
      };
      invoiceItems.set(item.id, item);
      return { status: 200, body: item };
    }
    if (method === 'GET' && path === '/v1/invoiceitems') {
      const customer = query.get('customer');
      const data = [...invoiceItems.values()].filter((i) => !customer || i.customer === customer);
      return { status: 200, body: { object: 'list', data, has_more: false, url: '/v1/invoiceitems' } };
    }
    const customerPath = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (method === 'GET' && customerPath) {
      const customer = customers.get(customerPath[1]!);
      return customer
        ? { status: 200, body: customer }
        : error(404, 'invalid_request_error', 'No such customer');
    }
    return error(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path})`);
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = Buffer.concat(chunks).toString('utf8');
      const key = (req.headers['idempotency-key'] as string | undefined) ?? null;
      const authorized = req.headers.authorization === `Bearer ${FAKE_STRIPE_KEY}`;
      const request: FakeRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        idempotencyKey: key,
        authorized,
      };
      requests.push(request);
      if (!authorized)
        return send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key' } });
      if (req.method === 'POST') {
        const next = plan.shift();
        if (next?.kind === 'hang') {
          hung.add(res);
          return;
        }
        if (next?.kind === 'hold') {
          inFlight++;
          await new Promise<void>((resolve) => holds.push(resolve));
          inFlight--;
        }
        if (next?.kind === 'delay') {
          // Like Stripe, the request is carried out even if the client has gone away meanwhile.
          inFlight++;
          await new Promise((r) => setTimeout(r, next.ms));
          inFlight--;
        }
        if (next?.kind === 'status') {
          const type = next.status < 500 ? 'invalid_request_error' : 'api_error';
          return send(res, next.status, { error: { type, message: next.message } });
        }
      }
      const params = parseForm(body);
      const canonical = new URLSearchParams([...new URLSearchParams(body)].sort()).toString();
      const scope = `${req.method} ${url.pathname} ${key}`;
      if (key && req.method === 'POST') {
        const seen = idempotent.get(scope);
        if (seen) {
          if (seen.params !== canonical) {
            return send(res, 400, {
              error: {
                type: 'idempotency_error',
                message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
              },
            });
          }
          request.replayed = true;
          res.setHeader('idempotent-replayed', 'true');
          return send(res, seen.status, seen.body);
        }
      }
      const result = handle(req.method ?? 'GET', url.pathname, url.searchParams, params);
      if (key && req.method === 'POST') idempotent.set(scope, { params: canonical, ...result });
      send(res, result.status, result.body);
    });
  });
  server.on('connection', (socket: Socket) => {
    if (down) return socket.destroy();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    customers,
    invoiceItems,
    requests,
    inFlight: () => inFlight,
    clearPlan: () => {
      plan.length = 0;
    },
    failNext: (times, status = 500, message = 'Injected failure') => {
      for (let i = 0; i < times; i++) plan.push({ kind: 'status', status, message });
    },
    flapNext: (times) => {
      for (let i = 0; i < times; i++) {
        plan.push(
          i % 2 === 0 ? { kind: 'status', status: 500, message: 'Flapping' } : { kind: 'delay', ms: 0 },
        );
      }
    },
    setDown: (value) => {
      down = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    hangNext: (times) => {
      for (let i = 0; i < times; i++) plan.push({ kind: 'hang' });
    },
    holdNext: (times) => {
      for (let i = 0; i < times; i++) plan.push({ kind: 'hold' });
    },
    release: () => {
      for (const resolve of holds.splice(0)) resolve();
    },
    slowNext: (times, ms) => {
      for (let i = 0; i < times; i++) plan.push({ kind: 'delay', ms });
    },
    addForeignItem(item) {
      const now = Math.floor(Date.now() / 1000);
      const full: FakeInvoiceItem = {
        id: id('ii'),
        object: 'invoiceitem',
        currency: 'usd',
        description: null,
        metadata: {},
        period: { start: now, end: now },
        date: now,
        livemode: false,
        ...item,
      };
      invoiceItems.set(full.id, full);
      return full;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        for (const resolve of holds.splice(0)) resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
