import { AsyncLocalStorage } from 'node:async_hooks';
import { type DocumentNode, getOperationAST, Kind, type OperationDefinitionNode, parse } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from './metrics.ts';
import type { OperationSpan, RequestSpan, Tracing } from './tracing-types.ts';

/** What the access log and the spans learn about a request while it is served. */
export type RequestRecord = {
  /** The GraphQL operation's name as the client sent it (truncated), or `anonymous`. */
  operation?: string;
  span?: RequestSpan;
};

export const requestRecord = new AsyncLocalStorage<RequestRecord>();

/** The names of documents the server knows (the bundled client's, the persisted list's). */
export function operationNames(documents: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const text of documents) {
    try {
      for (const def of parse(text).definitions) {
        if (def.kind === Kind.OPERATION_DEFINITION && def.name) names.add(def.name.value);
      }
    } catch {
      // A document that does not parse is refused by the persisted-operations check anyway.
    }
  }
  return names;
}

/**
 * The operation's labels. Its name is the client's to choose, so it becomes a label only when it
 * names a document the server knows; any other name is `other`, none is `anonymous`. The root
 * field (the schema's, never an alias) tells the rest apart with a bounded set of values.
 */
export function operationLabels(
  operation: OperationDefinitionNode,
  known: ReadonlySet<string>,
): { type: string; operation: string; rootField: string } {
  const name = operation.name?.value;
  const first = operation.selectionSet.selections[0];
  return {
    type: operation.operation,
    operation: name === undefined ? 'anonymous' : known.has(name) ? name : 'other',
    rootField: first?.kind === Kind.FIELD ? first.name.value : 'fragment',
  };
}

function operationOf(document: DocumentNode, operationName: string | null | undefined) {
  return getOperationAST(document, operationName ?? undefined);
}

/**
 * Times every executed query and mutation (over HTTP and WebSocket), names the request's
 * operation for the access log, and, with tracing on, opens a span per operation under the
 * request's span (WebSocket operations: a span of their own).
 */
export function observabilityPlugin(deps: {
  metrics: Metrics;
  knownOperations: ReadonlySet<string>;
  tracing: Tracing | undefined;
}): Plugin {
  const startSpan = (operation: OperationDefinitionNode, labels: ReturnType<typeof operationLabels>) => {
    const record = requestRecord.getStore();
    const name = operation.name?.value.slice(0, 100) ?? 'anonymous';
    if (record) record.operation = name;
    return deps.tracing?.startOperation(record?.span, {
      type: labels.type,
      name,
      spanName: `${labels.type} ${labels.operation === 'other' ? labels.rootField : labels.operation}`,
    });
  };
  return {
    onExecute({ args }) {
      const operation = operationOf(args.document, args.operationName);
      if (!operation) return;
      const labels = operationLabels(operation, deps.knownOperations);
      const span: OperationSpan | undefined = startSpan(operation, labels);
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          // Incremental results (@defer, @stream) are timed to their first payload.
          const failed = 'errors' in result && (result.errors?.length ?? 0) > 0;
          deps.metrics.graphqlOperation(
            { ...labels, outcome: failed ? 'error' : 'ok' },
            (performance.now() - started) / 1000,
          );
          span?.end(failed);
        },
      };
    },
    onSubscribe({ args }) {
      const operation = operationOf(args.document, args.operationName);
      if (!operation) return;
      // A subscription lives as long as its client wants: only its start is recorded (a span
      // for setting it up); the live_subscribers gauge counts the open ones.
      const span = startSpan(operation, operationLabels(operation, deps.knownOperations));
      return {
        onSubscribeResult() {
          span?.end(false);
        },
        onSubscribeError() {
          span?.end(true);
        },
      };
    },
  };
}
