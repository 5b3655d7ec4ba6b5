import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PLATFORM_ADMIN, TEST_JWT_SECRET, TEST_SERVICE_TOKEN } from './server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type ChildServerOptions = {
  /** Where the data lives: a PostgreSQL URL, or a PGlite data directory. */
  database: { url: string } | { dataDir: string };
  /** Default: a free port, kept across restarts. */
  port?: number;
  /** Added to (or, undefined, removed from) the server's environment. */
  env?: Record<string, string | undefined>;
  /**
   * How the server is started: `node` (default) runs src/server.ts under the tests' Node with
   * tsx's loader; `npm-start` runs `npm start`, the production start, and `pid()` is npm's.
   */
  command?: 'node' | 'npm-start';
  /** How long start() waits for /ready (default 45 s). */
  readyTimeoutMs?: number;
};

export type ChildServer = {
  url: string;
  port: number;
  pid(): number | undefined;
  /** Whether the process is alive (started and not exited). */
  running(): boolean;
  /** Starts the process (again) and waits until /ready answers 200. */
  start(): Promise<void>;
  /** Sends the signal and waits for the process to exit. SIGKILL: no shutdown code runs. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** The process's recent stdout and stderr, for failure messages. */
  output(): string;
};

/** A port nothing listens on right now (the OS picks it; we close it again). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/**
 * The real server (`src/server.ts`, as `npm start` runs it) as a child process, so a test can
 * SIGKILL it mid-request and start it again on the same port and database. It runs under the
 * same Node binary as the tests, with tsx's loader.
 */
export async function childServer(options: ChildServerOptions): Promise<ChildServer> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  const env: Record<string, string | undefined> = {
    // Only what the server needs: no DATABASE_URL or secrets leaking in from the test's environment.
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_USER_IDS: PLATFORM_ADMIN,
    SERVICE_TOKEN: TEST_SERVICE_TOKEN,
    DEMO_DATA: 'false',
    ...('url' in options.database
      ? { DATABASE_URL: options.database.url }
      : { DATA_DIR: options.database.dataDir }),
    ...options.env,
  };

  async function waitReady(deadline: number): Promise<void> {
    while (Date.now() < deadline) {
      if (child?.exitCode !== null || child?.signalCode !== null) {
        throw new Error(`the server exited during start-up:\n${log}`);
      }
      try {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1_000) });
        if (res.status === 200) return;
        await res.body?.cancel();
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the server was not ready within the time limit:\n${log}`);
  }

  const server: ChildServer = {
    url,
    port,
    pid: () => child?.pid,
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('already running');
      const [file, args] =
        options.command === 'npm-start'
          ? ['npm', ['start']]
          : [process.execPath, ['--import', 'tsx', 'src/server.ts']];
      const proc = spawn(file, args, {
        cwd: ROOT,
        env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)),
        // npm's own process group, so a SIGKILL reaches the server npm started too.
        detached: options.command === 'npm-start',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      proc.stdout?.on('data', keep);
      proc.stderr?.on('data', keep);
      exited = new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.once('error', (error) => {
          keep(Buffer.from(String(error)));
          resolve();
        });
      });
      try {
        // Generous: a PGlite first start runs initdb, and CI runs other suites beside this one.
        await waitReady(Date.now() + (options.readyTimeoutMs ?? 45_000));
      } catch (error) {
        await server.kill('SIGKILL');
        throw error;
      }
    },
    async kill(signal = 'SIGKILL') {
      if (child && child.exitCode === null && child.signalCode === null) {
        if (signal === 'SIGKILL' && options.command === 'npm-start' && child.pid)
          process.kill(-child.pid, signal);
        else child.kill(signal);
      }
      await exited;
    },
    output: () => log,
  };
  return server;
}
