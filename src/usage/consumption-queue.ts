import type { Logger } from 'pino';
import { entitlementFor, type QuotaDecisionView } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { isTransactionConflict } from '../db/connection-loss.ts';
import { usageChanged } from '../events/after-commit.ts';
import type { EventPublisher } from '../events/domain-events.ts';
import type { Result } from '../result.ts';
import { decideConsumes } from './consume.ts';
import {
  type Admitted,
  admitConsumptions,
  CatalogCopy,
  type ConsumeAnswer,
  type ConsumeRequest,
  KEY_UNCONFIRMED,
  type OrgCatalog,
} from './consume-catalog.ts';
import { countUnrefusable, isUnrefusable } from './count-unrefusable.ts';
import { isConsumptionRace, violatesSafeUsage } from './repository.ts';

type Waiting = {
  request: ConsumeRequest;
  resolve(result: ConsumeAnswer): void;
  reject(error: unknown): void;
};

/** How many consumptions one batch decides at most. */
const MAX_BATCH = 500;
/**
 * How often a batch is decided again after another transaction recorded one of its keys, or
 * PostgreSQL aborted it to break a deadlock (nothing of it was written either way).
 */
const MAX_RACES = 5;

/**
 * Group commit for quota consumptions. Concurrent `consume` calls on this instance wait while
 * the batches in flight commit, then are decided together: the same few statements for all of
 * them, instead of a transaction each. A batch reads what it is decided under (the catalog), then
 * splits: consumptions that can be refused (a hard limit, a budget, a gauge) are decided in one
 * transaction with their counters locked (`decideConsumes`); the others, allowed whatever the
 * usage, are counted by one statement that answers the counters' new values (`countUnrefusable`).
 * Each caller is answered only after its write committed, so an allowed consumption is durable
 * when it is answered, and a crash loses only unanswered ones (which the caller retries).
 * Exactness does not depend on the queue: counters are moved under their row locks, and the
 * refusable ones are decided holding them, so batches of other instances and recordUsage calls
 * are serialised against this one.
 * The queue owns the batches' transactions, so it owns their effect: once a part of a batch has
 * committed, and before its callers are answered, it publishes `usageChanged` for the orgs whose
 * consumptions counted (one event per part, not one per request).
 */
export class ConsumptionQueue {
  private waiting: Waiting[] = [];
  private lanes = 0;
  private idle: (() => void)[] = [];
  private readonly catalog: CatalogCopy;

  private readonly db: Db;
  private readonly events: EventPublisher;
  private readonly log: Logger | undefined;
  /** Batches in flight at once: while one waits on the database, the next is being decided. */
  private readonly maxLanes: number;

  constructor(db: Db, events: EventPublisher, log?: Logger, maxLanes = 2) {
    this.db = db;
    this.events = events;
    this.log = log;
    this.maxLanes = maxLanes;
    this.catalog = new CatalogCopy(db);
  }

  /** Decides (and counts when allowed) one consumption, with those queued meanwhile. */
  consume(request: Omit<ConsumeRequest, 'apiKey'>): Promise<Result<QuotaDecisionView>> {
    // Only an `apiKey` request can be answered KEY_UNCONFIRMED.
    return this.enqueue(request) as Promise<Result<QuotaDecisionView>>;
  }

  /** `consume` for an API key's call made without a read of the key (see ConsumeRequest.apiKey). */
  consumeAsKey(request: ConsumeRequest & { apiKey: object }): Promise<ConsumeAnswer> {
    return this.enqueue(request);
  }

  private enqueue(request: ConsumeRequest): Promise<ConsumeAnswer> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      if (this.lanes < this.maxLanes) {
        this.lanes++;
        void this.lane();
      }
    });
  }

  /**
   * The org as this instance's catalog copy has it (read when missing), when its consumptions of
   * `metric` cannot be refused (`isUnrefusable`); undefined otherwise (or no such org). For API
   * keys' calls: only those can be counted without a read of the key (`consumeAsKey`).
   */
  async unrefusableOrg(orgId: string, metric: string): Promise<OrgCatalog | undefined> {
    const catalog = await this.catalog.read([{ orgId, metric }]);
    const entry = catalog.orgs.get(orgId);
    const metricRow = catalog.metrics.get(metric);
    if (!entry || !metricRow) return undefined;
    const entitlement = entitlementFor(metric, entry.plan, entry.overrides);
    return isUnrefusable({ org: entry.org, metric: metricRow, entitlement }) ? entry : undefined;
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
    const requests = batch.map((w) => w.request);
    let decidable: ReturnType<typeof admitConsumptions>;
    try {
      decidable = admitConsumptions(requests, await this.catalog.read(requests));
    } catch (error) {
      await this.oneByOne(batch, error);
      return;
    }
    const { admitted, results } = decidable;
    for (const [i, result] of results.entries()) if (result) batch[i]!.resolve(result);
    const unrefusable = admitted.filter(isUnrefusable);
    // An API key's call that may be refused is decided with locks, after a read of the key.
    for (const a of admitted)
      if (!isUnrefusable(a) && a.request.apiKey) batch[a.index]!.resolve(KEY_UNCONFIRMED);
    const refusable = admitted.filter((a) => !isUnrefusable(a) && !a.request.apiKey);
    await Promise.all([
      this.countWithoutLocks(batch, unrefusable),
      this.settle(batch, refusable, () => this.decideWithLocks(refusable)),
    ]);
  }

  /** Answers one part of a batch; a part that fails is decided again one by one (see `oneByOne`). */
  private async settle(
    batch: Waiting[],
    part: readonly Admitted[],
    run: () => Promise<Map<Admitted, ConsumeAnswer>>,
  ): Promise<void> {
    if (part.length === 0) return;
    let results: Map<Admitted, ConsumeAnswer>;
    try {
      results = await run();
    } catch (error) {
      await this.oneByOne(
        part.map((a) => batch[a.index]!),
        error,
      );
      return;
    }
    await this.announce(results);
    for (const a of part) batch[a.index]!.resolve(results.get(a)!);
  }

  /** After a commit: the orgs whose consumptions counted have new usage (see the class comment). */
  private async announce(results: ReadonlyMap<Admitted, ConsumeAnswer>): Promise<void> {
    const orgIds = new Set<string>();
    for (const [a, answer] of results) {
      if (answer !== KEY_UNCONFIRMED && answer.ok && answer.value.consumed) orgIds.add(a.org.id);
    }
    if (orgIds.size > 0) await this.events.publish(usageChanged([...orgIds]));
  }

  /**
   * One request must not fail its neighbours: after a failure each is decided on its own (event
   * ids stay the same, so one whose write did commit is found, not counted again).
   */
  private async oneByOne(batch: Waiting[], error: unknown): Promise<void> {
    if (batch.length === 1) {
      batch[0]!.reject(error);
      return;
    }
    this.log?.warn({ err: error, size: batch.length }, 'consumption batch failed; deciding one by one');
    for (const w of batch) await this.decide([w]);
  }

  /**
   * Without locks (`countUnrefusable`), answering each consumption as soon as the write is known.
   * Orgs whose copied catalog was stale are forgotten and their consumptions decided again with
   * locks (from the database); API keys' calls that were stale are answered KEY_UNCONFIRMED (their
   * caller reads the key and asks again). A counter that would pass 2^53-1 fails the write: then
   * the whole part is treated as stale, the locks refusing the consumption that would pass it.
   */
  private async countWithoutLocks(batch: Waiting[], part: readonly Admitted[]): Promise<void> {
    if (part.length === 0) return;
    let counted: Awaited<ReturnType<typeof countUnrefusable>>;
    try {
      counted = await countUnrefusable(this.db, part);
    } catch (error) {
      if (!violatesSafeUsage(error)) {
        await this.oneByOne(
          part.map((a) => batch[a.index]!),
          error,
        );
        return;
      }
      counted = { results: new Map(), stale: [...part] };
    }
    // Answered first: a failure deciding the stale ones must not undo what was counted.
    await this.announce(counted.results);
    for (const [a, result] of counted.results) batch[a.index]!.resolve(result);
    this.catalog.forget(counted.stale.map((a) => a.org.id));
    // The locks decide without the key: an API key's call goes back to its caller to read it.
    for (const a of counted.stale) if (a.request.apiKey) batch[a.index]!.resolve(KEY_UNCONFIRMED);
    const locked = counted.stale.filter((a) => !a.request.apiKey);
    await this.settle(batch, locked, () => this.decideWithLocks(locked));
  }

  /**
   * In a transaction, with the counters locked (`decideConsumes`), again after a lost race or a
   * deadlock: the counters are locked in one order, but a transaction of another writer can still
   * hold one of the batch's event ids while it waits on a counter the batch holds.
   */
  private async decideWithLocks(part: readonly Admitted[]): Promise<Map<Admitted, ConsumeAnswer>> {
    const requests = part.map((a) => a.request);
    const metrics = new Map(part.map((a) => [a.metric.key, a.metric]));
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.db.transaction((tx) => decideConsumes(tx, requests, metrics));
        return new Map(part.map((a, i) => [a, results[i]!]));
      } catch (error) {
        const again = isConsumptionRace(error) || isTransactionConflict(error);
        if (!again || attempt >= MAX_RACES) throw error;
      }
    }
  }
}
