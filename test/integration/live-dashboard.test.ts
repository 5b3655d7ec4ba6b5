import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKey } from '../helpers/api-keys.ts';
import {
  hasChromium,
  launchChromium,
  openDashboard,
  requestsOffHost,
  screenshot,
} from '../helpers/dashboard-browser.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg, unique } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

const message = (page: Page) => page.locator('#token-message');
const meters = (page: Page) => page.locator('[data-metric="api_calls"] .used');

describe.each(testDatabases())('the /dashboard page on %s', (kind) => {
  let server: TestServer;
  let browser: Browser | undefined;
  // Starting a server and a browser at once can take long on a busy machine.
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer(kind),
      hasChromium ? launchChromium() : undefined,
    ]);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('serves a self-contained page, its modules and the graphql-ws browser bundle from this server', async () => {
    const page = await fetch(`${server.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    // Nothing is loaded from another host.
    expect(html).not.toMatch(/src="https?:/);
    const sources = await Promise.all(
      ['dashboard.js', 'views.js', 'format.js'].map(async (name) => {
        const res = await fetch(`${server.url}/dashboard/${name}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/text\/javascript/);
        return res.text();
      }),
    );
    expect(sources[0]).toContain('usageUpdated');
    expect(sources[0]).toContain('usageAlert');
    for (const source of sources) expect(source).not.toMatch(/from ['"]https?:|import\(['"]https?:/);
    const bundle = await fetch(`${server.url}/dashboard/graphql-ws.js`);
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toContain('createClient');
  });

  it.skipIf(!hasChromium)('updates a meter live in a real browser, without a reload', async () => {
    const org = await createTestOrg(server, 'pro');
    const page = await openDashboard(browser!, server.url, { token: org.ownerToken, orgId: org.id });
    await meters(page).filter({ hasText: '0 of 100,000 included' }).waitFor({ timeout: 10_000 });
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 1234 }]);
    await meters(page).filter({ hasText: '1,234 of 100,000 included' }).waitFor({ timeout: 5_000 });
    expect(navigations).toBe(0);
    // It needs nothing from the internet (and the guard does refuse a request elsewhere).
    expect(requestsOffHost.get(page)).toEqual([]);
    // (the page's own CSP would stop a fetch first, so a navigation in its context shows the guard)
    const probe = await page.context().newPage();
    await probe.goto('https://cdn.example.com/x.js').catch(() => {});
    expect(requestsOffHost.get(page)).toEqual(['https://cdn.example.com/x.js']);
    await probe.close();
    expect(await page.locator('#status').innerText()).toMatch(/^live · updated /);
    await screenshot(page, `${kind}-live`);
    await page.context().close();
  });

  it.skipIf(!hasChromium)('takes the token in every form the server prints it, as it is typed', async () => {
    const org = await createTestOrg(server, 'pro');
    const t = org.ownerToken;
    const page = await openDashboard(browser!, server.url);
    expect(await message(page).innerText()).toBe('Paste a token, its Bearer header or an API key.');
    const forms = [`Bearer ${t}`, `{"Authorization": "Bearer ${t}"}`, t, `  authorization: bearer ${t}\n`];
    for (const form of forms) {
      // Something that is no token first, so each form has to load the org again.
      await page.locator('#token').fill('not a token');
      await message(page).filter({ hasText: 'That is not a token' }).waitFor({ timeout: 5_000 });
      expect(await page.locator('#token').getAttribute('aria-invalid')).toBe('true');
      // What is shown always belongs to the token in the field.
      expect(await page.locator('#org-view').isHidden()).toBe(true);
      await page.locator('#token').fill(form);
      await message(page)
        .filter({ hasText: `Signed in as ${org.ownerId} · 1 org` })
        .waitFor({ timeout: 5_000 });
      // Its only org is picked and watched at once.
      expect(await page.locator('#org').inputValue()).toBe(org.id);
      await meters(page).filter({ hasText: '0 of 100,000 included' }).waitFor({ timeout: 5_000 });
      expect(await page.evaluate(() => localStorage.getItem('meterline.token'))).toBe(t);
    }
  });

  it.skipIf(!hasChromium)('says while it checks a token, and loads at once on Enter', async () => {
    const org = await createTestOrg(server, 'pro');
    const page = await openDashboard(browser!, server.url);
    // A slow server, so the page's feedback is there to be seen.
    await page.route('**/graphql', async (route) => {
      await sleep(600);
      await route.continue();
    });
    await page.locator('#token').fill(`Bearer ${org.ownerToken}`);
    await page.locator('#token').press('Enter');
    // Before the 400 ms pause after typing would have passed: Enter started the check.
    await message(page).filter({ hasText: 'Checking the token…' }).waitFor({ timeout: 300 });
    expect(await page.locator('#org').isDisabled()).toBe(true);
    await message(page).filter({ hasText: 'Signed in as' }).waitFor({ timeout: 5_000 });
    expect(await page.locator('#org').isDisabled()).toBe(false);
  });

  it.skipIf(!hasChromium)('says when a token is refused or has no access', async () => {
    const org = await createTestOrg(server, 'pro');
    const page = await openDashboard(browser!, server.url);
    await page.locator('#token').fill('Bearer eyJhbGciOiJIUzI1NiJ9.e30.forged');
    await message(page).filter({ hasText: 'UNAUTHENTICATED' }).waitFor({ timeout: 5_000 });
    expect(await message(page).innerText()).toBe(
      'Token refused (UNAUTHENTICATED): The token is not valid: send a JWT signed by this server, or an API key.',
    );
    expect(await page.locator('#token').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#org').isDisabled()).toBe(true);
    expect(await page.locator('#org-view').isHidden()).toBe(true);
    await screenshot(page, `${kind}-token-refused`);

    const stranger = unique('stranger');
    await page.locator('#token').fill(await server.token(stranger));
    await message(page)
      .filter({ hasText: `Signed in as ${stranger}, but this token has no access to any org.` })
      .waitFor({ timeout: 5_000 });
    expect(await page.locator('#org').isDisabled()).toBe(true);

    // An API key of the org without USAGE_READ: it sees its org, but may not watch it.
    const writer = await createTestKey(server, org, { scopes: ['USAGE_WRITE'], name: 'ingest' });
    await page.locator('#token').fill(writer.secret);
    await message(page)
      .filter({ hasText: 'Signed in as API key “ingest” · 1 org' })
      .waitFor({ timeout: 5_000 });
    await page.locator('#status').filter({ hasText: 'Not live: FORBIDDEN' }).waitFor({ timeout: 5_000 });
    // (the live feed and the alerts query both refuse it; whichever answers last is shown)
    expect(await page.locator('#status').innerText()).toMatch(/^Not live: FORBIDDEN: .*USAGE_READ/);

    const reader = await createTestKey(server, org, { scopes: ['USAGE_READ'], name: 'watcher' });
    await page.locator('#token').fill(reader.secret);
    await message(page)
      .filter({ hasText: 'Signed in as API key “watcher” · 1 org' })
      .waitFor({ timeout: 5_000 });
    await meters(page).filter({ hasText: '0 of 100,000 included' }).waitFor({ timeout: 5_000 });
    await page.locator('#status').filter({ hasText: 'live · updated' }).waitFor({ timeout: 5_000 });
  });
});
