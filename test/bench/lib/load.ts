import { Agent, request } from 'node:http';

/** One HTTP request a worker sends: the body is built by the caller, once per request. */
export type Shot = { body: string; headers?: Record<string, string> };

/** What a response is worth: `units` (requests or events) or a failure reason. */
export type Verdict = { units: number } | { error: string };

export type LoadOptions = {
  url: string;
  path?: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Builds the next request of worker `worker` (its `seq`-th). */
  next(worker: number, seq: number): Shot;
  /** Judges a response; called for every response, warm-up included. */
  judge(status: number, body: string, shot: Shot, worker: number): Verdict;
};

export type LoadResult = {
  concurrency: number;
  /** Measured window, in seconds. */
  seconds: number;
  /** Requests completed in the measured window (whenever they started). */
  requests: number;
  /** Units (events, decisions) completed in the measured window. */
  units: number;
  /** Per-request latency of the measured window, milliseconds, sorted. */
  latencies: Float64Array;
  /** Failed responses over the whole run (warm-up and tail included), by reason. */
  errors: Map<string, number>;
  /** Requests sent over the whole run (warm-up and tail included). */
  sent: number;
};

/** POSTs a JSON body over `agent` (keep-alive) and reads the whole answer. */
export function postJson(agent: Agent, target: URL, shot: Shot): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(shot.body);
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          'content-length': String(body.length),
          ...shot.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Closed-loop load: `concurrency` workers, each with its own keep-alive connection, send a
 * request, wait for the answer, and send the next. A warm-up phase runs first; then the requests
 * that complete inside the measured window count (throughput = completions in the window / its
 * length, whenever they started). Workers stop sending at its end and wait for their last
 * answer, so nothing is left in flight when this returns.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.path ?? '/graphql', options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const errors = new Map<string, number>();
  const fail = (reason: string) => errors.set(reason, (errors.get(reason) ?? 0) + 1);
  const latencies: number[] = [];
  let units = 0;
  let requests = 0;
  let sent = 0;

  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const measureTo = measureFrom + options.durationMs;

  const post = (shot: Shot) => postJson(agent, target, shot);

  const worker = async (w: number) => {
    for (let seq = 0; performance.now() < measureTo; seq++) {
      const shot = options.next(w, seq);
      const t0 = performance.now();
      sent++;
      let verdict: Verdict;
      try {
        const res = await post(shot);
        verdict = options.judge(res.status, res.body, shot, w);
      } catch (error) {
        verdict = { error: `transport: ${(error as Error).message}` };
      }
      const t1 = performance.now();
      if ('error' in verdict) {
        fail(verdict.error);
        continue;
      }
      if (t1 >= measureFrom && t1 <= measureTo) {
        requests++;
        units += verdict.units;
        latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return {
    concurrency: options.concurrency,
    seconds: options.durationMs / 1000,
    requests,
    units,
    latencies: sorted,
    errors,
    sent,
  };
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/** Calls `fn(worker)` in a closed loop with `concurrency` workers (no HTTP): for in-process ceilings. */
export async function runLoop(options: {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  step(worker: number, seq: number): Promise<number>;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let units = 0;
  let requests = 0;
  let sent = 0;
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const measureTo = measureFrom + options.durationMs;
  const worker = async (w: number) => {
    for (let seq = 0; performance.now() < measureTo; seq++) {
      const t0 = performance.now();
      sent++;
      let n: number;
      try {
        n = await options.step(w, seq);
      } catch (error) {
        const reason = (error as Error).message.slice(0, 200);
        errors.set(reason, (errors.get(reason) ?? 0) + 1);
        continue;
      }
      const t1 = performance.now();
      if (t1 >= measureFrom && t1 <= measureTo) {
        requests++;
        units += n;
        latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
  return {
    concurrency: options.concurrency,
    seconds: options.durationMs / 1000,
    requests,
    units,
    latencies: Float64Array.from(latencies).sort(),
    errors,
    sent,
  };
}
