/**
 * The dashboard's layout, measured in headless Chromium on what is actually drawn: uPlot paints axes and
 * lines on a canvas, so the chart checks read its pixels (ink = alpha above a threshold) in the regions the
 * plot's overlay (`.u-over`) leaves for the axes. Each check is one bug a person saw:
 * - y-axis labels clipped at the chart's left edge (".013.25" for 1013.25 hPa): ink in the first column;
 * - x-axis labels running into each other ("12/3/26 7:57am7:58am"): fewer separate labels than ticks;
 * - the legend reading "--" until hovered (a phone never hovers);
 * - the 7-day range of a new sensor showing one dot: the line covers little of the plot's width;
 * - the navigation cut off at "Calcu" on a phone, with no sign that it scrolled: a link outside the screen.
 * Screenshots go to test-results/screenshots (not kept in the repository).
 */
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrowserContextFactory,
  browserAvailable,
  dashboardBuilt,
  launchBrowser,
  screenshot,
  watchConsole,
} from '../helpers/browser.js';
import { postJson } from '../helpers/http.js';
import { freePort, type ServerProcess, spawnServer } from '../helpers/node.js';

const run = browserAvailable();

const DEVICES = [
  ['desktop', { viewport: { width: 1280, height: 800 } }],
  ['phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
  [
    'small-phone',
    { viewport: { width: 320, height: 640 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  ],
] as const;

/** What the canvas of one chart shows, in CSS pixels. */
interface ChartInk {
  width: number;
  yTicks: number;
  yLabels: number;
  yLabelsAtLeftEdge: boolean;
  xTicks: number;
  xLabels: number;
  xLabelsAtEdges: boolean;
  /** Horizontal extent of the average line (accent-coloured, opaque pixels) as a share of the plot. */
  lineShare: number;
}

/** Reads the chart's canvas in the page. Runs of ink closer than `gap` CSS px count as one. */
function measureChart(chart: Locator): Promise<ChartInk> {
  return chart.evaluate((element) => {
    const canvas = element.querySelector('canvas')!;
    const over = element.querySelector('.u-over')!.getBoundingClientRect();
    const box = canvas.getBoundingClientRect();
    const dpr = canvas.width / box.width;
    const W = canvas.width;
    const H = canvas.height;
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, W, H).data;
    const alpha = (x: number, y: number) => pixels[(y * W + x) * 4 + 3]!;
    const plot = {
      left: Math.round((over.left - box.left) * dpr),
      right: Math.round((over.right - box.left) * dpr),
      top: Math.round((over.top - box.top) * dpr),
      bottom: Math.round((over.bottom - box.top) * dpr),
    };
    const tick = Math.round(10 * dpr); // uPlot's default tick length
    /** Inked lines (columns or rows) of a region, then the number of runs separated by more than `gap`. */
    const runs = (inked: boolean[], gap: number) => {
      let count = 0;
      let lastInk = Number.NEGATIVE_INFINITY;
      inked.forEach((on, i) => {
        if (!on) return;
        if (i - lastInk > gap * dpr) count++;
        lastInk = i;
      });
      return count;
    };
    const region = (x0: number, x1: number, y0: number, y1: number, by: 'column' | 'row') => {
      const size = by === 'column' ? x1 - x0 : y1 - y0;
      const inked = new Array<boolean>(Math.max(0, size)).fill(false);
      for (let y = Math.max(0, y0); y < Math.min(H, y1); y++) {
        for (let x = Math.max(0, x0); x < Math.min(W, x1); x++) {
          if (alpha(x, y) > 60) inked[by === 'column' ? x - x0 : y - y0] = true;
        }
      }
      return inked;
    };
    // y axis: labels left of the ticks, down to the x axis's tick band (the lowest label is centred on the
    // plot's bottom edge; the x labels start below that band); ticks in the band just left of the plot.
    const yLabelColumns = region(0, plot.left - tick - 1, 0, plot.bottom + tick, 'column');
    const yLabelRows = region(0, plot.left - tick - 1, 0, plot.bottom + tick, 'row');
    const yTickRows = region(plot.left - tick + 2, plot.left - 2, 0, plot.bottom + 1, 'row');
    // x axis: ticks in the band under the plot, labels below them (all the canvas's width).
    const xTickColumns = region(
      plot.left - 1,
      plot.right + 1,
      plot.bottom + 2,
      plot.bottom + tick - 2,
      'column',
    );
    const xLabelColumns = region(0, W, plot.bottom + tick + 1, H, 'column');
    // The average line: opaque pixels of the accent colour (the min/max band is the same colour, faint).
    const accent =
      getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2457c5';
    const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(accent.slice(i, i + 2), 16));
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (let y = plot.top; y < plot.bottom; y++) {
      for (let x = plot.left; x < plot.right; x++) {
        const i = (y * W + x) * 4;
        const near =
          Math.abs(pixels[i]! - r!) + Math.abs(pixels[i + 1]! - g!) + Math.abs(pixels[i + 2]! - b!) < 90;
        if (near && pixels[i + 3]! > 150) {
          first = Math.min(first, x);
          last = Math.max(last, x);
        }
      }
    }
    return {
      width: box.width,
      yTicks: runs(yTickRows, 3),
      yLabels: runs(yLabelRows, 3),
      yLabelsAtLeftEdge: yLabelColumns.slice(0, Math.ceil(dpr)).some(Boolean),
      xTicks: runs(xTickColumns, 3),
      xLabels: runs(xLabelColumns, 6),
      xLabelsAtEdges: [
        ...xLabelColumns.slice(0, Math.ceil(dpr)),
        ...xLabelColumns.slice(-Math.ceil(dpr)),
      ].some(Boolean),
      lineShare: last >= first ? (last - first + 1) / (plot.right - plot.left) : 0,
    };
  });
}

/** Waits for the chart of `metric` to have drawn data after the last range or sensor change. */
async function chartDrawn(page: Page, metric: string, since: number): Promise<Locator> {
  const chart = page.locator(`[data-testid=chart-${metric}]`);
  await expect.poll(() => chart.getAttribute('data-drawn-at').then(Number)).toBeGreaterThan(since);
  await page.waitForTimeout(100); // the frame after the draw: uPlot paints on the next animation frame
  return chart;
}

describe.skipIf(!run)('dashboard layout in Chromium', () => {
  let browser: BrowserContextFactory;
  let closeBrowser: () => Promise<void>;
  let server: ServerProcess;
  let url: string;

  beforeAll(async () => {
    dashboardBuilt();
    ({ browser, close: closeBrowser } = await launchBrowser());
    const httpPort = await freePort();
    server = await spawnServer(['--http-port', String(httpPort), '--node-id', 'layout']);
    url = `http://127.0.0.1:${httpPort}/`;
    const now = Date.now();
    // A barometer: values whose tick labels are wide (1013.25, in steps of 0.25), four minutes of them.
    await postJson(`${url}api/telemetry/sensors/boiler/readings`, {
      readings: Array.from({ length: 120 }, (_, i) => ({
        metric: 'pressure',
        value: 1013.3 + Math.sin(i / 9) * 0.45,
        ts: now - (120 - i) * 2000,
        unit: 'hPa',
      })),
    });
    // A sensor that began two minutes ago: in the 7-day range it has data in one 30-minute bucket.
    await postJson(`${url}api/telemetry/sensors/fresh/readings`, {
      readings: Array.from({ length: 40 }, (_, i) => ({
        metric: 'humidity',
        value: 40 + (i % 7) * 0.5,
        ts: now - (40 - i) * 3000,
        unit: '%',
      })),
    });
  });

  afterAll(async () => {
    await closeBrowser?.();
    await server?.stop();
  });

  for (const [device, options] of DEVICES) {
    it(`${device}: every page's link is on the screen, nothing scrolls sideways`, async () => {
      const context = await browser.newContext(options);
      const page = await context.newPage();
      await page.goto(`${url}#/sensors`);
      await expect.poll(() => page.textContent('[data-testid=status]')).toBe('connected to layout');
      const links = await page.$$eval('nav a', (anchors) =>
        anchors.map((a) => {
          const r = a.getBoundingClientRect();
          const nav = a.parentElement!;
          return {
            text: a.textContent,
            left: r.left,
            right: r.right,
            screen: window.innerWidth,
            navScrolls: nav.scrollWidth > nav.clientWidth,
          };
        }),
      );
      expect(links.map((l) => l.text)).toEqual(['Node', 'Cluster', 'Sensors', 'Files', 'Chat', 'Calculator']);
      for (const link of links) {
        expect(link.left, `${link.text} starts off the screen`).toBeGreaterThanOrEqual(0);
        expect(link.right, `${link.text} is cut off at the screen's edge`).toBeLessThanOrEqual(link.screen);
        expect(link.navScrolls, 'the navigation scrolls (part of it hidden)').toBe(false);
      }
      await screenshot(page, `layout-nav-${device}`);
      await context.close();
    });

    it(`${device}: chart axes are readable, the legend shows values, a new sensor's week is a line`, async () => {
      const context = await browser.newContext(options);
      const page = await context.newPage();
      const problems = watchConsole(page);
      await page.goto(`${url}#/sensors`);
      await expect.poll(() => page.locator('.sensor-row').count()).toBe(2);

      let since = Date.now();
      await page.click('[data-sensor=boiler]');
      await page.click('[data-range="5m"]');
      const pressure = await chartDrawn(page, 'pressure', since);
      const ink = await measureChart(pressure);
      expect.soft(ink.yTicks, JSON.stringify(ink)).toBeGreaterThanOrEqual(2);
      expect.soft(ink.yLabelsAtLeftEdge, 'a y-axis label is cut at the chart edge').toBe(false);
      expect.soft(ink.yLabels, 'y-axis labels run together').toBe(ink.yTicks);
      expect.soft(ink.xTicks, JSON.stringify(ink)).toBeGreaterThanOrEqual(2);
      expect.soft(ink.xLabels, `x-axis labels run together: ${JSON.stringify(ink)}`).toBe(ink.xTicks);
      expect.soft(ink.xLabelsAtEdges, 'an x-axis label is cut at the chart edge').toBe(false);
      // Not hovered: the legend shows the newest bucket, not "--".
      const legend = await pressure.locator('.u-legend .u-value').allTextContents();
      expect(legend).toHaveLength(4);
      for (const value of legend) expect.soft(value, `legend: ${legend.join(' | ')}`).toMatch(/\d/);
      expect.soft(legend[1]).toMatch(/^101[23]\.\d+ hPa$/);
      await screenshot(page, `layout-chart-${device}`);

      since = Date.now();
      await page.click('[data-sensor=fresh]');
      await page.click('[data-range="7d"]');
      const humidity = await chartDrawn(page, 'humidity', since);
      expect
        .soft(await humidity.getAttribute('data-since'), 'the chart does not start at the data')
        .not.toBeNull();
      expect.soft(Number(await humidity.getAttribute('data-points'))).toBeGreaterThan(10);
      const week = await measureChart(humidity);
      expect
        .soft(week.lineShare, `the line covers ${(week.lineShare * 100).toFixed(0)}% of the plot`)
        .toBeGreaterThan(0.6);
      expect.soft(week.xLabels, `x-axis labels run together: ${JSON.stringify(week)}`).toBe(week.xTicks);
      expect
        .soft(await page.textContent('[data-testid=chart-note]'))
        .toMatch(/nothing stored before .*starts there/);
      await screenshot(page, `layout-new-sensor-week-${device}`);
      expect(problems).toEqual([]);
      await context.close();
    });
  }
});
