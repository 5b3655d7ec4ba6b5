import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Busy and total jiffies of all CPUs since boot (Linux /proc/stat), or null elsewhere. */
function cpuTimes(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Measures how busy the whole machine is (0..1) over `ms`. */
export async function machineBusy(ms = 1_000): Promise<number | null> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (!a || !b || b.total === a.total) return null;
  return (b.busy - a.busy) / (b.total - a.total);
}

/**
 * Waits (up to `maxWaitMs`) until the machine is quiet: other work (tests, type checks) on a
 * 2-core machine halves what any benchmark measures. Returns the last reading.
 */
export async function waitForQuiet(maxWaitMs: number, threshold = 0.15): Promise<number | null> {
  const deadline = Date.now() + maxWaitMs;
  let busy = await machineBusy();
  while (busy !== null && busy > threshold && Date.now() < deadline) {
    busy = await machineBusy();
  }
  return busy;
}

/** Samples machine CPU use during a run: call `stop()` at its end for the mean busy fraction. */
export function cpuMeter(): { stop(): number | null } {
  const a = cpuTimes();
  return {
    stop() {
      const b = cpuTimes();
      if (!a || !b || b.total === a.total) return null;
      return (b.busy - a.busy) / (b.total - a.total);
    },
  };
}

export const loadAverage = () => os.loadavg()[0] ?? 0;

/** Per process: its own CPU ticks, and those of its children it has reaped (cutime + cstime). */
type ProcSample = Map<number, { ticks: number; childTicks: number; ppid: number; comm: string }>;

/** CPU ticks (user + system) of every process, from /proc/<pid>/stat. */
function sampleProcesses(): ProcSample {
  const sample: ProcSample = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return sample;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      sample.set(Number(pid), {
        ticks: Number(f[11]) + Number(f[12]),
        childTicks: Number(f[13]) + Number(f[14]),
        ppid: Number(f[1]),
        comm,
      });
    } catch {
      // the process ended meanwhile
    }
  }
  return sample;
}

const TICKS_PER_SECOND = 100;

/**
 * Measures, over a run, the share of the machine's CPU taken by processes that are not part of
 * the benchmark (not this process or its children, not PostgreSQL or Redis): other people's tests
 * and builds on a shared machine. Above a few percent, the run's figures are too low.
 */
export type CpuShares = {
  /** Processes that are not part of the benchmark (other people's work). */
  foreign: number;
  /** This process: the load generator (and the in-process ceiling). */
  load: number;
  /** Its child processes: the server under test or the peer. */
  servers: number;
  /** PostgreSQL and Redis. */
  database: number;
  /** Length of the run and number of cores: shares x seconds x cores = CPU seconds. */
  seconds: number;
  cores: number;
};

export function interferenceMeter(): { stop(): CpuShares } {
  const before = sampleProcesses();
  const started = performance.now();
  return {
    stop() {
      const after = sampleProcesses();
      const seconds = (performance.now() - started) / 1000;
      const capacity = seconds * TICKS_PER_SECOND * os.availableParallelism();
      const ours = new Set<number>([process.pid]);
      // Descendants of this process (children, grandchildren), whatever they are called.
      for (let grew = true; grew; ) {
        grew = false;
        for (const [pid, p] of after) {
          if (!ours.has(pid) && ours.has(p.ppid)) {
            ours.add(pid);
            grew = true;
          }
        }
      }
      const used = { foreign: 0, load: 0, servers: 0, database: 0 };
      const categoryOf = (pid: number, comm: string): keyof typeof used =>
        pid === process.pid
          ? 'load'
          : ours.has(pid)
            ? 'servers'
            : comm === 'postgres' || comm.startsWith('redis')
              ? 'database'
              : 'foreign';
      for (const [pid, p] of after) {
        const was = before.get(pid);
        const ticks = p.ticks - (was?.ticks ?? 0);
        // Children that ended during the run (a PostgreSQL backend of a closed connection, a
        // short-lived build step) are counted in their parent's reaped-children time.
        const reaped = p.childTicks - (was?.childTicks ?? 0);
        used[categoryOf(pid, p.comm)] += Math.max(0, ticks) + Math.max(0, reaped);
      }
      // ...but those that were already running at the start had part of that time before it.
      for (const [pid, p] of before) {
        const parent = after.get(p.ppid);
        if (!after.has(pid) && parent) used[categoryOf(p.ppid, parent.comm)] -= p.ticks + p.childTicks;
      }
      // Clamped: a process tree that ended whole during the run is not seen at all.
      for (const k of Object.keys(used) as (keyof typeof used)[]) {
        used[k] = Math.min(capacity, Math.max(0, used[k]));
      }
      return {
        foreign: used.foreign / capacity,
        load: used.load / capacity,
        servers: used.servers / capacity,
        database: used.database / capacity,
        seconds,
        cores: os.availableParallelism(),
      };
    },
  };
}
