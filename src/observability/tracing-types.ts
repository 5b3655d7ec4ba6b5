import type { IncomingMessage } from 'node:http';

/**
 * The tracing the server uses, as types only: `tracing.ts` (and OpenTelemetry with it) is loaded
 * only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
export type RequestSpan = { end(attributes: { status: number; route: string }): void };
export type OperationSpan = { end(failed: boolean): void };

export type Tracing = {
  /** A server span for the request, child of the caller's span when it sent a `traceparent`. */
  startRequest(req: IncomingMessage, requestId: string): RequestSpan;
  /** A span for one GraphQL operation, under its request's span when it has one. */
  startOperation(
    parent: RequestSpan | undefined,
    operation: { type: string; name: string; spanName: string },
  ): OperationSpan;
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>;
};
