import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUERY, graphiqlOptions } from '../../src/http/graphiql.ts';
import { loadDemoData } from '../../src/seed/demo-data.ts';
import { hasChromium, launchChromium } from '../helpers/dashboard-browser.ts';
import { PLATFORM_ADMIN, startTestServer, TEST_JWT_SECRET, type TestServer } from '../helpers/server.ts';

/** Under the repository's ignored tmp/: a run leaves the pictures for a person to look at. */
const SCREENSHOTS = 'tmp';

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
};

describe('the start page and GraphiQL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite');
  });
  afterAll(() => server?.close());

  it('serves a start page whose every link answers', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(links).toEqual([
      '/graphql',
      '/dashboard',
      '/health',
      '/ready',
      '/metrics',
      '/docs',
      '/schema.graphql',
    ]);
    for (const link of links) {
      const res = await fetch(`${server.url}${link}`, { headers: { accept: 'text/html' } });
      expect([link, res.status]).toEqual([link, 200]);
      await res.body?.cancel();
    }
    expect(await (await fetch(`${server.url}/docs`)).text()).toContain('# Meterline');
    expect(await (await fetch(`${server.url}/schema.graphql`)).text()).toContain('type Query');
  });

  it('serves GraphiQL with its code inlined, nothing from another host', async () => {
    const res = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('renderYogaGraphiQL');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="https?:/);
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|esm\.sh/);
  });

  it("opens with the README's first query, word for word", () => {
    expect(readFileSync('README.md', 'utf8')).toContain(`\n\`\`\`graphql\n${DEFAULT_QUERY}\`\`\`\n`);
  });

  it('pre-fills the admin header only for a browser on the same machine', async () => {
    const render = graphiqlOptions({ jwtSecret: TEST_JWT_SECRET, adminUserIds: [PLATFORM_ADMIN] });
    const from = (remoteAddress: string) =>
      render(new Request('http://x/graphql'), { req: { socket: { remoteAddress } } });
    for (const local of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect((await from(local)).headers).toMatch(/^\{\s*"Authorization": "Bearer ey/);
    }
    for (const remote of ['10.0.0.7', '192.168.1.20', '::ffff:10.0.0.7', '2001:db8::1']) {
      expect((await from(remote)).headers).toBeUndefined();
    }
    // No admin configured: nothing to pre-fill.
    const none = graphiqlOptions({ jwtSecret: TEST_JWT_SECRET, adminUserIds: [] });
    expect(
      (await none(new Request('http://x/graphql'), { req: { socket: { remoteAddress: '127.0.0.1' } } }))
        .headers,
    ).toBeUndefined();
  });

  it.skipIf(!hasChromium)(
    "runs the README's query with the pre-filled header in a browser cut off from every other host",
    { timeout: 120_000 },
    async () => {
      // The README's query reads the demo data set's acme, as on a newcomer's first start.
      await loadDemoData(server.database.db, new Date());
      const browser = await launchChromium();
      const blocked: string[] = [];
      try {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        await context.route('**/*', (route) => {
          const url = route.request().url();
          if (isLoopback(url)) return route.continue();
          blocked.push(url);
          return route.abort();
        });
        const page = await context.newPage();
        mkdirSync(SCREENSHOTS, { recursive: true });

        await page.goto(`${server.url}/`);
        await page.getByRole('link', { name: 'GraphiQL' }).waitFor();
        await page.screenshot({ path: `${SCREENSHOTS}/start-page.png`, fullPage: true });

        await page.getByRole('link', { name: 'GraphiQL' }).click();
        await page.waitForURL(/\/graphql$/);
        const run = page.locator('.graphiql-execute-button');
        await run.waitFor({ timeout: 60_000 });
        // The Headers tab holds the platform admin's header.
        await page.getByText('Headers', { exact: true }).click();
        await page.locator('.graphiql-editor-tool').getByText('Bearer', { exact: false }).first().waitFor();
        // The README's query, as GraphiQL sends it (its response pane shows only the lines in view).
        const answered = page.waitForResponse(
          (r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('acme'),
        );
        await run.click();
        const answer = (await (await answered).json()) as {
          errors?: unknown;
          data: {
            viewer: { userId: string; isPlatformAdmin: boolean };
            plans: { code: string }[];
            org: { overages: { total: { amountMinor: number } } } | null;
          };
        };
        expect(answer.errors).toBeUndefined();
        expect(answer.data.viewer).toEqual({ userId: PLATFORM_ADMIN, isPlatformAdmin: true });
        expect(answer.data.plans.map((p) => p.code)).toContain('pro');
        // acme owes $5.00 + $25.00 + $25.00 of overage, as the README says.
        expect(answer.data.org?.overages.total.amountMinor).toBe(5500);
        await page
          .locator('.graphiql-response')
          .getByText('"isPlatformAdmin": true', { exact: false })
          .waitFor({ timeout: 30_000 });
        await page.screenshot({ path: `${SCREENSHOTS}/graphiql.png`, fullPage: true });
      } finally {
        await browser.close();
      }
      // Nothing outside this machine was needed (what was asked for is listed if the test fails).
      expect(blocked).toEqual([]);
    },
  );
});
