import { type Amount, type BillingPeriod, Dec, sumRoundedLines, ZERO } from '../core/index.ts';
import type { MetricRow } from '../plans/repository.ts';
import type { OrgMeters } from '../usage/load-meters.ts';
import type { OverageRow } from './repository.ts';

export type OverageLineView = {
  metric: MetricRow;
  used: bigint;
  threshold: bigint;
  units: bigint;
  unitPrice: Amount | null;
  /** Exact, unrounded. */
  cost: Amount;
  currency: string;
};

export type OverageSummaryView = {
  orgId: string;
  period: BillingPeriod;
  lines: OverageLineView[];
  currency: string;
  /** Sum of the lines, each rounded once to the minor unit. */
  total: Amount;
  /** When the stored lines were calculated; null for a live preview of lines not stored yet. */
  calculatedAt: Date | null;
};

function summary(
  orgId: string,
  period: BillingPeriod,
  currency: string,
  lines: OverageLineView[],
  calculatedAt: Date | null,
): OverageSummaryView {
  return {
    orgId,
    period,
    lines,
    currency,
    total: sumRoundedLines(
      lines.map((l) => l.cost),
      currency,
    ).total,
    calculatedAt,
  };
}

/** The stored overage lines of a period. With billing turned off, every amount reads as zero. */
export function summaryOfStoredLines(
  meters: OrgMeters,
  rows: readonly OverageRow[],
  metrics: readonly MetricRow[],
  billingEnabled: boolean,
): OverageSummaryView {
  const metricBy = new Map(metrics.map((m) => [m.key, m]));
  const lines = rows.map((r) => ({
    metric: metricBy.get(r.metricKey)!,
    used: r.used,
    threshold: r.threshold,
    units: r.units,
    unitPrice: r.unitPrice === null ? null : new Dec(r.unitPrice),
    cost: billingEnabled ? new Dec(r.amount) : ZERO,
    currency: r.currency,
  }));
  const calculatedAt = rows.reduce<Date | null>(
    (latest, r) => (!latest || r.calculatedAt > latest ? r.calculatedAt : latest),
    null,
  );
  return summary(meters.org.id, meters.period, meters.plan.currency, lines, calculatedAt);
}

/** Overage lines priced live from the counters (nothing stored yet). */
export function summaryOfMeters(meters: OrgMeters): OverageSummaryView {
  const lines = meters.meters
    .filter((m) => m.line.threshold !== null)
    .map((m) => ({
      metric: m.metric,
      used: m.used,
      threshold: m.line.threshold!,
      units: m.line.units,
      unitPrice: m.line.unitPrice,
      cost: m.line.cost,
      currency: m.line.currency,
    }));
  return summary(meters.org.id, meters.period, meters.plan.currency, lines, null);
}
