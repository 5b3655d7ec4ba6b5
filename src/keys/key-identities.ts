import type { ApiKeyScope } from '../auth/principal.ts';

/** What never changes of a key once created: its id, org, scopes and expiry. */
export type KeyIdentity = {
  keyId: string;
  orgId: string;
  scopes: readonly ApiKeyScope[];
  expiresAt: Date | null;
};

/**
 * The keys this process has seen valid, by secret hash: what a key is never changes (nothing
 * updates a key's org, scopes or expiry; rotation gives it a new hash, under which it is seen
 * again), so an entry is never wrong about what the key is, only possibly about whether it still
 * works. That is never taken from here: a call made with an entry counts only through a write that
 * finds the key live (see ConsumeRequest.apiKey), and any other answer reads the key. Bounded:
 * the least recently used entry goes first, so a gateway's busy keys stay while one-off keys pass.
 */
export class KeyIdentities {
  private readonly byHash = new Map<string, KeyIdentity>();

  private readonly maxKeys: number;

  constructor(maxKeys = 10_000) {
    this.maxKeys = maxKeys;
  }

  get(keyHash: string): KeyIdentity | undefined {
    const identity = this.byHash.get(keyHash);
    if (identity) {
      // Last in the Map's insertion order: the most recently used.
      this.byHash.delete(keyHash);
      this.byHash.set(keyHash, identity);
    }
    return identity;
  }

  remember(keyHash: string, identity: KeyIdentity): void {
    if (this.byHash.has(keyHash)) return;
    if (this.byHash.size >= this.maxKeys) this.byHash.delete(this.byHash.keys().next().value!);
    this.byHash.set(keyHash, identity);
  }

  forget(keyHash: string): void {
    this.byHash.delete(keyHash);
  }
}
