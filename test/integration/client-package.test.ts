import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `meterline/client` as an application gets it: packed by npm (what an install from git or a
 * registry unpacks), under node_modules, where Node strips no TypeScript types. So it must be
 * JavaScript with declarations: plain Node loads it and calls the real server, and a TypeScript
 * consumer type-checks against its declarations.
 */
describe('the packed meterline/client', () => {
  let app: string;
  let packed: string[];
  let server: TestServer;

  beforeAll(async () => {
    app = await mkdtemp(join(tmpdir(), 'meterline-client-'));
    // `npm pack` builds the client first (the `prepare` script).
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', app], { cwd: repo });
    const [pack] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    packed = pack!.files.map((f) => f.path);
    await writeFile(join(app, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    const installed = join(app, 'node_modules', 'meterline');
    await mkdir(installed, { recursive: true });
    await run('tar', ['-xzf', join(app, pack!.filename), '-C', installed, '--strip-components=1']);
    server = await startTestServer('pglite');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    if (app) await rm(app, { recursive: true, force: true });
  });

  it('holds the built client and its declarations, and no TypeScript source', () => {
    expect(packed).toContain('dist/client/index.js');
    expect(packed).toContain('dist/client/index.d.ts');
    expect(packed.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    expect(packed.filter((p) => p.startsWith('src/') && !p.endsWith('.md'))).toEqual([]);
  });

  it('loads in plain Node from node_modules and counts usage on the real server', async () => {
    const org = await createTestOrg(server, 'pro');
    await writeFile(
      join(app, 'main.mjs'),
      `import { MeterlineClient, UsageClient, uuidv7 } from 'meterline/client';
const [url, token, orgId] = process.argv.slice(2);
const client = new MeterlineClient({ url, token });
const decision = await client.checkQuota({ orgId, metric: 'api_calls', quantity: 2, consume: true, idempotencyKey: uuidv7() });
const usage = new UsageClient({ url, token });
usage.track({ orgId, metric: 'api_calls', quantity: 3 });
await usage.close();
const { used } = await client.checkQuota({ orgId, metric: 'api_calls', quantity: 1 });
console.log(JSON.stringify({ allowed: decision.allowed, consumed: decision.consumed, used, stats: usage.stats() }));
`,
    );
    const { stdout } = await run(
      process.execPath,
      [join(app, 'main.mjs'), server.url, TEST_SERVICE_TOKEN, org.id],
      { cwd: app },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      allowed: true,
      consumed: true,
      used: 5,
      stats: { sent: 1, accepted: 1, failed: 0, dropped: 0 },
    });
  });

  it('type-checks a TypeScript consumer against its declarations', async () => {
    // What the consumer has installed besides meterline: Node's types and the typed-document types.
    for (const dep of ['@types/node', '@graphql-typed-document-node/core']) {
      await mkdir(dirname(join(app, 'node_modules', dep)), { recursive: true });
      await symlink(join(repo, 'node_modules', dep), join(app, 'node_modules', dep));
    }
    await writeFile(
      join(app, 'consumer.ts'),
      `import { MeterlineClient, type QuotaDecision, UsageClient } from 'meterline/client';
const client = new MeterlineClient({ url: 'http://localhost:4000', token: 't' });
export const decide = (orgId: string): Promise<QuotaDecision> => client.checkQuota({ orgId, metric: 'api_calls' });
export const usage = new UsageClient({ url: 'http://localhost:4000', token: 't' });
// @ts-expect-error: quantity is a number
usage.track({ orgId: 'o', metric: 'api_calls', quantity: '3' });
`,
    );
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = await run(process.execPath, [tsc, '-p', app], { cwd: app }).then(
      () => 'ok',
      (e: { stdout: string }) => e.stdout,
    );
    expect(checked).toBe('ok');
  });
});
