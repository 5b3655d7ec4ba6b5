import type { Db } from '../db/client.ts';
import { listMetrics, type MetricRow } from './repository.ts';

/** The metrics read so far, per database handle. */
const cache = new WeakMap<Db, Map<string, MetricRow>>();

/**
 * The metrics with these keys, from a process-wide copy: a metric never changes once created
 * (nothing updates or deletes a metric row; the catalog only adds ones that are missing), so a
 * copy of it is never stale. A key not in the copy reads every metric again (a metric created
 * since, or an unknown key, which stays unknown: the caller refuses it). For the hot path: one
 * statement fewer per quota decision.
 */
export async function knownMetrics(db: Db, keys: readonly string[]): Promise<Map<string, MetricRow>> {
  let known = cache.get(db);
  if (!known || keys.some((k) => !known!.has(k))) {
    known = new Map((await listMetrics(db)).map((m) => [m.key, m]));
    cache.set(db, known);
  }
  return known;
}
