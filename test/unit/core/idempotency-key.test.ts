import { describe, expect, it } from 'vitest';
import { keyReuseConflict, type RecordedEvent } from '../../../src/core/index.ts';

const first: RecordedEvent = { metricKey: 'api_calls', quantity: 3n };

describe('keyReuseConflict: a retry sends what its first call sent', () => {
  it.each<[string, string | null, RecordedEvent, RecordedEvent | undefined, boolean]>([
    ['nothing recorded under the key', 'k', first, undefined, false],
    ['the same metric and quantity (a replay)', 'k', first, first, false],
    ['another metric', 'k', { metricKey: 'tokens', quantity: 3n }, first, true],
    ['another quantity', 'k', { metricKey: 'api_calls', quantity: 4n }, first, true],
    ['another metric and quantity', 'k', { metricKey: 'tokens', quantity: 10n }, first, true],
    // An id the server made can only be held by this request's own earlier attempt.
    ['an id the server made', null, { metricKey: 'tokens', quantity: 9n }, first, false],
  ])('%s -> conflict %s', (_name, key, consumption, recorded, conflict) => {
    expect(keyReuseConflict(key, consumption, recorded) !== null).toBe(conflict);
  });

  it('compares quantities as whole numbers, not as text', () => {
    expect(keyReuseConflict('k', { metricKey: 'api_calls', quantity: 3n }, { ...first })).toBeNull();
    expect(
      keyReuseConflict(
        'k',
        { metricKey: 'api_calls', quantity: 2n ** 60n },
        { ...first, quantity: 2n ** 60n },
      ),
    ).toBeNull();
  });

  it('names what the key holds and what the call sent', () => {
    expect(
      keyReuseConflict(
        'ev-1',
        { metricKey: 'api_calls', quantity: 1n },
        { metricKey: 'tokens', quantity: 10n },
      ),
    ).toBe(
      'idempotencyKey "ev-1" already recorded 10 tokens; a retry must send the same metric and quantity (this call: 1 api_calls). Use a new key for a new consumption.',
    );
    expect(keyReuseConflict('k', { metricKey: 'tokens', quantity: 3n }, first)).toContain(
      'already recorded 3 api_calls',
    );
  });
});
