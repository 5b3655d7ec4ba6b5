/**
 * One soak client's loop step: a call of a random kind to one of the two instances; one call
 * in ten repeats event ids or an idempotency key, either after its answer (to the other
 * instance) or at the same time to both instances.
 */
import { Agent } from 'node:http';
import { postJson } from '../bench/lib/load.ts';
import type { SoakStats } from './model.ts';
import { type Judging, type Mode, type Operation, type SoakOrg, usageReadOperation } from './operations.ts';
import { checkQuotaOperation, verifyApiKeyOperation } from './quota-operations.ts';
import { recordUsageOperation } from './record-usage-operation.ts';

/** Share of steps that resend an answered call to the other instance. */
const RETRY_AFTER = 0.06;
/** Share of steps that send a new call to both instances at once. */
const CONCURRENT = 0.04;
/** Free orgs hammered at a time: the window moves over the run, so hard limits are reached again and again. */
const FREE_WINDOW = 3;

export type Instance = { url: string; target: URL; agent: Agent };

export function instanceOf(url: string, concurrency: number): Instance {
  return {
    url,
    target: new URL('/graphql', url),
    agent: new Agent({ keepAlive: true, maxSockets: concurrency }),
  };
}

export type Traffic = {
  instances: readonly [Instance, Instance];
  orgs: { free: readonly SoakOrg[]; pro: readonly SoakOrg[]; enterprise: readonly SoakOrg[] };
  serviceToken: string;
  adminToken: string;
  judging: Judging;
  stats: SoakStats;
  /** Share of the run gone by, 0 to 1. */
  progress(): number;
  tag: string;
};

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

function pickOrg(t: Traffic): SoakOrg {
  const r = Math.random();
  if (r < 0.35) {
    const free = t.orgs.free;
    const start = Math.floor(t.progress() * Math.max(0, free.length - FREE_WINDOW + 1));
    return pick(free.slice(start, start + FREE_WINDOW));
  }
  return pick(r < 0.7 ? t.orgs.pro : t.orgs.enterprise);
}

function nextOperation(t: Traffic, tag: string): Operation {
  const r = Math.random();
  if (r < 0.35) return recordUsageOperation(tag, () => pickOrg(t), t.judging);
  if (r < 0.65) return checkQuotaOperation(tag, pickOrg(t), t.judging);
  if (r < 0.85) return verifyApiKeyOperation(tag, pickOrg(t), t.judging);
  return usageReadOperation(pickOrg(t), t.judging);
}

/**
 * Sends a call and judges its answer. A connection the server closed as it was reused (the
 * keep-alive race of any HTTP/1.1 client) is retried, as a client of an idempotent API does; the
 * retry is judged as a possible repeat, since the first attempt may have been processed.
 */
async function send(t: Traffic, op: Operation, instance: number, mode: Mode): Promise<number> {
  const target = t.instances[instance] as Instance;
  const token = op.kind === 'Org.usage' ? t.adminToken : t.serviceToken;
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    let answer: { status: number; body: string };
    try {
      answer = await postJson(target.agent, target.target, {
        ...op.shot,
        headers: { authorization: `Bearer ${token}` },
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      if (attempt < 3 && (code === 'ECONNRESET' || code === 'EPIPE')) {
        t.stats.transportRetry(code);
        if (mode === 'first') mode = 'concurrent';
        continue;
      }
      t.stats.call(op.kind, performance.now() - started, 0);
      t.stats.problem(`${op.kind} to ${target.url}: ${(error as Error).message}`);
      return 0;
    }
    t.stats.call(op.kind, performance.now() - started, answer.status);
    try {
      return op.judge(answer, mode);
    } catch (error) {
      t.stats.problem(`${op.kind}: judging the answer failed: ${(error as Error).message}`);
      return 0;
    }
  }
}

/** Recently answered calls, any client's, with the instance that answered them. */
const RECENT = 512;

export function soakClients(t: Traffic) {
  const recent: { op: Operation; instance: number }[] = [];
  const remember = (op: Operation, instance: number) => {
    if (!op.retryable) return;
    if (recent.length < RECENT) recent.push({ op, instance });
    else recent[Math.floor(Math.random() * RECENT)] = { op, instance };
  };
  return async function step(worker: number, seq: number): Promise<number> {
    const r = Math.random();
    if (r < RETRY_AFTER && recent.length > 0) {
      const past = pick(recent);
      t.stats.retries++;
      await send(t, past.op, 1 - past.instance, 'retry');
      return 1;
    }
    const op = nextOperation(t, `${t.tag}-${worker}-${seq}`);
    const first = (worker + seq) % 2;
    if (r < RETRY_AFTER + CONCURRENT && op.retryable) {
      t.stats.retries++;
      const counted = await Promise.all([
        send(t, op, first, 'concurrent'),
        send(t, op, 1 - first, 'concurrent'),
      ]);
      const total = counted[0] + counted[1];
      if (total > op.countable) {
        t.stats.problem(
          `${op.kind} sent to both instances counted ${total}, at most ${op.countable} allowed`,
        );
      }
      remember(op, first);
      return 2;
    }
    await send(t, op, first, 'first');
    remember(op, first);
    return 1;
  };
}
