import { badInput } from '../errors.ts';

/**
 * Relay's four paging arguments read for a keyset-paginated connection: `first` / `after` walk
 * forward in the connection's order, `last` / `before` walk back. A repository asked for a
 * backward window reads its order reversed from the cursor (`backward`), `size + 1` rows, and
 * `keysetPage` turns them back into the connection's order.
 */
export type KeysetWindow<Cursor> = {
  /** The position to start after (forward) or before (backward); none: from the start or the end. */
  cursor: Cursor | undefined;
  backward: boolean;
  /** Rows on the page; the repository reads one more to tell whether there is another page. */
  size: number;
};

export type PagingArgs = {
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
};

export function keysetWindow<Cursor>(
  args: PagingArgs,
  options: { defaultSize: number; maxSize: number; decode: (cursor: string) => Cursor | undefined },
): KeysetWindow<Cursor> {
  if (args.first != null && args.last != null) throw badInput('Page with first or with last, not both.');
  if (args.after != null && args.before != null) throw badInput('Page with after or with before, not both.');
  const backward = args.last != null || args.before != null;
  const name = backward ? 'last' : 'first';
  const size = (backward ? args.last : args.first) ?? options.defaultSize;
  if (size < 1 || size > options.maxSize) throw badInput(`${name} must be between 1 and ${options.maxSize}.`);
  const given = backward ? args.before : args.after;
  const cursor = given == null ? undefined : options.decode(given);
  if (given != null && cursor === undefined) {
    throw badInput(
      `${backward ? 'before' : 'after'} is not a cursor of this connection and order: pass a cursor it returned.`,
    );
  }
  return { cursor, backward, size };
}

/** The page of `rows` (read as the window asked, one extra at most) in the connection's order. */
export function keysetPage<Row>(
  rows: Row[],
  window: KeysetWindow<unknown>,
): { page: Row[]; hasNextPage: boolean; hasPreviousPage: boolean } {
  const more = rows.length > window.size;
  const page = rows.slice(0, window.size);
  if (window.backward) page.reverse();
  const positioned = window.cursor !== undefined;
  return window.backward
    ? { page, hasPreviousPage: more, hasNextPage: positioned }
    : { page, hasNextPage: more, hasPreviousPage: positioned };
}
