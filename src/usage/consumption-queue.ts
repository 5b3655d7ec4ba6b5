import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import type { Result } from '../result.ts';
import { type ConsumeRequest, decideConsumes } from './consume.ts';
import type { QuotaDecisionView } from './quota-view.ts';
import { isConsumptionRace } from './repository.ts';

type Waiting = {
  request: ConsumeRequest;
  resolve(result: Result<QuotaDecisionView>): void;
  reject(error: unknown): void;
};

/** How many consumptions one transaction decides at most. */
const MAX_BATCH = 500;
/** How often a batch is decided again after another transaction recorded one of its keys. */
const MAX_RACES = 5;

/**
 * Group commit for quota consumptions. Concurrent `consume` calls on this instance wait while
 * the batches in flight commit, then are decided together in one transaction (`decideConsumes`):
 * the same few statements and one commit for all of them, instead of a transaction each. Each
 * caller is answered only after its batch committed, so an allowed consumption is durable when
 * it is answered, and a crash loses only unanswered ones (which the caller retries).
 * Exactness does not depend on the queue: the counters are locked in the database, so batches of
 * other instances and recordUsage calls are serialised against this one.
 */
export class ConsumptionQueue {
  private waiting: Waiting[] = [];
  private lanes = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly db: Db,
    private readonly log?: Logger,
    /** Batches in flight at once: while one waits on the database, the next is being decided. */
    private readonly maxLanes = 2,
  ) {}

  consume(request: ConsumeRequest): Promise<Result<QuotaDecisionView>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      if (this.lanes < this.maxLanes) {
        this.lanes++;
        void this.lane();
      }
    });
  }

  /** Resolves once every consumption queued so far is answered. */
  close(): Promise<void> {
    return this.lanes === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  private async lane(): Promise<void> {
    // Requests read from the sockets in the same turn of the event loop join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.waiting.length > 0) await this.decide(this.waiting.splice(0, MAX_BATCH));
    } finally {
      this.lanes--;
      if (this.lanes === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private async decide(batch: Waiting[]): Promise<void> {
    try {
      const results = await this.transact(batch.map((w) => w.request));
      for (const [i, w] of batch.entries()) w.resolve(results[i]!);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // One request must not fail its neighbours: each is decided on its own.
      this.log?.warn({ err: error, size: batch.length }, 'consumption batch failed; deciding one by one');
      for (const w of batch) await this.decide([w]);
    }
  }

  private async transact(requests: ConsumeRequest[]): Promise<Result<QuotaDecisionView>[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction((tx) => decideConsumes(tx, requests));
      } catch (error) {
        if (!isConsumptionRace(error) || attempt >= MAX_RACES) throw error;
      }
    }
  }
}
