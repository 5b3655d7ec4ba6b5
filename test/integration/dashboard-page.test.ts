import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  launchChromium,
  openDashboard,
  requestsOffHost,
  screenshot,
} from '../helpers/dashboard-browser.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg, createTestPlan, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

type Alert = { id: string; threshold: number; firedAt: string };

/** What the page shows, read from the page: the fill's share of its track, and texts. */
const fillRatio = (page: Page, metric: string) =>
  page
    .locator(`[data-metric="${metric}"] .bar`)
    .evaluate(
      (bar) => bar.querySelector('.fill')!.getBoundingClientRect().width / bar.getBoundingClientRect().width,
    );
const tickAt = (page: Page, metric: string, tick: string) =>
  page.locator(`[data-metric="${metric}"] .bar`).evaluate((bar, cls) => {
    const box = bar.getBoundingClientRect();
    const mark = bar.querySelector(`.tick.${cls}`)!.getBoundingClientRect();
    return (mark.left + mark.width / 2 - box.left) / box.width;
  }, tick);
const texts = (page: Page, selector: string) => page.locator(selector).allTextContents();
const text = (page: Page, selector: string) => page.locator(selector).innerText();

describe.skipIf(!hasChromium).each(testDatabases())('the /dashboard page as a product page on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  // Starting a server and a browser at once can take long on a busy machine.
  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), launchChromium()]);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const use = (org: TestOrg, usage: Record<string, number>) =>
    record(
      server,
      Object.entries(usage).map(([metric, quantity]) => ({
        id: randomUUID(),
        orgId: org.id,
        metric,
        quantity,
      })),
    ).then((res) => expect(res.data?.recordUsage.accepted).toBe(Object.keys(usage).length));

  it('shows the plan, the period, exact money, meters against the included amount and charts with axes', async () => {
    const org = await createTestOrg(server, 'pro');
    // Pro: api_calls 100,000 included at $0.001, tokens 500,000 at $0.0001, playbook_runs 50 at $1.
    await use(org, { api_calls: 105_025, tokens: 525_000, playbook_runs: 25 });
    const page = await openDashboard(browser, server.url, { token: org.ownerToken, orgId: org.id });
    await page.locator('#overage-total').filter({ hasText: '$7.53' }).waitFor({ timeout: 10_000 });

    // The plan and its period (the end is exclusive: the last day shown is the day before it).
    const res = await server.gql<{ org: { currentPeriod: { start: string; end: string } } }>(
      `query ($id: ID!) { org(id: $id) { currentPeriod { start end } } }`,
      { id: org.id },
      org.ownerToken,
    );
    const { start, end } = res.data!.org.currentPeriod;
    const day = (d: number) =>
      new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' }).format(d);
    expect(await text(page, '#plan-name')).toBe('Pro');
    expect(await text(page, '#base-price')).toBe('$49.00');
    expect(await text(page, '#period')).toBe(`${day(Date.parse(start))} – ${day(Date.parse(end) - 1)}`);
    const daysLeft = Math.floor((Date.parse(end) - Date.now()) / 86_400_000);
    expect(await text(page, '#time-left')).toMatch(
      daysLeft > 0 ? new RegExp(`^${daysLeft} days? \\d+ h left$`) : /^\d+ h \d+ min left$/,
    );

    // Money in the currency's precision, rounded half-up from the server's exact amounts:
    // api_calls 5,025 x $0.001 = $5.025 -> $5.03; tokens 25,000 x $0.0001 = $2.5 -> $2.50; total $7.53.
    const api = page.locator('[data-metric="api_calls"]');
    expect(await api.locator('.overage').innerText()).toBe('Overage 5,025 calls · $5.03');
    expect(await api.locator('.overage .money').getAttribute('title')).toBe('exact: 5.025 USD');
    expect(await text(page, '[data-metric="tokens"] .overage')).toBe('Overage 25,000 tokens · $2.50');
    expect(await text(page, '#overage-total')).toBe('$7.53');
    expect(await text(page, '#projected-overage')).toMatch(/^\$\d{1,3}(,\d{3})*\.\d{2}$/);
    for (const forecast of await texts(page, '.forecast-text')) {
      expect(forecast).toMatch(/^Forecast at period end: [\d,]+ \([\d,]+ %\) · overage \$[\d,]+\.\d{2}$/);
    }

    // Bars against the included amount, whatever the forecast: 105 % fills the track, 50 % half.
    expect(await text(page, '[data-metric="tokens"] .percent')).toBe('105 %');
    expect(await text(page, '[data-metric="tokens"] .used')).toBe('525,000 of 500,000 included');
    expect(await fillRatio(page, 'tokens')).toBeCloseTo(1, 2);
    expect(await fillRatio(page, 'playbook_runs')).toBeCloseTo(0.5, 2);
    expect(await fillRatio(page, 'seats')).toBe(0);
    expect(await page.locator('[data-metric="playbook_runs"] .bar .forecast').count()).toBe(1);
    // Pro has no hard limits: none is shown, and nothing reads as infinite.
    expect(await page.locator('.hard-limit, .tick.hard').count()).toBe(0);
    expect(await page.locator('body').innerText()).not.toContain('∞');

    // A chart per metric, with both axes labelled.
    const chart = page.locator('[data-metric="tokens"] .chart');
    expect(await chart.locator('figcaption').innerText()).toBe('Tokens per day, last 14 days');
    expect(await chart.locator('.y-tick').allTextContents()).toEqual(['0', '500K', '1M']);
    expect(await chart.locator('.y-title').textContent()).toBe('tokens');
    const today = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
    const xTicks = await chart.locator('.x-tick').allTextContents();
    expect(xTicks).toHaveLength(3);
    expect(xTicks[2]).toBe(today.format(Date.now()));
    expect(await chart.locator('rect').count()).toBe(14);
    expect(await page.locator('.chart .axis').count()).toBe(2 * 4);
    await screenshot(page, `${kind}-pro-plan`);

    // Live: more usage moves the meters and the totals without a reload.
    await use(org, { playbook_runs: 30 });
    await page.locator('#overage-total').filter({ hasText: '$12.53' }).waitFor({ timeout: 5_000 });
    expect(await fillRatio(page, 'playbook_runs')).toBeCloseTo(1, 2);
    expect(requestsOffHost.get(page)).toEqual([]);
    expect(await text(page, '[data-metric="playbook_runs"] .overage')).toBe('Overage 5 runs · $5.00');
    await page.context().close();
  });

  it('shows a currency without decimals, a hard limit with the included amount marked, budget alerts', async () => {
    const code = await createTestPlan(server, {
      name: 'Yen metered',
      currency: 'JPY',
      basePrice: '1000',
      entitlements: [
        {
          metric: 'api_calls',
          included: 1000,
          hardLimit: 2000,
          overage: { model: 'PER_UNIT', unitPrice: '0.5' },
        },
      ],
    });
    const org = await createTestOrg(server, code);
    const cap = await server.gql(
      `mutation ($input: SetBudgetCapInput!) { setBudgetCap(input: $input) { org { id } } }`,
      { input: { orgId: org.id, maxOverage: '300', action: 'ALERT' } },
      await server.adminToken(),
    );
    expect(cap.errors).toBeUndefined();
    await use(org, { api_calls: 1501 });
    const page = await openDashboard(browser, server.url, { token: org.ownerToken, orgId: org.id });
    // 501 x ¥0.5 = ¥250.5, shown as the yen has no minor unit: ¥251.
    await page.locator('#overage-total').filter({ hasText: '¥251' }).waitFor({ timeout: 10_000 });
    expect(await text(page, '#plan-name')).toBe('Yen metered');
    expect(await text(page, '#base-price')).toBe('¥1,000');
    expect(await text(page, '[data-metric="api_calls"] .overage')).toBe('Overage 501 calls · ¥251');
    expect(await text(page, '[data-metric="api_calls"] .hard-limit')).toBe('Hard limit 2,000');
    // The track ends at the hard limit; the included amount is marked half-way.
    expect(await fillRatio(page, 'api_calls')).toBeCloseTo(1501 / 2000, 2);
    expect(await tickAt(page, 'api_calls', 'included')).toBeCloseTo(0.5, 1);
    expect(await tickAt(page, 'api_calls', 'hard')).toBeCloseTo(1, 1);
    await use(org, { api_calls: 499 });
    await page.locator('[data-metric="api_calls"] .hard-limit.blocked').waitFor({ timeout: 5_000 });
    expect(await text(page, '[data-metric="api_calls"] .hard-limit')).toBe(
      'Hard limit 2,000 reached: more usage is refused',
    );
    // Budget alerts in the plan's currency: ¥251 of a ¥300 cap passed 80 %; ¥500 passed 90 and 100 %.
    const budget = page.locator('#alert-list li', { hasText: 'Overage budget' });
    await budget.nth(2).waitFor({ timeout: 5_000 });
    expect((await budget.allInnerTexts()).map((l) => l.replace(/^.*?\) /, ''))).toEqual([
      'Overage budget passed 100 % of the ¥300 cap · overage ¥500 when it fired',
      'Overage budget passed 90 % of the ¥300 cap · overage ¥500 when it fired',
      'Overage budget passed 80 % of the ¥300 cap · overage ¥251 when it fired',
    ]);
    await screenshot(page, `${kind}-jpy-hard-limit`);
    await page.context().close();
  });

  it('formats exact amounts in each currency’s precision, rounding half-up without floats', async () => {
    const page = await openDashboard(browser, server.url);
    const amounts = [
      ['453.8308', 'USD', 2],
      ['5.025', 'USD', 2],
      ['0.004', 'USD', 2],
      ['-0.005', 'USD', 2],
      ['250.5', 'JPY', 0],
      // KWD is charged in hundredths (Money.decimals 2), whatever its three ISO decimals.
      ['1.2345', 'KWD', 2],
      ['25', 'EUR', 2],
      // Past 2^53: a float would print 90071992547409930.00.
      ['90071992547409925.005', 'USD', 2],
    ];
    // The page's own module, imported in the page (a string, so the test runner leaves import() alone).
    const shown: string[] = await page.evaluate(`import('/dashboard/format.js').then(({ formatMoney }) =>
      ${JSON.stringify(amounts)}.map(([amount, currency, decimals]) => formatMoney({ amount, currency, decimals }).replace(/\\u00a0/g, ' ')))`);
    expect(shown).toEqual([
      '$453.83',
      '$5.03',
      '$0.00',
      '-$0.01',
      '¥251',
      'KWD 1.23',
      '€25.00',
      '$90,071,992,547,409,925.01',
    ]);
    await page.context().close();
  });

  it('lists alerts by metric name, newest first, each with the time it fired', async () => {
    const org = await createTestOrg(server, 'pro');
    const alerts = async (count: number) => {
      for (let i = 0; i < 100; i++) {
        const res = await server.gql<{ org: { usageAlerts: Alert[] } }>(
          `query ($id: ID!) { org(id: $id) { usageAlerts { id threshold firedAt } } }`,
          { id: org.id },
          org.ownerToken,
        );
        if (res.data!.org.usageAlerts.length >= count) return res.data!.org.usageAlerts;
        await sleep(50);
      }
      throw new Error(`fewer than ${count} alerts fired`);
    };
    // Three moments (a second apart, as the page shows seconds): api_calls 80 %; then tokens
    // straight past 80, 90 and 100 % in one event (three alerts fired together); then api_calls
    // past 90 and 100 %. The first is read by the page's query, the others arrive live.
    await use(org, { api_calls: 85_000 });
    await alerts(1);
    await sleep(1100);
    const page = await openDashboard(browser, server.url, { token: org.ownerToken, orgId: org.id });
    await page.locator('#alert-list li[data-alert-id]').first().waitFor({ timeout: 10_000 });
    await use(org, { tokens: 525_000 });
    await alerts(4);
    await sleep(1100);
    await use(org, { api_calls: 20_025 });
    const fired = await alerts(6);
    await page.locator('#alert-list li[data-alert-id]').nth(5).waitFor({ timeout: 5_000 });

    const newestFirst = [...fired].sort(
      (a, b) => Date.parse(b.firedAt) - Date.parse(a.firedAt) || b.threshold - a.threshold,
      // (the page breaks a tie of time and threshold by metric name; here every tie is one metric's)
    );
    for (const shown of [page, await reloaded(page)]) {
      const items = shown.locator('#alert-list li[data-alert-id]');
      expect(await items.evaluateAll((li) => li.map((l) => l.getAttribute('data-alert-id')))).toEqual(
        newestFirst.map((a) => a.id),
      );
      const times = await items.locator('time').evaluateAll((t) => t.map((e) => e.getAttribute('datetime')));
      expect(times).toEqual(newestFirst.map((a) => a.firedAt));
      const lines = (await items.allInnerTexts()).map((l) => l.replace(/^.*?\) /, ''));
      expect(lines).toEqual([
        'API calls passed 100 % of 100,000 calls (100,000) · 105,025 used when it fired',
        'API calls passed 90 % of 100,000 calls (90,000) · 105,025 used when it fired',
        'Tokens passed 100 % of 500,000 tokens (500,000) · 525,000 used when it fired',
        'Tokens passed 90 % of 500,000 tokens (450,000) · 525,000 used when it fired',
        'Tokens passed 80 % of 500,000 tokens (400,000) · 525,000 used when it fired',
        'API calls passed 80 % of 100,000 calls (80,000) · 85,000 used when it fired',
      ]);
      // Three moments, each shown with its own time (to the second).
      expect(new Set(await items.locator('time').allInnerTexts()).size).toBeGreaterThanOrEqual(3);
    }
    await screenshot(page, `${kind}-alerts`);
    await page.context().close();
  });
});

async function reloaded(page: Page): Promise<Page> {
  const again = await page.context().newPage();
  await again.goto(page.url());
  await again.locator('#alert-list li[data-alert-id]').nth(5).waitFor({ timeout: 10_000 });
  return again;
}
