/**
 * Preloaded into a soak's server process (`node --expose-gc --import`): writes the process's
 * memory figures to SOAK_MEMORY_FILE twice a second, so the soak can follow its heap as well as
 * its RSS. Every SOAK_GC_INTERVAL_MS it forces a full collection and records the heap left after
 * it: the live data, which a leak makes grow, unlike the heap's saw-tooth between collections.
 * Written in plain, erasable TypeScript: it loads before tsx does.
 */
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.SOAK_MEMORY_FILE;
const gcEvery = Number(process.env.SOAK_GC_INTERVAL_MS ?? 0);
const gc = (globalThis as { gc?: () => void }).gc;

if (file) {
  let liveHeap: number | null = null;
  let gcPauseMs: number | null = null;
  const write = () => {
    const m = process.memoryUsage();
    const figures = { at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, liveHeap, gcPauseMs };
    // Written aside and renamed: a reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(figures));
    renameSync(`${file}.tmp`, file);
  };
  write();
  // Unreferenced: the probe never keeps the server from exiting.
  setInterval(write, 500).unref();
  if (gc && gcEvery > 0) {
    setInterval(() => {
      const started = performance.now();
      gc();
      gcPauseMs = performance.now() - started;
      liveHeap = process.memoryUsage().heapUsed;
      write();
    }, gcEvery).unref();
  }
}
