import {
  type Context,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { OperationSpan, RequestSpan, Tracing } from './tracing-types.ts';

/** Our request span, with the OpenTelemetry context its operations start under. */
type ServerSpan = RequestSpan & { context: Context };

/**
 * OpenTelemetry traces over OTLP/HTTP (JSON): a server span per HTTP request, joined to the
 * caller's trace through its `traceparent`, and a span per GraphQL operation under it. Nothing is
 * registered globally (no global provider, context manager or propagator): parents are passed
 * explicitly, so several servers in one process (the tests) keep their traces apart.
 *
 * `endpoint` is OTEL_EXPORTER_OTLP_ENDPOINT, the base URL of a collector: spans go to
 * `<endpoint>/v1/traces`, as the OpenTelemetry specification says for that variable.
 */
export function createTracing(options: { endpoint: string; serviceName: string }): Tracing {
  const exporter = new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('meterline');
  const propagator = new W3CTraceContextPropagator();

  return {
    startRequest(req, requestId) {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const span: Span = tracer.startSpan(
        `${req.method ?? 'GET'}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': req.method ?? 'GET',
            'url.path': path.slice(0, 200),
            'meterline.request_id': requestId,
          },
        },
        parent,
      );
      const serverSpan: ServerSpan = {
        context: trace.setSpan(parent, span),
        end({ status, route }) {
          // The span's name is low-cardinality: the method and the route, never the raw path.
          span.updateName(`${req.method ?? 'GET'} ${route}`);
          span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
      return serverSpan;
    },
    startOperation(parent, operation): OperationSpan {
      const span = tracer.startSpan(
        operation.spanName,
        {
          kind: SpanKind.INTERNAL,
          attributes: { 'graphql.operation.type': operation.type, 'graphql.operation.name': operation.name },
        },
        parent ? (parent as ServerSpan).context : ROOT_CONTEXT,
      );
      return {
        end(failed) {
          if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}
