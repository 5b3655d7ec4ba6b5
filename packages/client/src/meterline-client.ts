import type { DocumentNodeLike, TypedDocument } from './documents.ts';
import { uuidv7 } from './ids.ts';
import {
  CheckQuotaDocument,
  type CheckQuotaInput,
  type CheckQuotaMutation,
  RecordUsageDocument,
  type RecordUsageMutation,
  type UsageEventInput,
  VerifyApiKeyDocument,
  type VerifyApiKeyMutation,
} from './operations.generated.ts';
import { type RequestOptions, Transport, type TransportOptions } from './transport.ts';

export type MeterlineClientOptions = TransportOptions;

export type RecordUsageResult = RecordUsageMutation['recordUsage'];
export type QuotaDecision = CheckQuotaMutation['checkQuota'];
export type ApiKeyVerification = VerifyApiKeyMutation['verifyApiKey'];

export type CheckQuotaParams = {
  /** The org's ID; may be left out when the token is the org's own API key. */
  orgId?: string | undefined;
  metric: string;
  /** Default 1. */
  quantity?: number | undefined;
  /** Record the quantity when allowed (atomically with the decision). */
  consume?: boolean | undefined;
  /**
   * Makes a consume safe to repeat: the server counts one key once. When consuming without one,
   * a fresh UUIDv7 is used, so pass your own if you retry the call.
   */
  idempotencyKey?: string | undefined;
};

/**
 * Typed calls to Meterline for a SaaS's services. Each call is one HTTP request with a timeout
 * and throws a MeterlineError when it fails: these sit on a request path, where the caller
 * decides what a failure means (the middleware's fail-open / fail-closed option, for one).
 * For fire-and-forget usage recording use UsageClient, which batches and retries.
 */
export class MeterlineClient {
  readonly transport: Transport;

  constructor(options: MeterlineClientOptions) {
    this.transport = new Transport(options);
  }

  /**
   * Any operation: a typed document (codegen's TypedDocumentString or TypedDocumentNode,
   * Apollo's or urql's `gql` with a type) gives its result type and checks its variables; an
   * operation's text or an untyped DocumentNode gives `TResult` (default: a plain object).
   */
  request<TResult, TVariables>(
    document: TypedDocument<TResult, TVariables>,
    // The document alone says what the variables are (else a wrong object widens them).
    variables: NoInfer<TVariables>,
    options?: RequestOptions,
  ): Promise<TResult>;
  request<TResult = Record<string, unknown>>(
    // Untyped only: a typed document that misses the overload above must not pass here unchecked.
    document: string | (DocumentNodeLike & { __apiType?: undefined }),
    variables?: Record<string, unknown>,
    options?: RequestOptions,
  ): Promise<TResult>;
  request<TResult>(
    document: TypedDocument<TResult, unknown> | string | DocumentNodeLike,
    variables?: unknown,
    options?: RequestOptions,
  ): Promise<TResult> {
    return this.transport.execute<TResult, unknown>(document, variables, options);
  }

  /** One recordUsage call (at most 1,000 events). Bad events come back in `rejected`, not as errors. */
  async recordUsage(events: UsageEventInput[], options?: RequestOptions): Promise<RecordUsageResult> {
    const data = await this.transport.execute(RecordUsageDocument, { input: { events } }, options);
    return data.recordUsage;
  }

  async checkQuota(params: CheckQuotaParams, options?: RequestOptions): Promise<QuotaDecision> {
    const input: CheckQuotaInput = {
      orgId: params.orgId,
      metric: params.metric,
      quantity: params.quantity ?? 1,
      consume: params.consume ?? false,
      idempotencyKey: params.idempotencyKey ?? (params.consume ? uuidv7() : undefined),
    };
    const data = await this.transport.execute(CheckQuotaDocument, { input }, options);
    return data.checkQuota;
  }

  /**
   * Authenticates an end customer's API key, applies its plan's request rate and monthly
   * `api_calls` quota, and counts `cost` api_calls when allowed (the token must be a service
   * token or a platform admin's). Pass `idempotencyKey` to make a retried call count once.
   */
  async verifyApiKey(
    key: string,
    cost = 1,
    options: RequestOptions & { idempotencyKey?: string | undefined } = {},
  ): Promise<ApiKeyVerification> {
    const { idempotencyKey, ...request } = options;
    const input = { key, cost, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) };
    const data = await this.transport.execute(VerifyApiKeyDocument, { input }, request);
    return data.verifyApiKey;
  }
}
