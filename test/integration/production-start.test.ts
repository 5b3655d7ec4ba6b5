import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, get, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { signUserToken } from '../../src/auth/tokens.ts';
import { openDatabase } from '../../src/db/client.ts';
import { rowsOf } from '../../src/db/migrate.ts';
import { childServer } from '../helpers/child-server.ts';
import { createScratchDatabase, testDatabases } from '../helpers/databases.ts';
import { unique } from '../helpers/fixtures.ts';
import { PLATFORM_ADMIN, TEST_JWT_SECRET, TEST_SERVICE_TOKEN } from '../helpers/server.ts';
import { RECORD_USAGE, type RecordUsageResult } from '../helpers/usage.ts';

const BATCHES = 16;
const EVENTS = 500;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The processes a process started (Linux: /proc). */
function childrenOf(pid: number): number[] {
  const list = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return list === '' ? [] : list.split(/\s+/).map(Number);
}

function commandOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A recordUsage request whose body is sent in two halves: after `start` the server is reading
 * it (the request is in flight), `finish` sends the rest and resolves with the answer.
 */
function splitRequest(url: string, body: string, agent: Agent) {
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  let answer!: Promise<{ status: number; body: string }>;
  const req = request(`${url}/graphql`, {
    agent,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': bytes.length,
      authorization: `Bearer ${TEST_SERVICE_TOKEN}`,
    },
  });
  answer = new Promise((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  const started = new Promise<void>((resolve) => req.write(bytes.subarray(0, half), () => resolve()));
  return {
    started,
    finish() {
      req.end(bytes.subarray(half));
      return answer;
    },
  };
}

/**
 * `npm start` is the production start: npm runs the server as its child (no shell, no loader
 * process between them), forwards SIGTERM to it, and the server drains what is in flight before
 * it exits. Batches whose bodies are still arriving when the signal comes are all answered, the
 * ledger holds exactly the events those answers acknowledged, and the port is free afterwards.
 */
describe.each(testDatabases())('SIGTERM to npm start on %s', (kind) => {
  it('answers every batch in flight, ends subscriptions, exits and frees the port', {
    timeout: 180_000,
  }, async () => {
    const scratch = kind === 'postgres' ? await createScratchDatabase() : undefined;
    const dataDir = scratch ? undefined : mkdtempSync(join(tmpdir(), 'meterline-sigterm-'));
    const server = await childServer({
      database: scratch ? { url: scratch.url } : { dataDir: dataDir! },
      command: 'npm-start',
      // A first PGlite start runs initdb; on a machine busy with other suites that takes a while.
      readyTimeoutMs: 100_000,
      env: { npm_config_update_notifier: 'false', LOG_LEVEL: 'info' },
    });
    try {
      await server.start();
      const npm = server.pid()!;
      // npm -> node src/server.ts: the shell npm runs the script with has exec'd the server.
      const [child, ...others] = childrenOf(npm);
      expect(others).toEqual([]);
      expect(commandOf(child!)).toMatch(/node src\/server\.ts$/);
      expect(childrenOf(child!)).toEqual([]);

      const admin = await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN);
      const slug = unique('sigterm');
      const created = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({
          query: 'mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }',
          variables: { input: { name: slug, slug, planCode: 'enterprise' } },
        }),
      });
      const orgId = ((await created.json()) as { data: { createOrg: { org: { id: string } } } }).data
        .createOrg.org.id;

      // A live subscription (SSE): it must end cleanly, not be cut.
      const subscription = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${admin}`,
        },
        body: JSON.stringify({ query: `subscription { usageUpdated(orgId: "${orgId}") { asOf } }` }),
      });
      expect(subscription.status).toBe(200);
      let received = '';
      const stream = (async () => {
        const decoder = new TextDecoder();
        const reader = subscription.body!.getReader();
        for (let read = await reader.read(); !read.done; read = await reader.read()) {
          received += decoder.decode(read.value, { stream: true });
        }
        return received;
      })();
      const deadline = Date.now() + 20_000;
      while (!received.includes('usageUpdated') && Date.now() < deadline) await pause(50);

      // One connection per batch, accepted by the server before the batches start (a connection
      // still in the kernel's queue when the listener closes is reset, not drained).
      const agent = new Agent({ keepAlive: true, maxSockets: BATCHES });
      await Promise.all(
        Array.from(
          { length: BATCHES },
          () =>
            new Promise<void>((resolve, reject) => {
              get(`${server.url}/health`, { agent }, (res) => {
                res.resume();
                res.on('end', resolve);
              }).on('error', reject);
            }),
        ),
      );
      const batches = Array.from({ length: BATCHES }, () => {
        const events = Array.from({ length: EVENTS }, () => ({
          id: randomUUID(),
          orgId,
          metric: 'api_calls',
          quantity: 1,
        }));
        return splitRequest(
          server.url,
          JSON.stringify({ query: RECORD_USAGE, variables: { input: { events } } }),
          agent,
        );
      });
      await Promise.all(batches.map((b) => b.started));
      await pause(1_000); // every request's headers parsed: it is in flight, not an idle connection

      process.kill(npm, 'SIGTERM');
      await pause(300); // the server is draining: it closed its listener
      const answers = await Promise.all(batches.map((b) => b.finish()));
      const exited = Date.now();
      await server.kill('SIGTERM'); // waits for npm to exit (already signalled)
      const exitMs = Date.now() - exited;

      let accepted = 0;
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        const result = JSON.parse(answer.body) as { data: { recordUsage: RecordUsageResult } };
        expect(result.data.recordUsage).toMatchObject({ accepted: EVENTS, duplicates: 0, rejected: [] });
        accepted += result.data.recordUsage.accepted;
      }
      expect(accepted).toBe(BATCHES * EVENTS);
      const events = await stream;
      expect(events).toContain('"usageUpdated":{"asOf"');
      expect(events).toContain('event: complete');

      expect(server.running()).toBe(false);
      expect(alive(child!)).toBe(false);
      expect(exitMs).toBeLessThan(10_000);
      expect(server.output()).toContain('draining and shutting down');
      // The port is free: this process can listen on it.
      const probe = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(server.port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));

      // The ledger holds exactly the acknowledged events, and the counter agrees.
      const db = await openDatabase({ databaseUrl: scratch?.url, dataDir: dataDir ?? '.data-test' });
      try {
        const [row] = rowsOf<{ events: string; counted: string | null }>(
          await db.db.execute(sql`
            with org as (select id from orgs where slug = ${slug})
            select (select count(*) from usage_events where org_id = (select id from org))::text as events,
              (select sum(value) from usage_counters
                where org_id = (select id from org) and metric_key = 'api_calls')::text as counted`),
        );
        expect(row).toEqual({ events: String(accepted), counted: String(accepted) });
      } finally {
        await db.close();
      }
    } finally {
      await server.kill('SIGKILL');
      await scratch?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
