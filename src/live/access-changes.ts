import type { LiveBus } from './bus.ts';

/** Orgs whose last change is remembered; past it, every org counts as changed once (see note). */
const MAX_ORGS = 10_000;

/**
 * What this instance knows of changes to who may act for an org: every "access changed" message
 * (from any instance over the bus, and this instance's own the moment it is published) moves a
 * sequence, and a bus reconnect counts as a change of every org (messages may have been lost).
 * An open socket notes `mark()` when it reads its API key and reads the key again only once
 * `changedSince` says so; running subscriptions `watch` their org and check their credential again.
 */
export class AccessChanges {
  private seq = 0;
  /** Everything before this counts as changed (a resync, or the org map was cleared). */
  private everythingAt = 0;
  private readonly changedAt = new Map<string, number>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly unsubscribe: () => void;

  constructor(bus: LiveBus) {
    this.unsubscribe = bus.subscribe((message) => {
      if (message.t === 'access') this.changed(message.orgId);
      if (message.t === 'resync') this.changedEverything();
    });
  }

  mark(): number {
    return this.seq;
  }

  changedSince(orgId: string, mark: number): boolean {
    return this.everythingAt > mark || (this.changedAt.get(orgId) ?? 0) > mark;
  }

  /** Calls `listener` after every change of the org's access; returns the unwatch function. */
  watch(orgId: string, listener: () => void): () => void {
    let set = this.watchers.get(orgId);
    if (!set) {
      set = new Set();
      this.watchers.set(orgId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.watchers.get(orgId) === set) this.watchers.delete(orgId);
    };
  }

  changed(orgId: string): void {
    this.seq++;
    // Bounded: forgetting the orgs only makes every socket read its key once more.
    if (this.changedAt.size >= MAX_ORGS && !this.changedAt.has(orgId)) {
      this.changedAt.clear();
      this.everythingAt = this.seq;
    }
    this.changedAt.set(orgId, this.seq);
    for (const listener of [...(this.watchers.get(orgId) ?? [])]) listener();
  }

  close(): void {
    this.unsubscribe();
  }

  private changedEverything(): void {
    this.everythingAt = ++this.seq;
    for (const set of [...this.watchers.values()]) for (const listener of [...set]) listener();
  }
}
