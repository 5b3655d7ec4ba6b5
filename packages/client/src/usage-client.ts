import { retryDelay, sleep, unref } from './backoff.ts';
import { type MeterlineError, toMeterlineError } from './errors.ts';
import { MeterlineClient, type MeterlineClientOptions, type RecordUsageResult } from './meterline-client.ts';
import type { UsageEventInput } from './operations.generated.ts';
import { UsageClientError } from './usage-errors.ts';
import { toEventInput, type UsageEvent } from './usage-event.ts';

export type UsageClientOptions = MeterlineClientOptions & {
  /** Events per recordUsage call (1..1,000); default 100. */
  batchSize?: number;
  /** A partial batch is sent once its oldest event has waited this long; default 5,000 ms. */
  flushIntervalMs?: number;
  /** Events held in memory (queued and in flight); past it `track` drops and counts. Default 10,000. */
  maxQueueSize?: number;
  /** Batches sent at the same time; default 2. */
  concurrency?: number;
  /** Retries of one batch before its events count as failed; default 10 (about 1.5 minutes of waits). */
  maxRetries?: number;
  /** First retry waits ~this long, doubling each time; default 200 ms. */
  initialBackoffMs?: number;
  /** Longest wait between retries (unless the server's Retry-After says more); default 30,000 ms. */
  maxBackoffMs?: number;
  /** Where failures go (the client never throws into the host); default: console.warn. */
  onError?: (error: UsageClientError) => void;
  /** The jitter's random source (tests). */
  random?: () => number;
};

/** Counters since the client started, all in events. */
export type UsageClientStats = {
  /** Waiting for a batch. */
  queued: number;
  /** In a batch being sent or waiting to be retried. */
  inFlight: number;
  /** Confirmed by the server: accepted now, or found already recorded (a retry of a delivered batch). */
  sent: number;
  accepted: number;
  duplicates: number;
  /** Refused by the server or found unsendable by `track` (reported to onError, never retried). */
  rejected: number;
  /** Not queued: the queue was full or the client closed. */
  dropped: number;
  /** Sent again after a failed attempt (one event retried twice counts twice). */
  retried: number;
  /** Given up on: a non-retryable answer, retries ran out, or `close` stopped waiting. */
  failed: number;
};

type Pending = { seq: number; enqueuedAt: number; event: UsageEventInput };

/**
 * Records usage from a host application without ever slowing it down or throwing into it.
 *
 * `track` stamps each event with an id and a timestamp and queues it; batches go out when full
 * or when their oldest event is `flushIntervalMs` old. A batch that fails for a reason that may
 * pass (Meterline restarting, connection refused, timeout, 5xx, 429) is sent again, with the same
 * ids, after an exponential, jittered wait (honouring Retry-After): the server counts an id once,
 * so a batch that was written but whose answer was lost is counted once. The queue is bounded:
 * while Meterline is away for long, new events are dropped and counted rather than filling memory.
 */
export class UsageClient {
  readonly client: MeterlineClient;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxQueueSize: number;
  readonly #concurrency: number;
  readonly #maxRetries: number;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #onError: (error: UsageClientError) => void;
  readonly #random: () => number;

  #queue: Pending[] = [];
  readonly #inFlight = new Set<Pending[]>();
  #inFlightEvents = 0;
  #seq = 0;
  /** Partial batches holding events up to this seq are sent at once (flush / close). */
  #flushThrough = 0;
  #waiters: { through: number; resolve: () => void }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A ref'd timer held while a flush or close is pending (see #hold); how many hold it. */
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #holds = 0;
  #dropping = false;
  #closed = false;
  /** Aborted when `close` stops waiting: requests and backoff sleeps end at once. */
  readonly #stop = new AbortController();
  readonly #stats: Omit<UsageClientStats, 'queued' | 'inFlight'> = {
    sent: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    dropped: 0,
    retried: 0,
    failed: 0,
  };

  constructor(options: UsageClientOptions) {
    // A batch of 1,000 events on a busy database may take a while: a longer default timeout.
    this.client = new MeterlineClient({ ...options, timeoutMs: options.timeoutMs ?? 10_000 });
    this.#batchSize = clamp(options.batchSize ?? 100, 1, 1_000);
    this.#flushIntervalMs = Math.max(0, options.flushIntervalMs ?? 5_000);
    this.#maxQueueSize = Math.max(1, options.maxQueueSize ?? 10_000);
    this.#concurrency = Math.max(1, options.concurrency ?? 2);
    this.#maxRetries = Math.max(0, options.maxRetries ?? 10);
    this.#backoff = { initialMs: options.initialBackoffMs ?? 200, maxMs: options.maxBackoffMs ?? 30_000 };
    this.#onError = options.onError ?? ((error) => console.warn(`[meterline] ${error.message}`));
    this.#random = options.random ?? Math.random;
  }

  /**
   * Queues one event. Returns the event's id, or undefined when the event was not queued
   * (full queue, closed client, invalid event: reported to onError). Never throws.
   */
  track(event: UsageEvent): string | undefined {
    try {
      if (this.#closed) {
        this.#drop(event, 'the usage client is closed: the event was dropped.');
        return undefined;
      }
      if (this.#queue.length + this.#inFlightEvents >= this.#maxQueueSize) {
        this.#drop(event, `the usage queue is full (${this.#maxQueueSize} events): dropping events.`);
        return undefined;
      }
      let input: UsageEventInput;
      try {
        input = toEventInput(event);
      } catch (error) {
        this.#stats.rejected++;
        const message = error instanceof Error ? error.message : String(error);
        this.#report(new UsageClientError('invalid', `an event could not be tracked: ${message}`));
        return undefined;
      }
      this.#dropping = false;
      this.#queue.push({ seq: ++this.#seq, enqueuedAt: Date.now(), event: input });
      this.#pump();
      return input.id;
    } catch (error) {
      // Unreachable in practice; the promise to the host is that track never throws.
      this.#report(new UsageClientError('invalid', `track failed: ${String(error)}`));
      return undefined;
    }
  }

  /**
   * Sends everything tracked so far and resolves once each of those events is settled (sent,
   * rejected or failed). Resolves false if `timeoutMs` passes first; the events stay queued.
   */
  flush(options: { timeoutMs?: number } = {}): Promise<boolean> {
    const through = this.#seq;
    if (this.#settledThrough() >= through) return Promise.resolve(true);
    this.#flushThrough = Math.max(this.#flushThrough, through);
    const settled = new Promise<boolean>((resolve) => {
      this.#waiters.push({ through, resolve: () => resolve(true) });
    });
    this.#pump();
    const release = this.#hold();
    const result =
      options.timeoutMs === undefined
        ? settled
        : Promise.race([settled, sleep(options.timeoutMs).then(() => false)]);
    return result.finally(release);
  }

  /**
   * Stops taking events and drains: resolves true when every event was settled within
   * `timeoutMs` (default 10,000). Past it, requests and retries are abandoned and what is left
   * counts as failed (reported to onError). Call it on shutdown: the process stays up until it
   * resolves, even when nothing else holds it (a SIGTERM handler, the end of a script).
   */
  async close(options: { timeoutMs?: number } = {}): Promise<boolean> {
    this.#closed = true;
    const release = this.#hold();
    try {
      const drained = await this.flush({ timeoutMs: options.timeoutMs ?? 10_000 });
      if (!drained) {
        this.#stop.abort();
        this.#pump();
        await this.flush();
      }
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      return drained;
    } finally {
      release();
    }
  }

  stats(): UsageClientStats {
    return { queued: this.#queue.length, inFlight: this.#inFlightEvents, ...this.#stats };
  }

  /** Starts every batch that is due and has a free slot; arms the timer for the next one. */
  #pump(): void {
    if (this.#stop.signal.aborted) {
      const left = this.#queue;
      this.#queue = [];
      if (left.length > 0)
        this.#fail(left, undefined, 'the usage client was closed before these events were sent.');
      this.#notify();
      return;
    }
    const now = Date.now();
    while (this.#queue.length > 0 && this.#inFlight.size < this.#concurrency) {
      const head = this.#queue[0]!;
      const due =
        this.#queue.length >= this.#batchSize ||
        head.seq <= this.#flushThrough ||
        now - head.enqueuedAt >= this.#flushIntervalMs;
      if (!due) break;
      const batch = this.#queue.splice(0, this.#batchSize);
      this.#inFlight.add(batch);
      this.#inFlightEvents += batch.length;
      void this.#deliver(batch).finally(() => {
        this.#inFlight.delete(batch);
        this.#inFlightEvents -= batch.length;
        this.#notify();
        this.#pump();
      });
    }
    // With every slot busy the next settled batch pumps again; a timer then would only spin.
    if (this.#timer === undefined && this.#queue.length > 0 && this.#inFlight.size < this.#concurrency) {
      const wait = Math.max(0, this.#queue[0]!.enqueuedAt + this.#flushIntervalMs - now);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, wait);
      unref(this.#timer);
    }
  }

  /** Sends one batch until it is settled. Never rejects. */
  async #deliver(batch: Pending[]): Promise<void> {
    const events = batch.map((p) => p.event);
    for (let attempt = 0; ; attempt++) {
      let error: MeterlineError;
      try {
        const result = await this.client.recordUsage(events, { signal: this.#stop.signal });
        this.#settle(events, result);
        return;
      } catch (caught) {
        error = toMeterlineError(caught);
      }
      if (!error.retryable || attempt >= this.#maxRetries || this.#stop.signal.aborted) {
        const why =
          error.retryable && !this.#stop.signal.aborted
            ? `gave up after ${attempt + 1} attempts`
            : 'not retried';
        return this.#fail(
          batch,
          error,
          `${events.length} usage events were not delivered (${why}): ${error.message}`,
        );
      }
      await sleep(retryDelay(attempt, this.#backoff, error.retryAfterMs, this.#random), this.#stop.signal);
      if (this.#stop.signal.aborted) {
        return this.#fail(
          batch,
          error,
          `${events.length} usage events were not delivered before close: ${error.message}`,
        );
      }
      this.#stats.retried += events.length;
    }
  }

  #settle(events: UsageEventInput[], result: RecordUsageResult): void {
    this.#stats.accepted += result.accepted;
    this.#stats.duplicates += result.duplicates;
    this.#stats.sent += events.length - result.rejected.length;
    if (result.rejected.length === 0) return;
    this.#stats.rejected += result.rejected.length;
    const rejections = result.rejected.map((r) => ({
      event: events[r.index] ?? events.find((e) => e.id === r.id) ?? { id: r.id ?? '', metric: '' },
      code: r.code,
      message: r.message,
    }));
    const first = rejections[0]!;
    this.#report(
      new UsageClientError(
        'rejected',
        `Meterline rejected ${rejections.length} usage event(s), e.g. ${first.event.id}: ${first.code} ${first.message}`,
        { rejections },
      ),
    );
  }

  #fail(batch: Pending[], cause: MeterlineError | undefined, message: string): void {
    this.#stats.failed += batch.length;
    const events = batch.map((p) => p.event);
    this.#report(new UsageClientError('failed', message, cause ? { events, cause } : { events }));
  }

  /** Counts every drop; reports the first of each stretch of drops, not each one. */
  #drop(event: UsageEvent, message: string): void {
    this.#stats.dropped++;
    if (this.#dropping) return;
    this.#dropping = true;
    const sample = { id: event?.id ?? '', metric: event?.metric ?? '' };
    this.#report(new UsageClientError('dropped', message, { events: [sample] }));
  }

  /**
   * Keeps the process alive until the returned function is called. The batching timer and the
   * backoff sleeps are unref'd, so a tracked event alone never keeps a host alive; but a host
   * awaiting flush or close with nothing else running (a script's last line, a SIGTERM handler)
   * would otherwise see Node exit mid-retry, the events neither sent nor reported as failed.
   */
  #hold(): () => void {
    // Longest delay a timer takes: it only holds the process, it never needs to fire.
    if (this.#holds++ === 0) this.#keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) clearInterval(this.#keepAlive);
    };
  }

  #report(error: UsageClientError): void {
    try {
      this.#onError(error);
    } catch {
      // The host's own hook failed; nothing sensible is left to do with it.
    }
  }

  /** The highest seq such that every event up to it is settled. */
  #settledThrough(): number {
    let lowest = this.#queue[0]?.seq ?? Number.POSITIVE_INFINITY;
    for (const batch of this.#inFlight) lowest = Math.min(lowest, batch[0]!.seq);
    return lowest === Number.POSITIVE_INFINITY ? this.#seq : lowest - 1;
  }

  #notify(): void {
    if (this.#waiters.length === 0) return;
    const through = this.#settledThrough();
    const ready = this.#waiters.filter((w) => w.through <= through);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.through > through);
    for (const w of ready) w.resolve();
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(value)));
}
