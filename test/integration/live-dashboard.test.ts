import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

/** Debian's chromium (apt-get install chromium); the browser test is skipped where it is missing. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Under the repository's ignored tmp/: a run leaves the picture for a person to look at. */
const SCREENSHOTS = 'tmp';

describe('the /dashboard page', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite');
  });
  afterAll(() => server?.close());

  it('serves a self-contained page and the graphql-ws browser bundle from this server', async () => {
    const page = await fetch(`${server.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('usageUpdated');
    expect(html).toContain('usageAlert');
    // Nothing is loaded from another host.
    expect(html).not.toMatch(/src="https?:/);
    const bundle = await fetch(`${server.url}/dashboard/graphql-ws.js`);
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toContain('createClient');
  });

  it.skipIf(!existsSync(CHROMIUM))('updates a meter live in a real browser, without a reload', async () => {
    const { chromium } = await import('playwright-core');
    const org = await createTestOrg(server, 'pro');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
      // What a person pasted and picked last time (the page keeps both in localStorage).
      await page.addInitScript(
        ([token, orgId]) => {
          localStorage.setItem('meterline.token', token as string);
          localStorage.setItem('meterline.org', orgId as string);
        },
        [org.ownerToken, org.id],
      );
      await page.goto(`${server.url}/dashboard`);
      const used = page.locator('[data-metric="api_calls"] .used');
      await used.filter({ hasText: '0 / 100,000' }).waitFor({ timeout: 10_000 });
      let navigations = 0;
      page.on('framenavigated', () => navigations++);
      await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 1234 }]);
      await used.filter({ hasText: '1,234 / 100,000' }).waitFor({ timeout: 5_000 });
      expect(navigations).toBe(0);
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard.png`, fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
