import { documentText, type GraphQLDocument, type TypedDocument } from './documents.ts';
import { MeterlineError, parseRetryAfter, toMeterlineError } from './errors.ts';

export type { GraphQLDocument, TypedDocument } from './documents.ts';

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export type TransportOptions = {
  /** The GraphQL endpoint, e.g. `http://meterline:4000/graphql`; a bare origin gets `/graphql`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`: a service token, an API key or a JWT. */
  token?: string | undefined;
  /** Per request; default 5,000 ms. */
  timeoutMs?: number | undefined;
  /** Extra headers on every request. */
  headers?: Record<string, string> | undefined;
  /** Another fetch (tests, proxies); default the global one. */
  fetch?: Fetch | undefined;
};

export type RequestOptions = { signal?: AbortSignal | undefined; timeoutMs?: number | undefined };

type GraphQLBody<T> = {
  data?: T | null;
  errors?: { message?: string; extensions?: { code?: unknown } }[];
};

export function endpointUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/graphql';
  return parsed.toString();
}

/**
 * Sends one GraphQL operation over HTTP POST and returns its `data`, or throws a MeterlineError
 * that says whether a retry may succeed. Nothing else: no retries here (the callers decide), no
 * GraphQL parser (documents arrive as text, or as DocumentNodes that carry theirs).
 */
export class Transport {
  readonly url: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #fetch: Fetch;

  constructor(options: TransportOptions) {
    this.url = endpointUrl(options.url);
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#headers = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    };
  }

  async execute<TResult, TVariables>(
    document: TypedDocument<TResult, TVariables> | GraphQLDocument,
    variables: TVariables,
    options: RequestOptions = {},
  ): Promise<TResult> {
    const printed = documentText(document);
    const query = typeof printed === 'string' ? printed : await printed;
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(this.url, {
        method: 'POST',
        headers: this.#headers,
        body: JSON.stringify({ query, variables }),
        signal,
      });
      text = await response.text();
    } catch (error) {
      // A caller's abort wins over the timeout that may have fired with it.
      if (options.signal?.aborted) throw toMeterlineError(options.signal.reason ?? error);
      throw toMeterlineError(timeout.aborted ? timeout.reason : error);
    }
    return this.#read<TResult>(response, text);
  }

  #read<TResult>(response: Response, text: string): TResult {
    const status = response.status;
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    let body: GraphQLBody<TResult> | undefined;
    try {
      body = JSON.parse(text) as GraphQLBody<TResult>;
    } catch {
      body = undefined;
    }
    const first = body?.errors?.[0];
    if (first) {
      const code = typeof first.extensions?.code === 'string' ? first.extensions.code : undefined;
      throw new MeterlineError(first.message ?? `Meterline answered HTTP ${status}.`, {
        kind: 'graphql',
        status,
        code,
        retryAfterMs,
      });
    }
    if (!response.ok) {
      throw new MeterlineError(`Meterline answered HTTP ${status}.`, { kind: 'http', status, retryAfterMs });
    }
    if (!body || body.data === undefined || body.data === null) {
      throw new MeterlineError(`Meterline answered HTTP ${status} without GraphQL data.`, {
        kind: 'invalid-response',
        status,
      });
    }
    return body.data;
  }
}
