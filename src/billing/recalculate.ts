import { formatAmount, periodContaining } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, conflict } from '../errors.ts';
import { afterCommit, usageChanged } from '../events/after-commit.ts';
import type { EventPublisher } from '../events/domain-events.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { lockPeriodClose } from '../usage/frozen-periods.ts';
import { loadOrgMeters, type OrgMeters } from '../usage/load-meters.ts';
import { createLoaders } from '../usage/loaders.ts';
import { replaceOverageLines } from './billing-run-repository.ts';
import { closedPeriodOf } from './invoice-items.ts';
import { type OverageRow, overagesForPeriods } from './repository.ts';

export type RecalculatedOverages = { meters: OrgMeters; rows: OverageRow[] };

/**
 * Prices an org's usage in the period containing `at` and stores one overage line per metric
 * that has a threshold (unlimited metrics have no line). Running it again replaces the lines.
 * Reads and writes in one transaction, so the lines match one consistent set of counters.
 * A closed (invoiced) period's lines are final: recalculated only with `force`, decided under the
 * org's shared close lock, so a close running at the same time is either seen or waits.
 */
export async function recalculateOrgOverages(
  deps: { db: Db; events: EventPublisher },
  params: { org: OrgRow; at: Date; now: Date; billingEnabled: boolean; force: boolean },
): Promise<Result<RecalculatedOverages>> {
  const { org, at, now } = params;
  if (at.getTime() > now.getTime()) return fail(badInput('at must not be in the future.'));
  return afterCommit(deps.events, (effects) =>
    deps.db.transaction(async (tx): Promise<Result<RecalculatedOverages>> => {
      await lockPeriodClose(tx, [org.id], 'shared');
      const anchor = { anchorDay: org.billingAnchorDay, timeZone: org.billingTimezone };
      const closed = await closedPeriodOf(tx, {
        orgId: org.id,
        periodStart: periodContaining(at, anchor).start,
      });
      if (closed && !params.force) {
        return fail(
          conflict('This period is closed and invoiced; pass force: true to recalculate its lines anyway.'),
        );
      }
      const meters = await loadOrgMeters(createLoaders(tx), org, at, params.billingEnabled);
      const lines = meters.meters
        .filter((m) => m.line.threshold !== null)
        .map((m) => ({
          orgId: org.id,
          metricKey: m.metric.key,
          periodStart: meters.period.start,
          periodEnd: meters.period.end,
          used: m.used,
          threshold: m.line.threshold!,
          units: m.line.units,
          unitPrice: m.line.unitPrice === null ? null : formatAmount(m.line.unitPrice),
          amount: formatAmount(m.line.cost),
          amountMinor: m.line.costMinor,
          currency: m.line.currency,
          calculatedAt: now,
        }));
      const pair = { orgId: org.id, periodStart: meters.period.start, periodEnd: meters.period.end };
      await replaceOverageLines(tx, { pairs: [pair], lines });
      const rows = await overagesForPeriods(tx, { orgIds: [pair.orgId], periodStarts: [pair.periodStart] });
      effects.publish(usageChanged([org.id]));
      return ok({ meters, rows });
    }),
  );
}
