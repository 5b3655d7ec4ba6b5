import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, stripIgnoredCharacters, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import {
  CheckQuotaDocument,
  RecordUsageDocument,
  VerifyApiKeyDocument,
} from '../../packages/client/src/operations.generated.ts';
import { badInput } from '../errors.ts';

/**
 * The limits every GraphQL document must fit (graphql-armor), sized on the real clients and
 * measured with armor's own rules (default costs: object 2, scalar 1, x1.5 per level, and a list
 * field's cost multiplied by its `first`):
 * - the admin console's invoice list (`invoiceItems(first: 50)` with every item field): cost ~5,020,
 *   ~10,030 with `first: 100`; depth 6;
 * - the dashboard's whole org page (usage with forecasts, overages, invoiceItems(first: 20),
 *   history, top endpoints, alerts, budget cap, members, apiKeys): cost ~3,250, depth 6;
 * - the live dashboard's org picker `orgs(first: 100)`: cost ~1,630; the admin console's home
 *   (adminOverview + a page of orgs): ~300; the deepest document in the repo: depth 7.
 * So: cost 20,000 (4x the largest real page), depth 10, 30 aliases (no client uses any), 2,000
 * tokens (the dashboard page is ~250), 20 directives. Refused: nesting through
 * Org -> members -> org -> ..., alias fan-out of big pages, documents padded to exhaust the parser.
 */
export const ARMOR_LIMITS = {
  maxDepth: 10,
  maxCost: 20_000,
  maxAliases: 30,
  maxTokens: 2_000,
  maxDirectives: 20,
} as const;

/**
 * The largest request body accepted (HTTP 413 past it). The biggest legitimate request is a full
 * recordUsage batch: 1,000 events x (4,096 bytes of properties, the per-event maximum, + ~250
 * bytes of id, orgId, metric, quantity, timestamp and JSON punctuation) ~ 4.35 MB. 6 MiB leaves
 * ~40 % headroom for escaped characters in properties.
 */
export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024;

/** graphql-armor, with every refusal carrying `extensions.code: BAD_USER_INPUT`. */
export function armorPlugin(
  limits: typeof ARMOR_LIMITS = ARMOR_LIMITS,
  options: { fieldSuggestions?: boolean } = {},
): Plugin {
  const onReject = [
    (_ctx: unknown, error: GraphQLError) => {
      (error.extensions as Record<string, unknown>).code = 'BAD_USER_INPUT';
      // armor words every refusal as a "Syntax Error"; the document's syntax is fine.
      error.message = `${error.message.replace(/^Syntax Error: /, '')} Make the document smaller or split it.`;
    },
  ];
  return EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, exposeLimits: true, flattenFragments: true, onReject },
    costLimit: { maxCost: limits.maxCost, exposeLimits: true, onReject },
    maxAliases: { n: limits.maxAliases, exposeLimits: true, onReject },
    maxTokens: { n: limits.maxTokens, exposeLimits: true, onReject },
    maxDirectives: { n: limits.maxDirectives, exposeLimits: true, onReject },
    // Suggestions ("Did you mean ...?") name the schema's fields and types: they stay in
    // development and are hidden where introspection is off (production), or they would tell
    // what introspection does not.
    blockFieldSuggestion: { enabled: options.fieldSuggestions === false, mask: '' },
  }) as Plugin;
}

/**
 * Refuses bodies larger than `maxBytes` before they are read (HTTP 413). A body without a
 * Content-Length (chunked) cannot be sized up front: it is refused with 411.
 * Returns true when it answered the request.
 */
export function refuseOversizedBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): boolean {
  if (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') return false;
  const length = req.headers['content-length'];
  const refuse = (status: number, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT', maxBytes } }] }));
    req.resume();
    return true;
  };
  if (length === undefined) {
    if (req.headers['transfer-encoding'] === undefined) return false;
    return refuse(411, 'Send a Content-Length header: chunked request bodies are not accepted.');
  }
  const bytes = Number(length);
  if (Number.isFinite(bytes) && bytes > maxBytes) {
    return refuse(
      413,
      `Request body of ${bytes} bytes is larger than the limit of ${maxBytes} bytes: send fewer usage events per request.`,
    );
  }
  return false;
}

const SHA256_PREFIX = 'sha256:';
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The documents of the bundled client (codegen), always in the allow-list. */
export const clientDocuments: string[] = [RecordUsageDocument, CheckQuotaDocument, VerifyApiKeyDocument].map(
  (d) => d.toString(),
);

/**
 * Persisted operations, allow-list mode: only documents in the list run. A client sends either the
 * document's SHA-256 (hex of the exact text) or the full text of a listed document (compared with
 * whitespace and comments stripped), so the bundled client works unchanged. The hash comes as
 * Apollo's APQ `extensions.persistedQuery.sha256Hash` or as GraphQL over HTTP's `documentId`, plain
 * or prefixed `sha256:<hex>` (GraphQL Code Generator's client preset). Anything else is refused
 * with BAD_USER_INPUT.
 */
export function persistedOperationsPlugin(documents: string[]): Plugin {
  const byHash = new Map<string, string>();
  const normalized = new Set<string>();
  for (const doc of documents) {
    byHash.set(sha256(doc), doc);
    normalized.add(sha256(stripIgnoredCharacters(doc)));
  }
  return {
    onParams({ params, setParams }) {
      const { documentId, ...rest } = params as typeof params & { documentId?: unknown };
      const persisted = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)
        ?.persistedQuery;
      const id = typeof documentId === 'string' ? documentId : persisted?.sha256Hash;
      if (typeof id === 'string') {
        const query = byHash.get(id.startsWith(SHA256_PREFIX) ? id.slice(SHA256_PREFIX.length) : id);
        if (!query) {
          throw badInput('Unknown persisted operation: this server runs only allow-listed operations.', {
            persistedQuery: 'NOT_FOUND',
          });
        }
        // documentId is not a parameter yoga knows: the document it named takes its place.
        setParams({ ...rest, query });
      }
    },
    // The text check runs at parse time, so it covers every way in: HTTP, SSE and graphql-ws.
    onParse({ params }) {
      const text = typeof params.source === 'string' ? params.source : params.source.body;
      let known = false;
      try {
        known = normalized.has(sha256(stripIgnoredCharacters(text)));
      } catch {
        known = false; // not even parseable: not listed
      }
      if (!known) {
        throw badInput(
          'This server runs only allow-listed (persisted) operations, and this document is not one of them.',
          { persistedQuery: 'NOT_ALLOWED' },
        );
      }
    },
  };
}

/** Refuses `__schema` and `__type` (introspection off, in production); `__typename` stays. */
export const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value === '__schema' || node.name.value === '__type') {
      context.reportError(
        new GraphQLError('Introspection is disabled on this server (NODE_ENV=production).', {
          nodes: node,
          extensions: { code: 'BAD_USER_INPUT' },
        }),
      );
    }
  },
});

export type HardeningOptions = {
  /** false: introspection queries are refused (production). Default true. */
  introspection?: boolean;
  /** false: errors do not suggest field, argument or type names (production). Default true. */
  fieldSuggestions?: boolean;
  /** PERSISTED_OPERATIONS=allow-list: the documents allowed besides the bundled client's. */
  persistedOperations?: { mode: 'off' } | { mode: 'allow-list'; documents?: string[] };
};

/** The yoga plugins of the hardening: armor, then (when on) the persisted-operations allow-list. */
export function hardeningPlugins(options: HardeningOptions = {}): Plugin[] {
  const plugins: Plugin[] = [armorPlugin(ARMOR_LIMITS, { fieldSuggestions: options.fieldSuggestions })];
  if (options.introspection === false) {
    plugins.push({ onValidate: ({ addValidationRule }) => addValidationRule(noIntrospection) });
  }
  const persisted = options.persistedOperations;
  if (persisted?.mode === 'allow-list') {
    plugins.push(persistedOperationsPlugin([...clientDocuments, ...(persisted.documents ?? [])]));
  }
  return plugins;
}

/** PERSISTED_OPERATIONS_FILE: a JSON array of documents, or an object of hash -> document. */
export function readPersistedOperations(file: string | undefined): string[] {
  if (file === undefined) return [];
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const docs = Array.isArray(parsed) ? parsed : Object.values(parsed as Record<string, unknown>);
  if (!docs.every((d): d is string => typeof d === 'string')) {
    throw new Error(
      `PERSISTED_OPERATIONS_FILE ${file}: expected an array of documents or an object of hash -> document`,
    );
  }
  return docs;
}
