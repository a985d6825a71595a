import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrowserContextFactory,
  browserAvailable,
  dashboardBuilt,
  fitsScreen,
  launchBrowser,
  SCREENS,
  screenshot,
  watchConsole,
} from '../helpers/browser.js';
import { dropNatsCluster, enginesMissing } from '../helpers/engines.js';
import { freePort, spawnServer } from '../helpers/node.js';
import { type SharedNodes, spawnSharedNodes } from '../helpers/shared-nodes.js';

/**
 * The dashboard's Cluster page in headless Chromium against real `nexo server` processes: two nodes in
 * cluster mode on the machine's PostgreSQL and NATS (a schema and --cluster name of this test's own), the
 * page open on node 1 lists both live; node 2 is killed (-9) and leaves the page by itself, at desktop and
 * phone size. A node outside a cluster lists itself alone and says so.
 */
const run = browserAvailable();
const missing = run ? await enginesMissing() : 'no browser';

const DEVICES = Object.entries(SCREENS);

/** What the page shows: each member card's id, state and fields. */
function members(page: Page) {
  return page.$$eval('[data-testid=cluster-members] li.member', (items) =>
    items.map((li) => ({
      id: li.getAttribute('data-member'),
      state: li.getAttribute('data-state'),
      self: li.querySelector('[data-testid=member-self]') !== null,
      fields: Object.fromEntries(
        Array.from(li.querySelectorAll('dd')).map((dd) => [dd.getAttribute('data-field'), dd.textContent]),
      ),
    })),
  );
}

describe.skipIf(!run)('dashboard Cluster page in Chromium', { timeout: 120_000 }, () => {
  let browser: BrowserContextFactory;
  let closeBrowser: () => Promise<void>;
  let cluster: SharedNodes | undefined;

  beforeAll(async () => {
    dashboardBuilt();
    ({ browser, close: closeBrowser } = await launchBrowser());
  });
  afterAll(() => closeBrowser?.());
  afterEach(async () => {
    if (cluster === undefined) return;
    await cluster.close();
    await dropNatsCluster(cluster.cluster);
    cluster = undefined;
  });

  it.skipIf(missing)('shows both nodes of a cluster live, and a killed node leaves the page', async () => {
    const httpPorts = new Map<string, number>();
    cluster = await spawnSharedNodes(2, 'nxdash', async (id) => {
      const port = await freePort();
      httpPorts.set(id, port);
      return ['--http-port', String(port)];
    });
    const [n1, n2] = cluster.nodes as [NonNullable<SharedNodes['nodes'][0]>, SharedNodes['nodes'][0]];
    const url = `http://127.0.0.1:${httpPorts.get('node-1')}/#/cluster`;

    const pages: [string, Page, string[]][] = [];
    for (const [device, options] of DEVICES) {
      const context = await browser.newContext(options);
      const page = await context.newPage();
      const problems = watchConsole(page);
      await page.goto(url);
      await expect.poll(() => page.textContent('[data-testid=status]')).toBe('connected to node-1');
      await expect
        .poll(() => members(page).then((list) => list.map((m) => `${m.id} ${m.state}`)), { timeout: 15_000 })
        .toEqual(['node-1 ready', 'node-2 ready']);
      const [first, second] = await members(page);
      expect(first).toMatchObject({
        self: true,
        fields: {
          address: '127.0.0.1',
          ports: `tcp ${n1.port} · http ${httpPorts.get('node-1')} · udp ${n1.port}`,
          version: '0.1.0',
        },
      });
      expect(second).toMatchObject({
        self: false,
        fields: { ports: `tcp ${n2!.port} · http ${httpPorts.get('node-2')} · udp ${n2!.port}` },
      });
      // node-1's own connections include this page's WebSocket.
      expect(Number(first!.fields.connections)).toBeGreaterThanOrEqual(1);
      expect(await page.textContent('[data-testid=cluster-mode]')).toBe(
        `Cluster ${cluster.cluster}: 2 nodes, as node node-1 reads the membership.`,
      );
      await expect.poll(() => page.textContent('[data-testid=cluster-updated]')).toMatch(/^live · updated/);
      await fitsScreen(page);
      await screenshot(page, `cluster-${device}`);
      pages.push([device, page, problems]);
    }

    const killedAt = Date.now();
    await n2!.stop('SIGKILL');
    for (const [device, page] of pages) {
      // Membership drops a silent node within 3 s (§9.N.1); generous here for a loaded machine.
      await expect
        .poll(() => members(page).then((list) => list.map((m) => m.id)), { timeout: 20_000, interval: 200 })
        .toEqual(['node-1']);
      console.log(`cluster page (${device}): node-2 gone ${Date.now() - killedAt} ms after kill -9`);
      expect(await page.textContent('[data-testid=cluster-mode]')).toMatch(/: 1 node, as node node-1/);
      await fitsScreen(page);
      await screenshot(page, `cluster-after-kill-${device}`);
    }
    for (const [, page, problems] of pages) {
      expect(problems).toEqual([]);
      await page.context().close();
    }
  });

  it('outside a cluster, lists the node alone and says so', async () => {
    const httpPort = await freePort();
    const server = await spawnServer(['--http-port', String(httpPort), '--node-id', 'solo']);
    try {
      const context = await browser.newContext(SCREENS.phone);
      const page = await context.newPage();
      const problems = watchConsole(page);
      await page.goto(`http://127.0.0.1:${httpPort}/#/cluster`);
      await expect
        .poll(() => members(page).then((list) => list.map((m) => `${m.id} ${m.state} ${m.self}`)))
        .toEqual(['solo ready true']);
      expect(await page.textContent('[data-testid=cluster-mode]')).toMatch(
        /^Single-node mode: node solo is not part of a cluster/,
      );
      const response = await fetch(`http://127.0.0.1:${httpPort}/api/cluster/members`);
      expect(await response.json()).toMatchObject({ cluster: null, self: 'solo', members: [{ id: 'solo' }] });
      await fitsScreen(page);
      await screenshot(page, 'cluster-single-phone');
      expect(problems).toEqual([]);
      await context.close();
    } finally {
      await server.stop();
    }
  });
});
