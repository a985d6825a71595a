import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { ROOT } from './node.js';

export const CHROMIUM = process.env.NEXO_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');

/**
 * Whether browser tests can run here. Without Chromium they are skipped with the reason printed, except
 * under CI=true, where a missing browser is a failure (.ci/run installs the `chromium` package).
 */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const reason = `${CHROMIUM} not found: browser tests need Chromium (Debian package 'chromium')`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must not skip them`);
  console.warn(`skipping browser tests: ${reason}`);
  return false;
}

export function dashboardBuilt(): void {
  if (!existsSync(path.join(ROOT, 'dist/web/index.html'))) {
    throw new Error('the dashboard is not built: run npm run build (npm test does it first)');
  }
}

/**
 * Headless Chromium with nothing that talks to the internet. Playwright's launch() gives it a new, empty
 * profile in a temporary directory, removed on close.
 */
export async function launchBrowser(): Promise<{ browser: BrowserContextFactory; close(): Promise<void> }> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    browser: { newContext: (options) => browser.newContext(options) },
    close: () => browser.close(),
  };
}

export interface BrowserContextFactory {
  newContext(options?: Parameters<Browser['newContext']>[0]): Promise<BrowserContext>;
}

/** Collects every console error, uncaught exception and failed request of a page. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  return problems;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The screens browser tests check: a desktop and a phone (the dashboard must work on both). */
export const SCREENS = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
} as const;

/** Fails when the page is wider than its screen (it would scroll sideways). */
export async function fitsScreen(page: Page): Promise<void> {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  expect(scroll, 'page wider than the screen').toBeLessThanOrEqual(width);
}
