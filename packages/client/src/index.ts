/**
 * `@meterline/client`: the TypeScript client for a SaaS's services.
 *
 * - UsageClient: `track(event)` from anywhere; batched, retried with the same ids (so counted
 *   once), bounded, never throws into the host.
 * - MeterlineClient: typed `checkQuota`, `verifyApiKey`, `recordUsage` and any document (a
 *   string, codegen's TypedDocumentString or TypedDocumentNode, Apollo's or urql's `gql`).
 * - meterlineNodeMiddleware / withMeterline: verify an end customer's API key per request.
 *
 * No runtime dependency: its own documents arrive printed from codegen, ids are made here,
 * requests use the platform's fetch (graphql, an optional peer, only prints a DocumentNode that
 * lacks its source text).
 */
export type { ApiKeyGuardOptions, GuardDecision } from './api-key-guard.ts';
export { apiKeyFrom } from './api-key-guard.ts';
export type {
  DocumentNodeLike,
  DocumentTypeDecoration,
  GraphQLDocument,
  TypedDocument,
} from './documents.ts';
export { MeterlineError, type MeterlineErrorKind } from './errors.ts';
export { uuidv7, uuidv7Time } from './ids.ts';
export {
  type ApiKeyVerification,
  type CheckQuotaParams,
  MeterlineClient,
  type MeterlineClientOptions,
  type QuotaDecision,
  type RecordUsageResult,
} from './meterline-client.ts';
export { meterlineNodeMiddleware, verificationOf, withMeterline } from './middleware.ts';
export type * from './operations.generated.ts';
export { CheckQuotaDocument, RecordUsageDocument, VerifyApiKeyDocument } from './operations.generated.ts';
export type { Fetch, RequestOptions, TransportOptions } from './transport.ts';
export { UsageClient, type UsageClientOptions, type UsageClientStats } from './usage-client.ts';
export { type EventRejection, UsageClientError, type UsageErrorKind } from './usage-errors.ts';
export type { UsageEvent } from './usage-event.ts';
