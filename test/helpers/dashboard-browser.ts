import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';

/** Debian's chromium (apt-get install chromium); the browser tests are skipped where it is missing. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Where the dashboard tests leave their screenshots for a person to look at (printed once per run). */
export const SCREENSHOTS =
  process.env.DASHBOARD_SCREENSHOTS ?? join(tmpdir(), 'meterline-dashboard-screenshots');

let announced = false;

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (!announced) {
    announced = true;
    console.log(`dashboard screenshots: ${SCREENSHOTS}`);
  }
  return path;
}

/** What a page tried to load from anywhere but the server under test (refused): should stay empty. */
export const requestsOffHost = new WeakMap<Page, string[]>();

/**
 * Debian's Chromium, headless, with nothing of its own going out (no background networking,
 * component updates, sync or QUIC): on a machine without internet those would be refused, many
 * at a time. Shared by every browser test (the dashboard's and GraphiQL's).
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A fresh page in a fixed locale and time zone (the page formats with the browser's), with the
 * token and org a person pasted and picked last time already in localStorage when given.
 */
export async function openDashboard(
  browser: Browser,
  url: string,
  remembered?: { token: string; orgId?: string },
): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1200, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  // Offline, as on a machine without internet: a request anywhere but this server is refused and noted.
  const offHost: string[] = [];
  const origin = new URL(url).origin;
  await context.route(
    (u) => u.origin !== origin,
    (route) => {
      offHost.push(route.request().url());
      return route.abort();
    },
  );
  const page = await context.newPage();
  requestsOffHost.set(page, offHost);
  if (remembered) {
    await page.addInitScript(
      ([token, orgId]) => {
        localStorage.setItem('meterline.token', token as string);
        if (orgId) localStorage.setItem('meterline.org', orgId as string);
      },
      [remembered.token, remembered.orgId ?? ''],
    );
  }
  await page.goto(`${url}/dashboard`);
  return page;
}
