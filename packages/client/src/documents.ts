import { MeterlineError } from './errors.ts';

/**
 * The result and variables types a typed document carries: structurally the interface of
 * `@graphql-typed-document-node/core`, which codegen, Apollo and urql put on their documents.
 * Declared here so the client's type declarations import no package a host may not have.
 */
export interface DocumentTypeDecoration<TResult, TVariables> {
  __apiType?: (variables: TVariables) => TResult;
}

/** A parsed document (graphql's DocumentNode), as far as the client reads one. */
export type DocumentNodeLike = {
  readonly kind: string;
  readonly loc?: { readonly source: { readonly body: string } } | undefined;
};

/**
 * A typed document: codegen's pre-printed `TypedDocumentString`, or a `TypedDocumentNode`
 * (codegen's default, Apollo's and urql's `gql`), carrying its result and variables types.
 */
export type TypedDocument<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> &
  (DocumentNodeLike | { toString(): string });

/** What `request` sends: an operation's text, a parsed document, or a typed one of either. */
export type GraphQLDocument = string | DocumentNodeLike | TypedDocument<unknown, never>;

function isDocumentNode(document: object): document is DocumentNodeLike {
  return (document as { kind?: unknown }).kind === 'Document';
}

const printed = new WeakMap<object, string>();

/**
 * The operation text to send. Strings and codegen's TypedDocumentString are their text. A
 * DocumentNode from graphql's `parse`, graphql-tag (Apollo's `gql`) or urql's `gql` keeps the
 * text it was parsed from in `loc.source.body`, sent as is. Only a DocumentNode without a
 * location (codegen's default output, a hand-built AST) needs printing: with graphql's `print`,
 * loaded on first need. graphql is an optional peer dependency rather than a dependency because
 * every tool that produces such documents already depends on it, and a host sending strings
 * should not install a GraphQL implementation it never runs; a printer written here would be a
 * second implementation of the language to keep in step with it.
 */
export function documentText(document: GraphQLDocument): string | Promise<string> {
  // Synchronous but for the printing: a caller's fetch starts in the same tick as its call.
  if (typeof document === 'string') return document;
  if (!isDocumentNode(document)) return String(document);
  const body = document.loc?.source.body;
  if (typeof body === 'string') return body;
  const known = printed.get(document);
  if (known !== undefined) return known;
  return loadPrint().then((print) => {
    const text = print(document);
    printed.set(document, text);
    return text;
  });
}

type Print = (document: DocumentNodeLike) => string;
let print: Promise<Print> | undefined;

function loadPrint(): Promise<Print> {
  print ??= import('graphql').then(
    (graphql) => graphql.print as unknown as Print,
    (cause: unknown) => {
      print = undefined;
      throw new MeterlineError(
        'This DocumentNode has no source text (loc) and the graphql package, needed to print it, ' +
          "is not installed: install graphql, or generate documents with documentMode: 'string'.",
        { kind: 'invalid-document', cause },
      );
    },
  );
  return print;
}
