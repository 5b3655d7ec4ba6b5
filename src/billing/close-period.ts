import { writeAudit } from '../audit/audit.ts';
import {
  type BillingPeriod,
  describeOverageLine,
  formatAmount,
  periodContaining,
  previousPeriod,
} from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { lockPeriodClose } from '../usage/frozen-periods.ts';
import {
  closedPairs,
  endedUnclosedPeriods,
  insertClosedPeriods,
  insertInvoiceItems,
  type NewInvoiceItem,
  orgsAfter,
  replaceOverageLines,
} from './billing-run-repository.ts';
import {
  type BrokenOrg,
  type Catalog,
  loadCatalog,
  overageRowsOf,
  type PricedPeriod,
  pairOf,
  pricePeriods,
} from './price-periods.ts';

export type CloseReport = {
  periodsClosed: number;
  alreadyClosed: number;
  /** Orgs whose period containing `at` has not ended yet (nothing done for them). */
  notEnded: number;
  itemsCreated: number;
  failed: BrokenOrg[];
};

export const CLOSE_CHUNK = 500;

/** Who closes, what the audit row names (`billing`, or `org:<id>`), and whether to record a call that closed nothing. */
export type CloseAudit = { actor: string; target: string; evenIfIdle: boolean };

const noneYet = (): CloseReport => ({
  periodsClosed: 0,
  alreadyClosed: 0,
  notEnded: 0,
  itemsCreated: 0,
  failed: [],
});

function addTo(total: CloseReport, part: CloseReport): void {
  total.periodsClosed += part.periodsClosed;
  total.alreadyClosed += part.alreadyClosed;
  total.notEnded += part.notEnded;
  total.itemsCreated += part.itemsCreated;
  total.failed.push(...part.failed);
}

/** The deterministic outbox key of an (org, metric, period): the same close always makes the same key. */
export const overageItemKey = (orgId: string, metricKey: string, periodStart: Date) =>
  `overage:${orgId}:${metricKey}:${periodStart.toISOString()}`;

/**
 * Closes billing periods: for each org (or the one given) whose period containing `at` (default:
 * the last period that has ended, and any earlier ended period with usage never closed) has
 * ended and is not closed yet, freeze it, write its final
 * overage lines and put one invoice item per metric with a positive amount into the outbox.
 * Safe to run again or on many instances at once: per chunk of orgs one transaction takes the
 * orgs' exclusive close locks (ingestion of late events takes them shared), skips periods already
 * closed, and the outbox keys are unique. Events arriving later for a closed period are counted
 * in the org's next open period (see frozen-periods.ts).
 * Audited per chunk, in the transaction that closes its periods (the chunk's figures), so a
 * close is on record exactly when it committed. `audit.evenIfIdle`: a call that closed nothing
 * is recorded on its own (a person asked for it; the scheduled run is not).
 */
export async function closeBillingPeriods(
  db: Db,
  params: {
    at?: Date | null;
    orgId?: string | null;
    now: Date;
    billingEnabled: boolean;
    audit: CloseAudit;
    chunkSize?: number;
  },
): Promise<Result<CloseReport>> {
  const { now } = params;
  if (params.at && params.at.getTime() > now.getTime())
    return fail(badInput('at must not be in the future.'));
  const catalog = await loadCatalog(db);
  const report = noneYet();
  const chunkSize = params.chunkSize ?? CLOSE_CHUNK;
  let afterId: string | null = null;
  for (;;) {
    const orgs = await orgsAfter(db, {
      afterId,
      limit: chunkSize,
      ...(params.orgId ? { orgIds: [params.orgId] } : {}),
    });
    if (orgs.length === 0) {
      if (params.orgId && afterId === null) return fail(notFound('Org'));
      break;
    }
    afterId = orgs[orgs.length - 1]!.id;
    const chunk = noneYet();
    const targets: { org: OrgRow; period: BillingPeriod }[] = [];
    for (const org of orgs) {
      try {
        const anchor = { anchorDay: org.billingAnchorDay, timeZone: org.billingTimezone };
        const period = params.at
          ? periodContaining(params.at, anchor)
          : previousPeriod(periodContaining(now, anchor), anchor);
        if (period.end.getTime() > now.getTime()) chunk.notEnded++;
        else targets.push({ org, period });
      } catch (error) {
        chunk.failed.push({ orgId: org.id, message: (error as Error).message });
      }
    }
    if (!params.at) {
      // Default: also every earlier ended period with usage that was never closed.
      const orgById = new Map(orgs.map((o) => [o.id, o]));
      const seen = new Set(targets.map((t) => `${t.org.id}|${t.period.start.getTime()}`));
      for (const p of await endedUnclosedPeriods(db, { orgIds: [...orgById.keys()], now })) {
        const org = orgById.get(p.orgId);
        if (!org || seen.has(`${p.orgId}|${p.periodStart.getTime()}`)) continue;
        targets.push({ org, period: { start: p.periodStart, end: p.periodEnd } });
      }
    }
    if (params.orgId && params.at && chunk.notEnded > 0) {
      return fail(
        badInput('The period containing `at` has not ended yet; only ended periods can be closed.'),
      );
    }
    await closeChunk(db, targets, catalog, params, chunk);
    addTo(report, chunk);
    if (orgs.length < chunkSize) break;
  }
  if (report.periodsClosed === 0 && params.audit.evenIfIdle) await recordClose(db, params, report);
  return ok(report);
}

function recordClose(
  db: Db,
  params: { at?: Date | null; now: Date; audit: CloseAudit },
  figures: CloseReport,
): Promise<void> {
  return writeAudit(db, {
    actor: params.audit.actor,
    action: 'closeBillingPeriod',
    target: params.audit.target,
    before: null,
    after: { at: params.at ?? null, ...figures },
    at: params.now,
  });
}

async function closeChunk(
  db: Db,
  targets: readonly { org: OrgRow; period: BillingPeriod }[],
  catalog: Catalog,
  params: { at?: Date | null; now: Date; billingEnabled: boolean; audit: CloseAudit },
  report: CloseReport,
): Promise<void> {
  if (targets.length === 0) return;
  await db.transaction(async (tx) => {
    await lockPeriodClose(
      tx,
      targets.map((t) => t.org.id),
      'exclusive',
    );
    const closed = await closedPairs(tx, targets.map(pairOf));
    const open = targets.filter((t) => !closed.has(`${t.org.id}|${t.period.start.getTime()}`));
    report.alreadyClosed += targets.length - open.length;
    const { priced, failed } = await pricePeriods(tx, open, catalog, params.billingEnabled);
    report.failed.push(...failed);
    const pairs = priced.map(pairOf);
    const newlyClosed = await insertClosedPeriods(tx, { pairs, closedAt: params.now });
    const closing = priced.filter((p) => newlyClosed.has(`${p.org.id}|${p.period.start.getTime()}`));
    await replaceOverageLines(tx, { pairs: closing.map(pairOf), lines: overageRowsOf(closing, params.now) });
    const items = params.billingEnabled ? closing.flatMap((p) => invoiceItemsOf(p, params.now)) : [];
    report.itemsCreated += await insertInvoiceItems(tx, items);
    report.periodsClosed += closing.length;
    if (closing.length > 0) await recordClose(tx, params, report);
  });
}

/** One outbox item per metric of the period with a positive (rounded) amount. */
export function invoiceItemsOf(p: PricedPeriod, now: Date): NewInvoiceItem[] {
  return p.meters
    .filter((m) => m.line.threshold !== null && m.line.costMinor > 0n)
    .map((m) => {
      const key = overageItemKey(p.org.id, m.metric.key, p.period.start);
      return {
        orgId: p.org.id,
        metricKey: m.metric.key,
        periodStart: p.period.start,
        periodEnd: p.period.end,
        idempotencyKey: key,
        description: describeOverageLine({
          metricName: m.metric.name,
          used: m.used,
          threshold: m.line.threshold!,
          units: m.line.units,
          price: m.entitlement.overagePrice,
          currency: m.line.currency,
        }),
        amount: formatAmount(m.line.cost),
        amountMinor: m.line.costMinor,
        currency: m.line.currency,
        nextAttemptAt: now,
        metadata: {
          meterline_key: key,
          org_id: p.org.id,
          metric: m.metric.key,
          period_start: p.period.start.toISOString(),
          period_end: p.period.end.toISOString(),
        },
        createdAt: now,
      };
    });
}
