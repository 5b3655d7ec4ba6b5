/**
 * What the soak's clients know for certain, kept exactly: every event id the servers
 * acknowledged (accepted, or answered as already recorded), per org, with its metric and
 * quantity; and how many times a server said it counted something. At the end the ledger, the
 * counters, the daily aggregates and `Org.usage` must all equal it.
 */
export type RecordedEvent = { metric: string; quantity: bigint };

export class UsageModel {
  /** Org id (as the API names it) -> event id -> what it recorded. */
  readonly events = new Map<string, Map<string, RecordedEvent>>();
  /** Running sum per org and metric, for reads made during the run. */
  private readonly sums = new Map<string, bigint>();
  /** Answers that said "counted by this call": recordUsage `accepted`, `consumed: true`. */
  counted = 0;
  readonly problems: string[] = [];

  /** The server holds this event in its ledger (it accepted it now or earlier). */
  acknowledge(orgId: string, eventId: string, metric: string, quantity: bigint): void {
    let org = this.events.get(orgId);
    if (!org) {
      org = new Map();
      this.events.set(orgId, org);
    }
    const known = org.get(eventId);
    if (!known) {
      org.set(eventId, { metric, quantity });
      const k = `${orgId}|${metric}`;
      this.sums.set(k, (this.sums.get(k) ?? 0n) + quantity);
    } else if (known.metric !== metric || known.quantity !== quantity) {
      this.problems.push(`event ${eventId} acknowledged twice with different contents`);
    }
  }

  /** Sum of the acknowledged quantities of an org's metric so far. */
  sumOf(orgId: string, metric: string): bigint {
    return this.sums.get(`${orgId}|${metric}`) ?? 0n;
  }

  has(orgId: string, eventId: string): boolean {
    return this.events.get(orgId)?.has(eventId) ?? false;
  }

  /** Sum and count of the acknowledged events of an org, per metric. */
  totals(orgId: string): Map<string, { sum: bigint; count: bigint }> {
    const out = new Map<string, { sum: bigint; count: bigint }>();
    for (const e of this.events.get(orgId)?.values() ?? []) {
      const t = out.get(e.metric) ?? { sum: 0n, count: 0n };
      t.sum += e.quantity;
      t.count += 1n;
      out.set(e.metric, t);
    }
    return out;
  }

  get distinctEvents(): number {
    let n = 0;
    for (const org of this.events.values()) n += org.size;
    return n;
  }
}

const bump = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);

/** Figures of the run, by kind of call and outcome. */
export class SoakStats {
  readonly calls = new Map<string, number>();
  /** Calls that repeat earlier event ids or idempotency keys (after the answer, or at the same time). */
  retries = 0;
  readonly events = { sent: 0, accepted: 0, duplicates: 0 };
  readonly rejected = new Map<string, number>();
  /** Quota refusals: checkQuota reasons, verifyApiKey codes. */
  readonly denials = new Map<string, number>();
  /** GraphQL error codes answered (all expected: bad input sent on purpose). */
  readonly errors = new Map<string, number>();
  readonly statuses = new Map<string, number>();
  /** Connections reset as a request was sent on them, and the request sent again. */
  readonly transportRetries = new Map<string, number>();
  /** Calls answered with something the contract does not allow: each one fails the soak. */
  readonly problems: string[] = [];
  problemCount = 0;
  /** Per-request latency in ms, by kind of call. */
  readonly latencies = new Map<string, number[]>();

  call(kind: string, ms: number, status: number): void {
    bump(this.calls, kind);
    bump(this.statuses, String(status));
    const l = this.latencies.get(kind) ?? [];
    l.push(ms);
    this.latencies.set(kind, l);
  }

  reject(code: string): void {
    bump(this.rejected, code);
  }

  deny(reason: string): void {
    bump(this.denials, reason);
  }

  transportRetry(code: string): void {
    bump(this.transportRetries, code);
  }

  error(code: string): void {
    bump(this.errors, code);
  }

  problem(message: string): void {
    this.problemCount++;
    if (this.problems.length < 30) this.problems.push(message);
  }

  get totalCalls(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }
}
