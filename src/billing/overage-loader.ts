import type DataLoader from 'dataloader';
import type { Db } from '../db/client.ts';
import { type Loaders, type OrgPeriodKey, orgPeriodLoader } from '../usage/loaders.ts';
import { type OverageRow, overagesForPeriods } from './repository.ts';

type OverageLoader = DataLoader<OrgPeriodKey, OverageRow[], string>;

/** One overage loader per request, found through the request's own loaders (`ctx.loaders`). */
const byRequest = new WeakMap<Loaders, OverageLoader>();

/**
 * The stored overage lines of (org, period) pairs: whatever number of orgs a query touches, one
 * statement per batch, like the request's other loaders. Billing owns it so usage/ needs nothing
 * from billing/.
 */
export function overageLoader(ctx: { db: Db; loaders: Loaders }): OverageLoader {
  let loader = byRequest.get(ctx.loaders);
  if (!loader) {
    const db = ctx.db;
    loader = orgPeriodLoader<OverageRow>((p) => overagesForPeriods(db, p));
    byRequest.set(ctx.loaders, loader);
  }
  return loader;
}
