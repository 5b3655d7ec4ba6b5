import DataLoader from 'dataloader';
import type { Db } from './client.ts';

/**
 * Reads shared by every request in flight on one database handle: the loads issued in the same
 * turn of the event loop (concurrent requests read from their sockets together) share one
 * statement. Nothing is cached: each load reads the row as it is now (a revoked key, a changed
 * plan are seen by the next request).
 */
export function concurrentReads<V>(
  fetch: (db: Db, keys: readonly string[]) => Promise<(V | null)[]>,
): (db: Db) => DataLoader<string, V | null> {
  const readers = new WeakMap<Db, DataLoader<string, V | null>>();
  return (db) => {
    let reader = readers.get(db);
    if (!reader) {
      reader = new DataLoader((keys) => fetch(db, keys), {
        cache: false,
        batchScheduleFn: (run) => setImmediate(run),
      });
      readers.set(db, reader);
    }
    return reader;
  };
}
