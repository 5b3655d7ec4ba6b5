import { type Amount, type BillingPeriod, fromMinorUnits, periodContaining } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { closedPairs, orgsAfter, replaceOverageLines } from './billing-run-repository.ts';
import { type BrokenOrg, loadCatalog, overageRowsOf, pairOf, pricePeriods } from './price-periods.ts';

export type RecalculateAllReport = {
  orgsProcessed: number;
  linesWritten: number;
  /** Orgs whose period containing `at` is closed: their lines are final and were not touched. */
  orgsSkippedClosed: number;
  /** Per currency: the sum of the lines, each rounded once. */
  totals: { amount: Amount; currency: string }[];
  failed: BrokenOrg[];
};

export const RECALCULATE_CHUNK = 5_000;
/** Chunks priced and written side by side (each write is one statement, no transaction). */
export const RECALCULATE_CONCURRENCY = 3;

/**
 * Every org's overage lines for its period containing `at`, set-based: orgs are read in chunks,
 * and per chunk a fixed number of statements read the counters and overrides of all its orgs
 * and write all their lines (no per-org query). Idempotent: lines are replaced, never added.
 * An org whose data is broken (unknown plan, bad time zone) is reported, not fatal. Periods
 * already closed are left alone (their lines are final).
 */
export async function recalculateAllOverages(
  db: Db,
  params: { at: Date; now: Date; billingEnabled: boolean; chunkSize?: number; concurrency?: number },
): Promise<RecalculateAllReport> {
  const catalog = await loadCatalog(db);
  const chunkSize = params.chunkSize ?? RECALCULATE_CHUNK;
  const report: RecalculateAllReport = {
    orgsProcessed: 0,
    linesWritten: 0,
    orgsSkippedClosed: 0,
    totals: [],
    failed: [],
  };
  // Per currency, in minor units: the sum of the lines each rounded once, in exact integers.
  const totals = new Map<string, bigint>();
  // Nearly every org shares a few (anchor day, time zone) pairs: each period is worked out once.
  const periods = new Map<string, BillingPeriod>();
  const periodOf = (org: OrgRow) => {
    const key = `${org.billingAnchorDay}|${org.billingTimezone}`;
    let period = periods.get(key);
    if (!period) {
      period = periodContaining(params.at, {
        anchorDay: org.billingAnchorDay,
        timeZone: org.billingTimezone,
      });
      periods.set(key, period);
    }
    return period;
  };

  const processChunk = async (orgs: OrgRow[]) => {
    const targets: { org: OrgRow; period: BillingPeriod }[] = [];
    for (const org of orgs) {
      try {
        targets.push({ org, period: periodOf(org) });
      } catch (error) {
        report.failed.push({ orgId: org.id, message: (error as Error).message });
      }
    }
    const closed = await closedPairs(db, targets.map(pairOf));
    const open = targets.filter((t) => !closed.has(`${t.org.id}|${t.period.start.getTime()}`));
    report.orgsSkippedClosed += targets.length - open.length;
    const { priced, failed } = await pricePeriods(db, open, catalog, params.billingEnabled);
    report.failed.push(...failed);
    const lines = overageRowsOf(priced, params.now);
    await replaceOverageLines(db, { pairs: priced.map(pairOf), lines });
    report.orgsProcessed += priced.length;
    report.linesWritten += lines.length;
    for (const line of lines) totals.set(line.currency, (totals.get(line.currency) ?? 0n) + line.amountMinor);
  };

  const inFlight = new Set<Promise<void>>();
  let afterId: string | null = null;
  for (;;) {
    const orgs = await orgsAfter(db, { afterId, limit: chunkSize });
    if (orgs.length === 0) break;
    afterId = orgs[orgs.length - 1]!.id;
    const job: Promise<void> = processChunk(orgs).finally(() => inFlight.delete(job));
    inFlight.add(job);
    if (inFlight.size >= (params.concurrency ?? RECALCULATE_CONCURRENCY)) await Promise.race(inFlight);
    if (orgs.length < chunkSize) break;
  }
  await Promise.all(inFlight);
  report.totals = [...totals].map(([currency, minor]) => ({
    amount: fromMinorUnits(minor, currency),
    currency,
  }));
  return report;
}
