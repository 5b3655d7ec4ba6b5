import { readFileSync } from 'node:fs';

/** One reading of a server process: seconds since the load started, bytes. */
export type MemorySample = {
  t: number;
  rss: number;
  heapUsed: number | null;
  /** Heap left after the latest forced full collection. */
  liveHeap: number | null;
  /** How long that collection held the server, ms. */
  gcPauseMs: number | null;
};

export type MemoryFigures = {
  instance: string;
  samples: number;
  rssFirst: number;
  rssLast: number;
  rssPeak: number;
  /** Live heap (after a forced full collection) at the start and end of the steady part, and the heap's peak. */
  heapFirst: number | null;
  heapLast: number | null;
  heapPeak: number | null;
  /** Median RSS of the last third of the run after warm-up minus that of the first third. */
  rssGrowth: number;
  /** The same for the live heap. */
  heapGrowth: number | null;
  /** Longest pause of the forced collections, ms. */
  gcPauseMs: number | null;
};

/** Resident set size from /proc/<pid>/status (Linux), bytes; null elsewhere or once the process is gone. */
function residentBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The latest figures the server's memory probe wrote (test/soak/memory-probe.ts). */
type Probed = { rss: number; heapUsed: number; liveHeap: number | null; gcPauseMs: number | null };

function probed(file: string): Probed | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Probed;
  } catch {
    return null;
  }
}

export type Watched = { instance: string; pid: number | undefined; probeFile: string };

/** Samples every watched server at an interval: RSS from /proc (the probe's when there is none), heap from the probe. */
export function sampleMemory(watched: readonly Watched[], intervalMs: number) {
  const started = performance.now();
  const samples = new Map<string, MemorySample[]>(watched.map((w) => [w.instance, []]));
  const take = () => {
    const t = (performance.now() - started) / 1000;
    for (const w of watched) {
      const probe = probed(w.probeFile);
      const rss = (w.pid ? residentBytes(w.pid) : null) ?? probe?.rss;
      if (rss === undefined) continue;
      samples.get(w.instance)?.push({
        t,
        rss,
        heapUsed: probe?.heapUsed ?? null,
        liveHeap: probe?.liveHeap ?? null,
        gcPauseMs: probe?.gcPauseMs ?? null,
      });
    }
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop(): Map<string, MemorySample[]> {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

const median = (v: number[]): number | null => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? null : (s[Math.floor((s.length - 1) / 2)] ?? null);
};
const present = (v: (number | null)[]) => v.filter((x): x is number => x !== null);

/**
 * Figures of one server's samples. Growth compares medians of the first and last thirds of the
 * run after its warm-up (caches fill and code is optimised while the servers warm up): of the
 * RSS, and of the heap left after forced full collections (the heap's saw-tooth between
 * collections says nothing of leaks).
 */
export function memoryFigures(
  instance: string,
  samples: MemorySample[],
  warmupSeconds: number,
): MemoryFigures {
  const steady = samples.filter((s) => s.t >= warmupSeconds);
  const from = steady[0]?.t ?? 0;
  const span = (steady.at(-1)?.t ?? 0) - from;
  const first = steady.filter((s) => s.t <= from + span / 3);
  const last = steady.filter((s) => s.t >= from + (2 * span) / 3);
  const live = (list: MemorySample[]) => median(present(list.map((s) => s.liveHeap)));
  const liveFirst = live(first);
  const liveLast = live(last);
  const heaps = present(samples.map((s) => s.heapUsed));
  const pauses = present(samples.map((s) => s.gcPauseMs));
  return {
    instance,
    samples: samples.length,
    rssFirst: steady[0]?.rss ?? 0,
    rssLast: steady.at(-1)?.rss ?? 0,
    rssPeak: Math.max(0, ...samples.map((s) => s.rss)),
    heapFirst: present(steady.map((s) => s.liveHeap))[0] ?? null,
    heapLast: present(steady.map((s) => s.liveHeap)).at(-1) ?? null,
    heapPeak: heaps.length ? Math.max(...heaps) : null,
    rssGrowth: (median(last.map((s) => s.rss)) ?? 0) - (median(first.map((s) => s.rss)) ?? 0),
    heapGrowth: liveFirst === null || liveLast === null ? null : liveLast - liveFirst,
    gcPauseMs: pauses.length ? Math.max(...pauses) : null,
  };
}
