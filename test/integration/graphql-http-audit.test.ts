import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * GraphQL over HTTP conformance: graphql-http's server audit suite against the real server.
 * Every MUST audit passes. Every SHOULD audit passes too, except those listed here with the reason
 * (the README repeats them). The transport does not depend on the database: PGlite only.
 */
const SHOULD_EXCEPTIONS: Record<string, string> = {};

describe('GraphQL over HTTP conformance (graphql-http audits)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite');
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  const audits = serverAudits({ url: () => `${server.url}/graphql` });

  it('has MUST and SHOULD audits to run', () => {
    expect(audits.filter((a) => a.name.startsWith('MUST')).length).toBeGreaterThan(10);
  });

  for (const audit of audits) {
    const exception = SHOULD_EXCEPTIONS[audit.id];
    it(`${audit.id} ${audit.name}${exception ? ` (known exception: ${exception})` : ''}`, async () => {
      const result = await audit.fn();
      if (exception) {
        // A listed exception must still be one: when it starts passing, take it off the list.
        expect(result.status, `${audit.name} passes now: remove it from SHOULD_EXCEPTIONS`).not.toBe('ok');
        return;
      }
      if (result.status === 'ok') return;
      const response = 'response' in result ? result.response : undefined;
      const body = response ? await response.text().catch(() => '') : '';
      expect.fail(
        `${result.status}: ${result.reason} (HTTP ${response?.status} ${response?.headers.get('content-type')}) ${body.slice(0, 300)}`,
      );
    });
  }
});
