import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import { type KeyUse, recordKeyUses } from './repository.ts';

/** Rows per UPDATE statement: bounds the statement size when many keys were used. */
const CHUNK = 500;

/**
 * Keeps `api_keys.last_used_at` without a database write per request: uses are collected in
 * memory (latest per key) and written in one batched UPDATE every `intervalMs`, and on close.
 * A failed flush puts its uses back, so they go out with the next one. A crash loses at most one
 * interval of last-use times, which is the accepted price of not writing on the hot path.
 */
export class LastUsedTracker {
  private pending = new Map<string, KeyUse>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  private readonly db: Db;
  private readonly log: Logger;
  private readonly intervalMs: number;

  constructor(db: Db, log: Logger, intervalMs = 5_000) {
    this.db = db;
    this.log = log;
    this.intervalMs = intervalMs;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    // The timer alone must not keep the process alive; close() does the last flush.
    this.timer.unref();
  }

  touch(use: KeyUse): void {
    const known = this.pending.get(use.keyId);
    if (!known || known.at < use.at) this.pending.set(use.keyId, use);
  }

  /** A use not yet written, so this instance can answer `lastUsedAt` before the flush. */
  pendingUse(keyId: string): Date | undefined {
    return this.pending.get(keyId)?.at;
  }

  /** Writes the pending uses; flushes never overlap (each waits for the one before). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const uses = [...this.pending.values()];
    this.pending = new Map();
    try {
      for (let i = 0; i < uses.length; i += CHUNK) await recordKeyUses(this.db, uses.slice(i, i + CHUNK));
    } catch (error) {
      this.log.warn({ err: error, keys: uses.length }, 'could not write API key last-use times; will retry');
      for (const use of uses) this.touch(use);
    }
  }
}
