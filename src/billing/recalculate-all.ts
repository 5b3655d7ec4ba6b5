import { writeAudit } from '../audit/audit.ts';
import { type Amount, type BillingPeriod, fromMinorUnits, periodContaining } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { afterCommit, usageChanged } from '../events/after-commit.ts';
import type { EventPublisher } from '../events/domain-events.ts';
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
/** Chunks priced and written side by side (each write is one short transaction). */
export const RECALCULATE_CONCURRENCY = 3;

/**
 * Every org's overage lines for its period containing `at`, set-based: orgs are read in chunks,
 * and per chunk a fixed number of statements read the counters and overrides of all its orgs
 * and write all their lines (no per-org query). Idempotent: lines are replaced, never added.
 * An org whose data is broken (unknown plan, bad time zone) is reported, not fatal. Periods
 * already closed are left alone (their lines are final).
 * Audited per chunk, in the transaction that writes its lines (the chunk's figures), so every
 * committed write has its record; a run that wrote nothing is recorded on its own. The orgs whose
 * lines were rewritten are told as a usage change once their chunk committed.
 */
export async function recalculateAllOverages(
  deps: { db: Db; events: EventPublisher },
  params: {
    at: Date;
    now: Date;
    billingEnabled: boolean;
    audit: { actor: string };
    chunkSize?: number;
    concurrency?: number;
  },
): Promise<RecalculateAllReport> {
  const { db } = deps;
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
  let audited = false;
  const record = (tx: Db, figures: RecalculateAllReport) =>
    writeAudit(tx, {
      actor: params.audit.actor,
      action: 'recalculateAllOverages',
      target: 'billing',
      before: null,
      after: { at: params.at, ...figures },
      at: params.now,
    });
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
    const broken: BrokenOrg[] = [];
    for (const org of orgs) {
      try {
        targets.push({ org, period: periodOf(org) });
      } catch (error) {
        broken.push({ orgId: org.id, message: (error as Error).message });
      }
    }
    const closed = await closedPairs(db, targets.map(pairOf));
    const open = targets.filter((t) => !closed.has(`${t.org.id}|${t.period.start.getTime()}`));
    const { priced, failed } = await pricePeriods(db, open, catalog, params.billingEnabled);
    const lines = overageRowsOf(priced, params.now);
    const chunkTotals = new Map<string, bigint>();
    for (const line of lines) {
      chunkTotals.set(line.currency, (chunkTotals.get(line.currency) ?? 0n) + line.amountMinor);
    }
    const figures: RecalculateAllReport = {
      orgsProcessed: priced.length,
      linesWritten: lines.length,
      orgsSkippedClosed: targets.length - open.length,
      totals: totalsOf(chunkTotals),
      failed: [...broken, ...failed],
    };
    if (priced.length > 0) {
      await afterCommit(deps.events, (effects) =>
        db.transaction(async (tx) => {
          await replaceOverageLines(tx, { pairs: priced.map(pairOf), lines });
          await record(tx, figures);
          effects.publish(usageChanged(priced.map((p) => p.org.id)));
        }),
      );
      audited = true;
    }
    report.orgsProcessed += figures.orgsProcessed;
    report.linesWritten += figures.linesWritten;
    report.orgsSkippedClosed += figures.orgsSkippedClosed;
    report.failed.push(...figures.failed);
    for (const [currency, minor] of chunkTotals) totals.set(currency, (totals.get(currency) ?? 0n) + minor);
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
  report.totals = totalsOf(totals);
  // Nothing written (no org, every period closed or broken): the run itself is still on record.
  if (!audited) await record(db, report);
  return report;
}

function totalsOf(minorByCurrency: ReadonlyMap<string, bigint>): RecalculateAllReport['totals'] {
  return [...minorByCurrency].map(([currency, minor]) => ({
    amount: fromMinorUnits(minor, currency),
    currency,
  }));
}
