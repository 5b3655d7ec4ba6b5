import type { Clock } from '../clock.ts';
import type { Db } from '../db/client.ts';
import { loadOrgMeters, type OrgMeters } from './load-meters.ts';
import { createLoaders, type Loaders } from './loaders.ts';

/** What a `usageUpdated` push shows: the org's meters now, and the instant they were read. */
export type OrgUsageSnapshot = OrgMeters & { asOf: Date };

/**
 * Reads an org's current usage with fresh loaders (by default new ones; callers reading several
 * orgs at once share theirs): a live view must never answer from a cache filled before the change
 * it is reporting.
 */
export async function readOrgUsage(
  db: Db,
  params: { orgId: string; clock: Clock; billingEnabled: boolean },
  loaders: Loaders = createLoaders(db),
): Promise<OrgUsageSnapshot | null> {
  const org = await loaders.org.load(params.orgId);
  if (!org) return null;
  const asOf = params.clock();
  return { ...(await loadOrgMeters(loaders, org, asOf, params.billingEnabled)), asOf };
}
