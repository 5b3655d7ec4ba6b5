/**
 * The soak: two server processes on one scratch PostgreSQL database, many concurrent clients for
 * a bounded time (recordUsage, checkQuota, verifyApiKey, Org.usage; retries; bad input), then
 * every counter checked against the clients' exact model and each server's memory against a
 * bound. One module, two entries: test/soak/soak.test.ts (short, in `npm test`) and
 * test/soak/run.ts (`npm run soak`, longer, writes docs/soak.md).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { createScratchDatabase } from '../bench/lib/environment.ts';
import { runLoop } from '../bench/lib/load.ts';
import { type CpuShares, interferenceMeter } from '../bench/lib/machine.ts';
import {
  BENCH_SERVICE_TOKEN,
  createKey,
  createOrgs,
  type MeterlineChild,
  mapLimit,
  startMeterline,
} from '../bench/lib/meterline.ts';
import { instanceOf, soakClients } from './clients.ts';
import { type MemoryFigures, memoryFigures, sampleMemory } from './memory.ts';
import { SoakStats, UsageModel } from './model.ts';
import type { Plan, SoakOrg } from './operations.ts';
import { type Verification, verifyAgainstModel } from './verify.ts';

export type SoakOptions = {
  /** A PostgreSQL server: the soak makes its own database there and drops it at the end. */
  databaseUrl: string;
  /** How long the clients run. */
  seconds: number;
  clients: number;
  /** Share of the run left out of the memory comparison while the servers warm up. */
  warmupShare?: number;
  /** Bounds on memory growth between the first and last thirds of the run after warm-up, MB. */
  maxRssGrowthMb: number;
  maxHeapGrowthMb: number;
  log?: (line: string) => void;
};

export type SoakResult = {
  options: SoakOptions;
  /** Seconds the clients actually ran. */
  seconds: number;
  orgs: Record<Plan, number>;
  stats: SoakStats;
  model: { distinctEvents: number; counted: number };
  memory: MemoryFigures[];
  verification: Verification;
  /** Where the machine's CPU went during the load: this process, the servers, PostgreSQL, other work. */
  cpu: CpuShares;
  /** Server log lines at error level, per instance. */
  serverErrors: number[];
  /** Everything that went against the contract or a bound: empty when the soak passed. */
  problems: string[];
};

const PROBE = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));
const MB = 1024 * 1024;

async function hardLimits(server: MeterlineChild): Promise<(plan: Plan, metric: string) => bigint | null> {
  const data = await server.gql<{
    plans: { code: string; entitlements: { metric: { key: string }; hardLimit: number | null }[] }[];
  }>('{ plans { code entitlements { metric { key } hardLimit } } }');
  const limits = new Map<string, bigint>();
  for (const p of data.plans) {
    for (const e of p.entitlements)
      if (e.hardLimit !== null) limits.set(`${p.code}|${e.metric.key}`, BigInt(e.hardLimit));
  }
  return (plan, metric) => limits.get(`${plan}|${metric}`) ?? null;
}

async function soakOrgs(server: MeterlineChild, plan: Plan, count: number): Promise<SoakOrg[]> {
  const orgs = await createOrgs(server, plan, count);
  return mapLimit(orgs, 8, async (o) => ({ ...o, plan, key: await createKey(server, o) }));
}

/** Error-level lines (pino level 50 and up) in a server's recent output. */
const errorLines = (output: string) => output.split('\n').filter((l) => /"level":\s*(50|60)/.test(l));

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const scratch = await createScratchDatabase(options.databaseUrl);
  const probeDir = mkdtempSync(join(tmpdir(), 'meterline-soak-'));
  const servers: MeterlineChild[] = [];
  const sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
  // A forced full collection now and then: enough readings of the live heap per third of the run.
  const gcIntervalMs = Math.round(Math.max(2_000, Math.min(10_000, (options.seconds * 1000) / 12)));
  try {
    // Both at once, as a deployment starts its instances: migrations are serialized by an advisory lock.
    const started = await Promise.allSettled(
      ['a', 'b'].map((name) =>
        startMeterline({
          databaseUrl: scratch.url,
          nodeArgs: ['--expose-gc', '--import', PROBE],
          env: {
            SOAK_MEMORY_FILE: join(probeDir, `${name}.json`),
            SOAK_GC_INTERVAL_MS: String(gcIntervalMs),
          },
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [a, b] = servers as [MeterlineChild, MeterlineChild];
    log(
      `Servers: ${a.url} (pid ${a.pid}) and ${b.url} (pid ${b.pid}) on ${scratch.url.replace(/\/\/[^@]*@/, '//')}`,
    );
    const hardLimit = await hardLimits(a);
    const freeCount = 4 + Math.ceil(options.seconds / 15);
    const [free, pro, enterprise] = await Promise.all([
      soakOrgs(a, 'free', freeCount),
      soakOrgs(b, 'pro', 8),
      soakOrgs(b, 'enterprise', 8),
    ]);
    const orgs = { free, pro, enterprise };
    log(`Orgs: ${freeCount} free (hard limits), 8 pro, 8 enterprise, each with an API key`);

    const model = new UsageModel();
    const stats = new SoakStats();
    const startedAt = new Date();
    const durationMs = options.seconds * 1000;
    const t0 = performance.now();
    // Events are stamped up to a minute back: the run may reach into the period before its start.
    const earliest = new Date(startedAt.getTime() - 120_000);
    const samePeriod = () => new Date().getUTCMonth() === earliest.getUTCMonth();
    const sampler = sampleMemory(
      servers.map((s, i) => ({
        instance: i === 0 ? 'a' : 'b',
        pid: s.pid,
        probeFile: join(probeDir, `${i === 0 ? 'a' : 'b'}.json`),
      })),
      Math.max(500, Math.min(5_000, durationMs / 60)),
    );
    log(`Load: ${options.clients} clients for ${options.seconds} s...`);
    const instances = [instanceOf(a.url, options.clients), instanceOf(b.url, options.clients)] as const;
    const cpuMeter = interferenceMeter();
    const load = await runLoop({
      concurrency: options.clients,
      warmupMs: 0,
      durationMs,
      step: soakClients({
        instances,
        orgs,
        serviceToken: BENCH_SERVICE_TOKEN,
        adminToken: a.adminToken,
        judging: { model, stats, hardLimit, samePeriod },
        stats,
        progress: () => Math.min(1, (performance.now() - t0) / durationMs),
        tag: `s${randomUUID().slice(0, 8)}`,
      }),
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuMeter.stop();
    for (const i of instances) i.agent.destroy();
    const samples = sampler.stop();
    for (const [reason, n] of load.errors) stats.problem(`${n}x a client step threw: ${reason}`);
    log(`Load done: ${stats.totalCalls} calls in ${seconds.toFixed(1)} s; checking the counters...`);

    const all = [...orgs.free, ...orgs.pro, ...orgs.enterprise];
    const periods = [earliest, new Date()].filter(
      (d, i, list) => i === 0 || d.getUTCMonth() !== list[0]?.getUTCMonth(),
    );
    const verification = await verifyAgainstModel({ sql, servers, orgs: all, model, hardLimit, periods });

    const warmup = seconds * (options.warmupShare ?? 0.25);
    const memory = [...samples].map(([instance, list]) => memoryFigures(instance, list, warmup));
    const serverErrors = servers.map((s) => errorLines(s.output()));
    const problems = [...model.problems, ...stats.problems, ...verification.problems];
    if (stats.problemCount > stats.problems.length) {
      problems.push(`...and ${stats.problemCount - stats.problems.length} more answers against the contract`);
    }
    for (const [status, n] of stats.statuses)
      if (status !== '200') problems.push(`${n} answers with HTTP ${status}`);
    for (const [i, lines] of serverErrors.entries()) {
      if (lines.length > 0) {
        const first = lines.slice(0, 2).map((l) => l.slice(0, 600));
        problems.push(`server ${i === 0 ? 'a' : 'b'} logged ${lines.length} errors: ${first.join(' | ')}`);
      }
    }
    for (const m of memory) {
      if (m.rssGrowth > options.maxRssGrowthMb * MB) {
        problems.push(
          `server ${m.instance}: RSS grew ${(m.rssGrowth / MB).toFixed(1)} MB (bound ${options.maxRssGrowthMb} MB)`,
        );
      }
      if (m.heapGrowth === null) problems.push(`server ${m.instance}: no heap figures (memory probe silent)`);
      else if (m.heapGrowth > options.maxHeapGrowthMb * MB) {
        problems.push(
          `server ${m.instance}: heap grew ${(m.heapGrowth / MB).toFixed(1)} MB (bound ${options.maxHeapGrowthMb} MB)`,
        );
      }
    }
    for (const s of servers)
      if (problems.length > 0 && errorLines(s.output()).length > 0) log(s.output().slice(-3_000));
    return {
      options,
      seconds,
      orgs: { free: orgs.free.length, pro: orgs.pro.length, enterprise: orgs.enterprise.length },
      stats,
      model: { distinctEvents: model.distinctEvents, counted: model.counted },
      memory,
      verification,
      cpu,
      serverErrors: serverErrors.map((lines) => lines.length),
      problems,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await sql.end();
    await scratch.drop();
    rmSync(probeDir, { recursive: true, force: true });
  }
}
