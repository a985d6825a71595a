import { type ChildProcess, spawn } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrowserContextFactory,
  browserAvailable,
  dashboardBuilt,
  fitsScreen,
  launchBrowser,
  screenshot,
  watchConsole,
} from '../helpers/browser.js';
import { postJson } from '../helpers/http.js';
import { CLI, freePort, type ServerProcess, spawnServer, tempDataDir } from '../helpers/node.js';

/**
 * The dashboard in headless Chromium against the real `nexo server` (the built CLI), as a user meets it:
 * every page loads without a console error at desktop and phone size (screenshots in
 * test-results/screenshots), two browsers and a terminal chat in one room and see the same messages in the
 * same order, and a page left open across a server restart shows that it is reconnecting and then carries on.
 */
const run = browserAvailable();

describe.skipIf(!run)('dashboard in Chromium', () => {
  let browser: BrowserContextFactory;
  let closeBrowser: () => Promise<void>;

  beforeAll(async () => {
    dashboardBuilt();
    ({ browser, close: closeBrowser } = await launchBrowser());
  });
  afterAll(() => closeBrowser?.());

  it('every page works without console errors, on a desktop and on a phone-sized screen', async () => {
    const httpPort = await freePort();
    const server = await spawnServer(['--http-port', String(httpPort), '--node-id', 'e2e-pages']);
    const url = `http://127.0.0.1:${httpPort}/`;
    try {
      // Something for the Sensors and Files pages to show: readings (and an alert) and a stored file.
      const now = Date.now();
      const readings = Array.from({ length: 120 }, (_, i) => ({
        metric: i % 2 === 0 ? 'temperature' : 'humidity',
        value: i % 2 === 0 ? 20 + Math.sin(i / 10) : 40 + Math.cos(i / 12) * 5,
        ts: now - (120 - i) * 2000,
        unit: i % 2 === 0 ? '°C' : '%',
      }));
      await postJson(`${url}api/telemetry/sensors/greenhouse-1/readings`, {
        readings,
        location: 'north wing',
      });
      await postJson(`${url}api/telemetry/addAlert`, { rule: 'temperature > 0' });
      await postJson(`${url}api/telemetry/sensors/greenhouse-1/readings`, {
        metric: 'temperature',
        value: 20.5,
      });
      const form = new FormData();
      form.append('file', new Blob(['a stored file\n'], { type: 'text/plain' }), 'notes.txt');
      expect((await fetch(`${url}api/files`, { method: 'POST', body: form })).status).toBe(201);

      for (const [device, options] of [
        ['desktop', { viewport: { width: 1280, height: 800 } }],
        [
          'phone',
          { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
        ],
      ] as const) {
        const context = await browser.newContext(options);
        const page = await context.newPage();
        const problems = watchConsole(page);

        await page.goto(`${url}#/node`);
        await expect.poll(() => page.textContent('[data-testid=status]')).toBe('connected to e2e-pages');
        await expect.poll(() => page.getAttribute('.node-page', 'data-updated-at')).not.toBeNull();
        expect(await page.textContent('[data-testid=node-name]')).toBe('e2e-pages');
        // This page's own WebSocket is one of the node's connections.
        expect(Number(await page.textContent('[data-transport=ws]'))).toBeGreaterThanOrEqual(1);
        await fitsScreen(page);
        await screenshot(page, `node-${device}`);

        await page.click('[data-testid=nav-calc]');
        await page.fill('[data-testid=calc-input]', 'x = 0.1 + 0.2');
        await page.press('[data-testid=calc-input]', 'Enter');
        await page.fill('[data-testid=calc-input]', 'x * 10');
        await page.click('[data-testid=calc-submit]');
        await expect
          .poll(() => page.locator('[data-testid=calc-value]').allTextContents())
          .toEqual(['3', 'x = 0.3']);
        await page.fill('[data-testid=calc-input]', '2*(3+');
        await page.press('[data-testid=calc-input]', 'Enter');
        await expect.poll(() => page.textContent('[data-testid=calc-error]')).toMatch(/\(CALC_SYNTAX\)$/);
        await fitsScreen(page);
        await screenshot(page, `calculator-${device}`);

        await page.click('[data-testid=nav-chat]');
        await page.fill('[data-testid=chat-room]', `room-${device}`);
        await page.fill('[data-testid=chat-nick]', 'tester');
        await page.click('[data-testid=chat-join]');
        await page.fill('[data-testid=chat-text]', `hello from a ${device}`);
        await page.press('[data-testid=chat-text]', 'Enter');
        await expect
          .poll(() => page.locator('li.msg .text').allTextContents())
          .toEqual([`hello from a ${device}`]);
        await fitsScreen(page);
        await screenshot(page, `chat-${device}`);

        await page.click('[data-testid=nav-sensors]');
        await expect.poll(() => page.locator('.sensor-row').count()).toBe(1);
        expect(await page.textContent('.sensor-row')).toContain('north wing');
        await expect
          .poll(() => page.getAttribute('[data-testid=chart-temperature]', 'data-points'))
          .not.toBeNull();
        expect(
          Number(await page.getAttribute('[data-testid=chart-temperature]', 'data-points')),
        ).toBeGreaterThan(10);
        await expect.poll(() => page.locator('[data-testid=alerts-firing] li.firing').count()).toBe(1);
        await page.click('[data-range="1h"]');
        await expect
          .poll(() => page.getAttribute('[data-testid=chart-temperature]', 'data-every'))
          .toBe('15000');
        await fitsScreen(page);
        await screenshot(page, `sensors-${device}`);

        await page.click('[data-testid=nav-files]');
        await expect.poll(() => page.locator('tr[data-name="notes.txt"]').count()).toBe(1);
        await fitsScreen(page);
        await screenshot(page, `files-${device}`);

        expect(problems).toEqual([]);
        await context.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('two browsers and a terminal client chat in one room; each sees every message, in the same order', async () => {
    const httpPort = await freePort();
    const server = await spawnServer(['--http-port', String(httpPort), '--chat-history', '50']);
    const url = `http://127.0.0.1:${httpPort}/#/chat`;
    const cli = startCliChat(server.port, 'carl');
    try {
      const pages: Page[] = [];
      const problems: string[][] = [];
      for (const nick of ['ana', 'bob']) {
        const context = await browser.newContext();
        const page = await context.newPage();
        problems.push(watchConsole(page));
        await page.goto(url);
        await page.fill('[data-testid=chat-room]', 'lobby');
        await page.fill('[data-testid=chat-nick]', nick);
        await page.click('[data-testid=chat-join]');
        await page.waitForSelector('[data-testid=chat-text]', { state: 'visible' });
        pages.push(page);
      }
      await cli.waitFor((e) => e.type === 'joined');
      for (const page of pages) {
        await expect
          .poll(() =>
            page
              .locator('[data-testid=chat-members] li')
              .allTextContents()
              .then((n) => n.sort()),
          )
          .toEqual(['ana', 'bob', 'carl']);
      }

      // Everyone talks at once: three senders, four messages each, nobody waits for the others.
      const say = (page: Page, text: string) =>
        page.fill('[data-testid=chat-text]', text).then(() => page.press('[data-testid=chat-text]', 'Enter'));
      const expected = 12;
      await Promise.all([
        (async () => {
          for (let i = 1; i <= 4; i++) await say(pages[0]!, `ana ${i}`);
        })(),
        (async () => {
          for (let i = 1; i <= 4; i++) await say(pages[1]!, `bob ${i}`);
        })(),
        (async () => {
          for (let i = 1; i <= 4; i++) cli.say(`carl ${i}`);
        })(),
      ]);

      const browserView = (page: Page) =>
        page.$$eval('[data-testid=chat-messages] li.msg', (items) =>
          items.map(
            (li) => `${li.querySelector('b')?.textContent}: ${li.querySelector('.text')?.textContent}`,
          ),
        );
      await expect.poll(() => browserView(pages[0]!)).toHaveLength(expected);
      await expect.poll(() => browserView(pages[1]!)).toHaveLength(expected);
      await expect.poll(() => cli.messages().length).toBe(expected);
      const viewA = await browserView(pages[0]!);
      const viewB = await browserView(pages[1]!);
      const viewCli = cli.messages();
      // One order for everybody: the room's.
      expect(viewB).toEqual(viewA);
      expect(viewCli).toEqual(viewA);
      // And each sender's messages in the order they were sent.
      for (const who of ['ana', 'bob', 'carl']) {
        expect(viewA.filter((m) => m.startsWith(`${who}:`))).toEqual(
          [1, 2, 3, 4].map((i) => `${who}: ${who} ${i}`),
        );
      }
      await screenshot(pages[0]!, 'chat-three-people');
      for (const p of problems) expect(p).toEqual([]);
    } finally {
      cli.stop();
      await server.stop();
    }
  });

  it('shows "reconnecting" while the server restarts, then resumes live updates (and the chat) by itself', async () => {
    const httpPort = await freePort();
    const dataDir = tempDataDir();
    const args = ['--http-port', String(httpPort), '--data-dir', dataDir, '--node-id', 'restart-node'];
    let server: ServerProcess = await spawnServer(args);
    const context = await browser.newContext();
    const nodePage = await context.newPage();
    const chatPage = await context.newPage();
    const nodeProblems = watchConsole(nodePage);
    const chatProblems = watchConsole(chatPage);
    try {
      await nodePage.goto(`http://127.0.0.1:${httpPort}/#/node`);
      await chatPage.goto(`http://127.0.0.1:${httpPort}/#/chat`);
      await chatPage.fill('[data-testid=chat-room]', 'ops');
      await chatPage.fill('[data-testid=chat-nick]', 'dana');
      await chatPage.click('[data-testid=chat-join]');
      await chatPage.fill('[data-testid=chat-text]', 'before the restart');
      await chatPage.press('[data-testid=chat-text]', 'Enter');
      await expect
        .poll(() => chatPage.locator('li.msg .text').allTextContents())
        .toEqual(['before the restart']);

      const updatedAt = () => nodePage.getAttribute('.node-page', 'data-updated-at').then(Number);
      await expect.poll(updatedAt).toBeGreaterThan(0);
      const startedBefore = await nodePage.getAttribute('.node-page', 'data-started-at');
      const firstUpdate = await updatedAt();
      await expect.poll(updatedAt).toBeGreaterThan(firstUpdate); // live: a second snapshot came by itself

      expect(await server.stop('SIGTERM')).toBe(0);
      await expect
        .poll(() => nodePage.getAttribute('[data-testid=status]', 'data-state'))
        .toBe('reconnecting');
      expect(await nodePage.textContent('[data-testid=status]')).toBe('reconnecting…');
      await screenshot(nodePage, 'node-reconnecting');
      await new Promise((r) => setTimeout(r, 1000)); // down for a while: several failed attempts

      server = await spawnServer(args);
      await expect
        .poll(() => nodePage.textContent('[data-testid=status]'), { timeout: 10_000 })
        .toBe('connected to restart-node');
      // The page is fed by the new process (another start time) and keeps updating without a reload.
      await expect.poll(() => nodePage.getAttribute('.node-page', 'data-started-at')).not.toBe(startedBefore);
      const resumed = await updatedAt();
      await expect.poll(updatedAt, { timeout: 5000 }).toBeGreaterThan(resumed);
      await screenshot(nodePage, 'node-reconnected');

      // The chat page joined again by itself: the history survived the restart, and talking works.
      await expect
        .poll(() => chatPage.textContent('[data-testid=status]'), { timeout: 10_000 })
        .toBe('connected to restart-node');
      await chatPage.fill('[data-testid=chat-text]', 'after the restart');
      await chatPage.press('[data-testid=chat-text]', 'Enter');
      await expect
        .poll(() => chatPage.locator('li.msg .text').allTextContents())
        .toEqual(['before the restart', 'after the restart']);

      // While the node was down the browser itself logs each refused WebSocket attempt; nothing else may appear.
      const unexpected = [...nodeProblems, ...chatProblems].filter(
        (p) => !/WebSocket connection to '.*' failed/.test(p),
      );
      expect(unexpected).toEqual([]);
    } finally {
      await context.close();
      await server.stop();
    }
  });
});

/** Fails when the page is wider than the screen (a horizontal scrollbar on a phone). */
interface CliChat {
  say(text: string): void;
  waitFor(match: (event: Record<string, unknown>) => boolean): Promise<void>;
  /** `nick: text` of every message event so far. */
  messages(): string[];
  stop(): void;
}

/** `nexo chat lobby --nick <nick> --json` as a person would run it in a terminal, over TCP. */
function startCliChat(port: number, nick: string): CliChat {
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'chat', 'lobby', '--nick', nick, '--json', '-p', String(port)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const events: Record<string, unknown>[] = [];
  let buffer = '';
  let errors = '';
  child.stdout!.on('data', (chunk) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      events.push(JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>);
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
  });
  child.stderr!.on('data', (chunk) => {
    errors += chunk;
  });
  return {
    say: (text) => child.stdin!.write(`${text}\n`),
    async waitFor(match) {
      await expect.poll(() => events.some(match), { message: `nexo chat stderr: ${errors}` }).toBe(true);
    },
    messages: () => events.filter((e) => e.type === 'message').map((e) => `${e.nick}: ${e.text}`),
    stop: () => {
      child.stdin!.end();
      child.kill();
    },
  };
}
