import { execFile, execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The Node versions the client supports: the system's Node 20 and the Node 24 npm scripts run on. */
const NODE_20 = '/usr/bin/node';
const NODE_24 = join(repo, 'node_modules', '.bin', 'node');
const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

/** Each top-level package under node_modules, scoped ones as `@scope/name`. */
async function installed(app: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(join(app, 'node_modules'))) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const inner of await readdir(join(app, 'node_modules', entry))) names.push(`${entry}/${inner}`);
    } else names.push(entry);
  }
  return names.sort();
}

/** `npm install` on Node 20, offline: a tarball with no dependencies needs nothing from a registry. */
async function npmInstall(app: string, manifest: object): Promise<string> {
  await mkdir(app, { recursive: true });
  await writeFile(join(app, 'package.json'), JSON.stringify({ private: true, type: 'module', ...manifest }));
  const { stderr } = await run(NODE_20, [npmCli, 'install', '--offline', '--no-audit', '--no-fund'], {
    cwd: app,
  });
  return stderr;
}

/** What a consumer with only the client installed runs: every entry point against the server. */
const ALONE = `import { MeterlineClient, MeterlineError, UsageClient, uuidv7 } from '@meterline/client';
const [url, token, orgId] = process.argv.slice(2);
const client = new MeterlineClient({ url, token });
const decision = await client.checkQuota({ orgId, metric: 'api_calls', quantity: 2, consume: true, idempotencyKey: uuidv7() });
const usage = new UsageClient({ url, token });
usage.track({ orgId, metric: 'api_calls', quantity: 3 });
await usage.close();
const peek = await client.request(
  'mutation Peek($input: CheckQuotaInput!) { checkQuota(input: $input) { used } }',
  { input: { orgId, metric: 'api_calls' } },
);
// A DocumentNode with no source text: printing it needs graphql, which is not installed here.
const ast = { kind: 'Document', definitions: [] };
const unprintable = await client.request(ast, {}).then(() => 'sent', (e) => e instanceof MeterlineError && e.kind);
console.log(JSON.stringify({ allowed: decision.allowed, consumed: decision.consumed, used: peek.checkQuota.used, stats: usage.stats(), unprintable, node: process.version }));
`;

/** A TypeScript consumer with graphql and typed documents, as codegen, Apollo or urql give them. */
const TYPED = `import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { MeterlineClient, type QuotaDecision, UsageClient } from '@meterline/client';

type Peek = { checkQuota: { used: number } };
type PeekVariables = { input: { orgId: string; metric: string } };
const text = 'mutation Peek($input: CheckQuotaInput!) { checkQuota(input: $input) { used } }';
const parsed: TypedDocumentNode<Peek, PeekVariables> = parse(text);
// codegen's default output: the AST without locations.
const bare = parse(text, { noLocation: true }) as TypedDocumentNode<Peek, PeekVariables>;

const [url = '', token = '', orgId = ''] = process.argv.slice(2);
const client = new MeterlineClient({ url, token });
const decision: QuotaDecision = await client.checkQuota({ orgId, metric: 'api_calls', quantity: 4, consume: true });
const fromParsed: Peek = await client.request(parsed, { input: { orgId, metric: 'api_calls' } });
const fromBare: number = (await client.request(bare, { input: { orgId, metric: 'api_calls' } })).checkQuota.used;
if (url === 'never') {
  // @ts-expect-error: the typed document checks its variables
  await client.request(parsed, { input: { orgId } });
  // @ts-expect-error: quantity is a number
  new UsageClient({ url, token }).track({ orgId, metric: 'api_calls', quantity: '3' });
}
console.log(JSON.stringify({ consumed: decision.consumed, fromParsed: fromParsed.checkQuota.used, fromBare }));
`;

/**
 * @meterline/client as an application gets it: `npm pack` of the workspace (what a registry
 * would serve), installed with Node 20's npm into empty projects with nothing but the tarballs
 * (offline), then type-checked with Node 20 and run on Node 20 and Node 24 against the server.
 */
describe('the packed @meterline/client', () => {
  let work: string;
  let tarball: string;
  let packed: string[];
  let server: TestServer;
  const tarballs: Record<string, string> = {};

  beforeAll(async () => {
    expect((await run(NODE_20, ['--version'])).stdout).toMatch(/^v20\./);
    expect((await run(NODE_24, ['--version'])).stdout).toMatch(/^v24\./);
    work = await mkdtemp(join(tmpdir(), 'meterline-client-'));
    // `prepack` builds dist first.
    const client = await run(
      'npm',
      ['pack', '--json', '--workspace', '@meterline/client', '--pack-destination', work],
      {
        cwd: repo,
      },
    );
    const [pack] = JSON.parse(client.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(work, pack!.filename);
    packed = pack!.files.map((f) => f.path);
    // What the typed consumer declares, packed from the repository's own node_modules (offline).
    const deps = ['@types/node', 'undici-types', 'graphql', '@graphql-typed-document-node/core'];
    const others = await run(
      'npm',
      ['pack', '--json', '--pack-destination', work, ...deps.map((d) => `./node_modules/${d}`)],
      {
        cwd: repo,
      },
    );
    for (const p of JSON.parse(others.stdout) as { name: string; filename: string }[]) {
      tarballs[p.name] = `file:${join(work, p.filename)}`;
    }
    server = await startTestServer('pglite');
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds the built client and its declarations, and no TypeScript source or dependencies', async () => {
    expect(packed).toContain('dist/index.js');
    expect(packed).toContain('dist/index.d.ts');
    expect(packed).toContain('README.md');
    expect(packed.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    const manifest = JSON.parse(
      (await run('tar', ['-xOzf', tarball, 'package/package.json'])).stdout,
    ) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      name: '@meterline/client',
      type: 'module',
      engines: { node: '>=20.3' },
    });
    expect(manifest.dependencies).toBeUndefined();
    // Declarations import nothing but node:http, whose types the optional @types/node peer gives.
    const declarations = await Promise.all(
      packed
        .filter((p) => p.endsWith('.d.ts'))
        .map(async (p) => (await run('tar', ['-xOzf', tarball, `package/${p}`])).stdout),
    );
    const imported = declarations.flatMap((d) => [...d.matchAll(/from '([^.'][^']*)'/g)].map((m) => m[1]));
    expect([...new Set(imported)]).toEqual(['node:http']);
  });

  it('installs alone on Node 20 (offline, no warning) and runs on Node 20 and 24 against the server', async () => {
    const app = join(work, 'alone');
    const stderr = await npmInstall(app, { dependencies: { '@meterline/client': `file:${tarball}` } });
    expect(stderr).not.toMatch(/EBADENGINE|warn/i);
    expect(await installed(app)).toEqual(['@meterline/client']);
    await writeFile(join(app, 'main.mjs'), ALONE);
    for (const node of [NODE_20, NODE_24]) {
      const org = await createTestOrg(server, 'pro');
      const { stdout } = await run(node, ['main.mjs', server.url, TEST_SERVICE_TOKEN, org.id], { cwd: app });
      expect(JSON.parse(stdout)).toMatchObject({
        allowed: true,
        consumed: true,
        used: 5,
        stats: { sent: 1, accepted: 1, failed: 0, dropped: 0 },
        unprintable: 'invalid-document',
        node: node === NODE_20 ? expect.stringMatching(/^v20\./) : expect.stringMatching(/^v24\./),
      });
    }
  }, 120_000);

  it('type-checks a TypeScript consumer with typed documents on Node 20, which runs on Node 20 and 24', async () => {
    const app = join(work, 'typed');
    await npmInstall(app, {
      dependencies: {
        '@meterline/client': `file:${tarball}`,
        graphql: tarballs.graphql,
        '@graphql-typed-document-node/core': tarballs['@graphql-typed-document-node/core'],
      },
      devDependencies: { '@types/node': tarballs['@types/node'], 'undici-types': tarballs['undici-types'] },
    });
    // Only the client and what the consumer itself declares.
    expect(await installed(app)).toEqual(
      [
        '@graphql-typed-document-node/core',
        '@meterline/client',
        '@types/node',
        'graphql',
        'undici-types',
      ].sort(),
    );
    await writeFile(join(app, 'consumer.ts'), TYPED);
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          types: ['node'],
          outDir: 'out',
        },
        files: ['consumer.ts'],
      }),
    );
    const checked = await run(NODE_20, [tsc, '-p', app], { cwd: app }).then(
      () => 'ok',
      (e: { stdout: string }) => e.stdout,
    );
    expect(checked).toBe('ok');
    for (const node of [NODE_20, NODE_24]) {
      const org = await createTestOrg(server, 'pro');
      const { stdout } = await run(node, ['out/consumer.js', server.url, TEST_SERVICE_TOKEN, org.id], {
        cwd: app,
      });
      expect(JSON.parse(stdout)).toEqual({ consumed: true, fromParsed: 4, fromBare: 4 });
    }
  }, 180_000);
});
