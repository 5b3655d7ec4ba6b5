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
