import { describe, expect, it } from 'vitest';
import { KeyIdentities } from '../../../src/keys/key-identities.ts';

const identity = (n: number) => ({ keyId: `key-${n}`, orgId: 'org', scopes: [], expiresAt: null });

describe('KeyIdentities', () => {
  it('evicts the least recently used key when full, not the oldest one', () => {
    const keys = new KeyIdentities(3);
    for (const n of [1, 2, 3]) keys.remember(`hash-${n}`, identity(n));
    expect(keys.get('hash-1')?.keyId).toBe('key-1'); // used: now the most recent
    keys.remember('hash-4', identity(4));
    expect(keys.get('hash-2')).toBeUndefined();
    expect(['hash-1', 'hash-3', 'hash-4'].map((h) => keys.get(h)?.keyId)).toEqual([
      'key-1',
      'key-3',
      'key-4',
    ]);
  });

  it('keeps the first identity of a hash and forgets on demand', () => {
    const keys = new KeyIdentities(3);
    keys.remember('hash-1', identity(1));
    keys.remember('hash-1', identity(9));
    expect(keys.get('hash-1')?.keyId).toBe('key-1');
    keys.forget('hash-1');
    expect(keys.get('hash-1')).toBeUndefined();
  });
});
