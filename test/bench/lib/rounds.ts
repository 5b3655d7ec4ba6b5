/**
 * Ratios measured in paired rounds. On a shared machine the speed of everything drifts by tens of
 * percent within a minute, so a ceiling measured once, before all its targets, is a poor
 * denominator for the last of them. Each round measures the ceiling right before the target it
 * is compared with; the target's ratio is the median of its rounds' ratios, and its row is the
 * round that gave that median (every figure in the row from one measurement, its own ceiling
 * beside it), with the spread of the rounds kept for the report.
 */

/** One round: the ceiling measured right before the target. */
export type Pair<R> = { ceiling: R; target: R };

export type PairedRow<R> = R & {
  /** The ceiling's figure of the same round (the ratio's denominator). */
  ceiling: number;
  /** Every round's ratio, ascending. */
  ratios: number[];
};

/**
 * The round with the median ratio (rounds: an odd number for a true median; with an even number
 * the lower middle one), with every round's ratio. `figure` reads the compared number of a row.
 * The check holds only when every round's check held: the first failure is shown.
 */
export function medianRound<R extends { check: string; checkOk: boolean }>(
  pairs: readonly Pair<R>[],
  figure: (row: R) => number,
): PairedRow<R> {
  if (pairs.length === 0) throw new Error('medianRound: no rounds');
  const ratioOf = (p: Pair<R>) => figure(p.target) / figure(p.ceiling);
  const sorted = [...pairs].sort((a, b) => ratioOf(a) - ratioOf(b));
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const failed = pairs.find((p) => !p.target.checkOk);
  return {
    ...median.target,
    ...(failed && { check: failed.target.check, checkOk: false }),
    ceiling: figure(median.ceiling),
    ratios: sorted.map(ratioOf),
  };
}
