import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { postgresOptions, reconnectDelaySeconds } from '../../../src/db/postgres-options.ts';

describe('reconnectDelaySeconds', () => {
  it.each([
    // failures in a row, the delay without jitter (s): jitter keeps half to all of it
    [0, 0.01],
    [1, 0.03],
    [2, 0.09],
    [3, 0.27],
    [4, 0.5],
    [7, 0.5],
  ])('after %i failures waits between half of and %f s', (failures, full) => {
    for (let i = 0; i < 50; i++) {
      const delay = reconnectDelaySeconds(failures);
      expect(delay).toBeGreaterThanOrEqual(full / 2);
      expect(delay).toBeLessThanOrEqual(full);
    }
  });

  it('never waits more than half a second, however many failures', () => {
    fc.assert(
      fc.property(fc.nat(10_000), (failures) => {
        const delay = reconnectDelaySeconds(failures);
        return delay >= 0 && delay <= 0.5;
      }),
    );
  });

  it('is the delay every client of ours uses', () => {
    expect(postgresOptions('meterline').backoff).toBe(reconnectDelaySeconds);
  });
});
