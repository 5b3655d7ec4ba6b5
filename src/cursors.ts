import { cursorToOffset, offsetToCursor } from '@pothos/plugin-relay';
import { badInput } from './errors.ts';

/**
 * The `after` / `before` of an offset connection (Pothos' resolveOffsetConnection), checked: a
 * cursor the connection did not hand out is BAD_USER_INPUT. Pothos reads any string with its
 * prefix as a number (`OffsetConnection:x` would page from NaN), so a cursor is accepted only
 * when it is exactly the cursor of a non-negative offset.
 */
export function checkedOffsetArgs<T extends { after?: string | null; before?: string | null }>(args: T): T {
  for (const name of ['after', 'before'] as const) {
    const cursor = args[name];
    if (cursor === null || cursor === undefined) continue;
    let offset = Number.NaN;
    try {
      offset = cursorToOffset(cursor);
    } catch {
      // refused below
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offsetToCursor(offset) !== cursor) {
      throw badInput(
        `${name} is not a cursor of this connection: pass a cursor it returned, or leave it out.`,
      );
    }
  }
  return args;
}
