import { describe, expect, it } from 'vitest';
import { medianRound } from '../../bench/lib/rounds.ts';

type Row = { rate: number; check: string; checkOk: boolean; p50: number };
const row = (rate: number, p50 = 1, checkOk = true): Row => ({
  rate,
  p50,
  check: checkOk ? 'OK' : 'FAILED: x',
  checkOk,
});

describe('medianRound', () => {
  it("answers the round with the median ratio, its own ceiling and every round's ratio", () => {
    const r = medianRound(
      [
        { ceiling: row(1000), target: row(700, 7) }, // 0.70
        { ceiling: row(500), target: row(250, 5) }, // 0.50
        { ceiling: row(800), target: row(480, 6) }, // 0.60: the median
      ],
      (x) => x.rate,
    );
    expect(r).toMatchObject({ rate: 480, p50: 6, ceiling: 800, checkOk: true });
    expect(r.ratios).toEqual([0.5, 0.6, 0.7]);
  });

  it('takes the lower middle round of an even number, and fails the check when any round failed', () => {
    const r = medianRound(
      [
        { ceiling: row(100), target: row(90) },
        { ceiling: row(100), target: row(40, 1, false) },
        { ceiling: row(100), target: row(60) },
        { ceiling: row(100), target: row(80) },
      ],
      (x) => x.rate,
    );
    expect(r.rate).toBe(60);
    expect([r.checkOk, r.check]).toEqual([false, 'FAILED: x']);
  });

  it('refuses no rounds at all', () => {
    expect(() => medianRound([], (x: Row) => x.rate)).toThrow(/no rounds/);
  });
});
