import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { childServer } from '../helpers/child-server.ts';
import { createScratchDatabase, testDatabases } from '../helpers/databases.ts';
import { TEST_JWT_SECRET } from '../helpers/server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** The `{"Authorization": "Bearer ..."}` line a command printed, as the header a person pastes. */
function headerIn(output: string): string {
  const line = output.split('\n').find((l) => l.trim().startsWith('{"Authorization": "Bearer '));
  if (!line) throw new Error(`no header in:\n${output}`);
  const parsed = JSON.parse(line.trim()) as { Authorization: string };
  return parsed.Authorization;
}

/**
 * The README's path with a configured JWT_SECRET, on each database: `npm run seed` loads the demo
 * data and prints the platform admin's header, `npm run token` prints tokens for any user, and
 * `npm start` in development prints the admin header too. Every printed credential works against
 * the server, carries iat and exp, and ADMIN_USER_IDS defaults to `admin` in development.
 */
describe.each(testDatabases())('tokens with a configured JWT_SECRET on %s', (kind) => {
  it('seed, token and the start banner print headers the server accepts', { timeout: 300_000 }, async () => {
    const scratch = kind === 'postgres' ? await createScratchDatabase() : undefined;
    const dataDir = scratch ? undefined : mkdtempSync(join(tmpdir(), 'meterline-tokens-'));
    // What the README's commands see: development (NODE_ENV unset), no ADMIN_USER_IDS.
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      npm_config_update_notifier: 'false',
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      ...(scratch ? { DATABASE_URL: scratch.url } : { DATA_DIR: dataDir! }),
    };
    const npm = async (...args: string[]) =>
      (await run('npm', ['run', '-s', ...args], { cwd: ROOT, env })).stdout;
    const server = await childServer({
      database: scratch ? { url: scratch.url } : { dataDir: dataDir! },
      command: 'npm-start',
      readyTimeoutMs: 120_000,
      env: {
        npm_config_update_notifier: 'false',
        NODE_ENV: undefined,
        ADMIN_USER_IDS: undefined,
        DEMO_DATA: undefined,
        BILLING_JOBS: 'false',
      },
    });
    try {
      const seeded = await npm('seed');
      expect(seeded).toContain('Loaded the demo data set');
      const seedHeader = headerIn(seeded);

      const newcomer = (await npm('token', '--', '--sub', 'newcomer', '--raw')).trim();
      const adminOutput = await npm('token', '--', '--admin');
      expect(adminOutput).toContain('Token for admin (platform admin)');
      const tokenHeader = headerIn(adminOutput);
      for (const token of [newcomer, seedHeader.slice(7), tokenHeader.slice(7)]) {
        const claims = decodeJwt(token);
        expect(typeof claims.iat).toBe('number');
        expect(typeof claims.exp).toBe('number');
        expect(claims.exp!).toBeGreaterThan(claims.iat!);
      }
      // --admin for a user who is not one is refused, naming ADMIN_USER_IDS.
      await expect(npm('token', '--', '--sub', 'mallory', '--admin')).rejects.toMatchObject({
        stderr: expect.stringContaining('ADMIN_USER_IDS'),
      });

      await server.start();
      // The banner follows the listening line by a token's signing.
      for (let i = 0; i < 100 && !server.output().includes('Bearer '); i++)
        await new Promise((r) => setTimeout(r, 50));
      const bannerHeader = headerIn(server.output());
      const ask = async (authorization: string) => {
        const res = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify({ query: '{ viewer { userId isPlatformAdmin } org(slug: "acme") { slug } }' }),
        });
        return (await res.json()) as { data?: unknown; errors?: unknown };
      };
      for (const header of [seedHeader, tokenHeader, bannerHeader]) {
        expect(await ask(header)).toEqual({
          data: { viewer: { userId: 'admin', isPlatformAdmin: true }, org: { slug: 'acme' } },
        });
      }
      // A user who is no admin and no member of acme: it reads as null.
      expect(await ask(`Bearer ${newcomer}`)).toEqual({
        data: { viewer: { userId: 'newcomer', isPlatformAdmin: false }, org: null },
      });
    } finally {
      await server.kill('SIGKILL');
      await scratch?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
