import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { GraphQLResponse } from './server.ts';

export const USAGE_UPDATED = `subscription ($orgId: ID!) {
  usageUpdated(orgId: $orgId) { asOf period { start end } metrics { metric { key } used included overageUnits } } }`;

export type UsagePush = {
  usageUpdated: { asOf: string; metrics: { metric: { key: string }; used: number; overageUnits: number }[] };
};

export const USAGE_ALERT = `subscription ($orgId: ID!) {
  usageAlert(orgId: $orgId) { id kind threshold metric { key } used limit cost { amount } budgetCap { amount } } }`;

export type AlertPush = {
  usageAlert: {
    id: string;
    kind: string;
    threshold: number;
    metric: { key: string } | null;
    used: number | null;
    limit: number | null;
    cost: { amount: string } | null;
  };
};

/** A live subscription under test: every result it got, and waits on them. */
export type Subscription<T> = {
  results: GraphQLResponse<T>[];
  /** Resolves with the first result (counting from the start) that satisfies `test`. */
  until(test: (r: GraphQLResponse<T>) => boolean, timeoutMs?: number): Promise<GraphQLResponse<T>>;
  /** Set when the stream ended: 'complete', or the error / close reason. */
  ended(): string | undefined;
  close(): Promise<void>;
};

function collector<T>(): Subscription<T> & {
  push(r: GraphQLResponse<T>): void;
  end(reason: string): void;
  onClose(fn: () => Promise<void> | void): void;
} {
  const results: GraphQLResponse<T>[] = [];
  const waiters = new Set<() => void>();
  let endedWith: string | undefined;
  let closer: () => Promise<void> | void = () => {};
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  return {
    results,
    push(r) {
      results.push(r);
      wake();
    },
    end(reason) {
      endedWith ??= reason;
      wake();
    },
    onClose(fn) {
      closer = fn;
    },
    ended: () => endedWith,
    until(test, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = results.find(test);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          } else if (endedWith !== undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`subscription ended (${endedWith}); got ${JSON.stringify(results)}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching result within ${timeoutMs} ms; got ${JSON.stringify(results)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      await closer();
    },
  };
}

/** Subscribes over graphql-ws (the `ws` package as the socket), credential in the connection parameters. */
export function wsSubscribe<T = UsagePush>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown>,
  auth?: string,
): Subscription<T> {
  const sub = collector<T>();
  const client: Client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: auth ? { authorization: `Bearer ${auth}` } : {},
    retryAttempts: 0,
    on: { closed: (event) => sub.end(`closed ${(event as { code?: number }).code ?? ''}`) },
  });
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (r) => sub.push(r as GraphQLResponse<T>),
      error: (e) => sub.end(`error ${e instanceof Error ? e.message : JSON.stringify(e)}`),
      complete: () => sub.end('complete'),
    },
  );
  sub.onClose(async () => {
    dispose();
    await client.dispose();
  });
  return sub;
}

/** Subscribes over Server-Sent Events through yoga (POST, `Accept: text/event-stream`). */
export function sseSubscribe<T = UsagePush>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown>,
  auth?: string,
): Subscription<T> {
  const sub = collector<T>();
  const abort = new AbortController();
  sub.onClose(() => abort.abort());
  void (async () => {
    try {
      const res = await fetch(`${baseUrl}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
        signal: abort.signal,
      });
      if (!res.body) throw new Error(`no body (${res.status})`);
      const decoder = new TextDecoder();
      let buffer = '';
      const reader = res.body.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        buffer += decoder.decode(chunk.value, { stream: true });
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const event = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const data = event
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          if (data) sub.push(JSON.parse(data) as GraphQLResponse<T>);
          if (event.startsWith('event: complete')) sub.end('complete');
        }
      }
      sub.end('complete');
    } catch (error) {
      sub.end(`error ${(error as Error).message}`);
    }
  })();
  return sub;
}

/** `used` of one metric in a usageUpdated push (undefined when the push has no data). */
export function usedIn(r: GraphQLResponse<UsagePush>, metric = 'api_calls'): number | undefined {
  return r.data?.usageUpdated.metrics.find((m) => m.metric.key === metric)?.used;
}

/** One graphql-ws socket kept open across operations, as a long-lived client keeps it. */
export type WsSession = {
  /** Runs one query or mutation on the socket: its result, or the errors it was refused with. */
  run<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResponse<T>>;
  /** Starts a subscription on the socket. */
  subscribe<T = UsagePush>(query: string, variables: Record<string, unknown>): Subscription<T>;
  /** Set when the socket closed: its close code. */
  closedWith(): number | undefined;
  close(): Promise<void>;
};

export function wsSession(baseUrl: string, auth?: string): WsSession {
  let closedCode: number | undefined;
  const client: Client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: auth ? { authorization: `Bearer ${auth}` } : {},
    retryAttempts: 0,
    lazy: false,
    // The close is recorded (closedWith); graphql-ws would print it.
    onNonLazyError: () => {},
    on: {
      closed: (event) => {
        closedCode = (event as { code?: number }).code;
      },
    },
  });
  return {
    run<T>(query: string, variables: Record<string, unknown> = {}) {
      return new Promise<GraphQLResponse<T>>((resolve, reject) => {
        let result: GraphQLResponse<T> | undefined;
        client.subscribe<T>(
          { query, variables },
          {
            next: (r) => {
              result = r as GraphQLResponse<T>;
            },
            // Refused before it ran: graphql-ws answers an `error` message with the errors.
            error: (e) =>
              Array.isArray(e)
                ? resolve({ errors: e as GraphQLResponse<T>['errors'] })
                : reject(e instanceof Error ? e : new Error(`socket ended: ${JSON.stringify(e)}`)),
            complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
          },
        );
      });
    },
    subscribe<T>(query: string, variables: Record<string, unknown>) {
      const sub = collector<T>();
      const dispose = client.subscribe<T>(
        { query, variables },
        {
          next: (r) => sub.push(r as GraphQLResponse<T>),
          error: (e) => sub.end(`error ${e instanceof Error ? e.message : JSON.stringify(e)}`),
          complete: () => sub.end('complete'),
        },
      );
      sub.onClose(() => dispose());
      return sub;
    },
    closedWith: () => closedCode,
    close: () => client.dispose() as Promise<void>,
  };
}
