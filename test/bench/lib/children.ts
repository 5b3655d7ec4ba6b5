import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export type Child = {
  name: string;
  url: string;
  pid: number | undefined;
  /** Recent stdout and stderr, for error messages. */
  output(): string;
  /** SIGTERM (graceful drain), SIGKILL after a grace period; resolves when the process is gone. */
  stop(): Promise<void>;
};

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no free port');
  return address.port;
}

const running = new Set<ChildProcess>();
/** Children still alive when the bench process exits (a crash, Ctrl-C) are killed with it. */
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Starts a TypeScript entry under the same Node binary (tsx's loader), in its own process, and
 * waits until `readyPath` answers 200. `nodeArgs` go before the entry (e.g. --cpu-prof).
 */
export async function startChild(options: {
  name: string;
  entry: string;
  args?: string[];
  env: Record<string, string>;
  nodeArgs?: string[];
  readyPath: string;
  timeoutMs?: number;
}): Promise<Child> {
  const port = Number(options.env.PORT);
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  const proc = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', options.entry, ...(options.args ?? [])],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(proc);
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      running.delete(proc);
      resolve();
    });
  });
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (!alive()) throw new Error(`${options.name} exited during start-up:\n${log}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${options.name} was not ready in time:\n${log}`);
    }
    try {
      const res = await fetch(`${url}${options.readyPath}`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: options.name,
    url,
    pid: proc.pid,
    output: () => log,
    async stop() {
      if (alive()) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
