import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childServer } from '../helpers/child-server.ts';
import { TEST_SERVICE_TOKEN } from '../helpers/server.ts';

/** Runs `src/server.ts` on a data directory until it exits; answers its exit code and output. */
function runServerExpectingExit(dataDir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'error',
        DEMO_DATA: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    proc.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the embedded database (PGlite in DATA_DIR)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meterline-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a second process on the same data directory, closes cleanly on SIGTERM, and keeps the data', async () => {
    const first = await childServer({ database: { dataDir } });
    await first.start();
    try {
      const created = await fetch(`${first.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_SERVICE_TOKEN}` },
        body: JSON.stringify({ query: '{ plans { code } }' }),
      });
      expect(created.status).toBe(200);

      const second = await runServerExpectingExit(dataDir);
      expect(second.code).not.toBe(0);
      expect(second.output).toMatch(/in use by another Meterline process \(pid \d+\)/);
    } finally {
      await first.kill('SIGTERM');
    }
    expect(first.output()).not.toMatch(/shutdown failed|took more than/);
    // A clean shutdown releases the lock; the next start opens the same data.
    expect(existsSync(join(dataDir, 'meterline.lock'))).toBe(false);
    const again = await childServer({ database: { dataDir } });
    await again.start();
    const ready = await fetch(`${again.url}/ready`);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'pglite' });
    await again.kill('SIGTERM');
  }, 120_000);

  it('takes over the lock left by a process that was killed', async () => {
    const server = await childServer({ database: { dataDir } });
    await server.start();
    await server.kill('SIGKILL');
    expect(existsSync(join(dataDir, 'meterline.lock'))).toBe(true);
    await server.start();
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    await server.kill('SIGTERM');
  }, 120_000);
});
