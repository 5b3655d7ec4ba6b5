import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A port already in use stops the server at once with one line naming PORT: before the database
 * opens, so no billing run, no demo data and no WebSocket stack trace follow it.
 */
describe('start-up on a port in use', () => {
  it('exits non-zero within seconds with one line naming PORT, having started nothing', {
    timeout: 60_000,
  }, async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const dataDir = join(mkdtempSync(join(tmpdir(), 'meterline-port-')), 'data');
    try {
      const started = Date.now();
      // The development defaults, where demo data and the billing run would start.
      const child = spawn(process.execPath, ['src/server.ts'], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          PORT: String(port),
          HOST: '127.0.0.1',
          DATA_DIR: dataDir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      const elapsed = Date.now() - started;

      expect(code).toBe(78);
      expect(stderr).toBe(
        `PORT: ${port} is already in use on 127.0.0.1; stop the process listening there or set PORT to a free port\n`,
      );
      expect(stdout).toBe('');
      // Nothing else started: the embedded database was never opened.
      expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
      // Before the rest of the code loads (which alone takes many seconds on a busy machine).
      expect(elapsed).toBeLessThan(5_000);
    } finally {
      taken.close();
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    }
  });
});
