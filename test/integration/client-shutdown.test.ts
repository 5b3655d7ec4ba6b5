import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/child-server.ts';

const client = new URL('../../packages/client/src/index.ts', import.meta.url).href;

/**
 * A host whose last work is awaiting the usage client, with Meterline down and nothing else
 * holding the process: the backoff sleeps are unref'd, so without a hold of its own Node would
 * exit at once (code 13, an unsettled top-level await), the event neither sent nor reported.
 */
const script = `
import { UsageClient } from ${JSON.stringify(client)};
const errors = [];
const usage = new UsageClient({
  url: process.env.METERLINE_URL,
  maxRetries: Number(process.env.MAX_RETRIES),
  onError: (e) => errors.push(e.kind),
});
usage.track({ metric: 'api_calls' });
const mode = process.env.MODE;
const result =
  mode === 'close' ? await usage.close({ timeoutMs: 1500 }) : mode === 'flush' ? await usage.flush() : null;
console.log(JSON.stringify({ result, stats: usage.stats(), errors }));
`;

function runHost(env: Record<string, string>) {
  const started = Date.now();
  return new Promise<{ code: number | null; ms: number; output: unknown; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (_error, stdout, stderr) => {
        const line = stdout.trim();
        resolve({ code: child.exitCode, ms: Date.now() - started, output: line && JSON.parse(line), stderr });
      },
    );
  });
}

describe('the usage client keeps the process alive while a flush or close is pending', () => {
  it('close({ timeoutMs }) waits out its timeout, then counts and reports the event as failed', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const host = await runHost({ METERLINE_URL: url, MAX_RETRIES: '10', MODE: 'close' });
    expect(host.code, host.stderr).toBe(0);
    expect(host.ms).toBeGreaterThanOrEqual(1_400);
    expect(host.ms).toBeLessThan(10_000);
    expect(host.output).toEqual({
      result: false,
      stats: expect.objectContaining({ queued: 0, inFlight: 0, sent: 0, failed: 1 }),
      errors: ['failed'],
    });
  });

  it('flush() waits until the retries run out', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const host = await runHost({ METERLINE_URL: url, MAX_RETRIES: '3', MODE: 'flush' });
    expect(host.code, host.stderr).toBe(0);
    expect(host.output).toEqual({
      result: true,
      stats: expect.objectContaining({ queued: 0, inFlight: 0, failed: 1, retried: 3 }),
      errors: ['failed'],
    });
  });

  it('a tracked event alone never keeps the host alive', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const host = await runHost({ METERLINE_URL: url, MAX_RETRIES: '10', MODE: 'none' });
    expect(host.code, host.stderr).toBe(0);
    // Well before the 5 s batching timer would have sent it.
    expect(host.ms).toBeLessThan(4_000);
    expect(host.output).toMatchObject({ result: null, stats: { queued: 1, failed: 0 }, errors: [] });
  });
});
