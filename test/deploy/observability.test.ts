/**
 * deploy/prometheus.yml, deploy/alerts.yml and deploy/grafana-dashboard.json: promtool accepts the config and
 * the rules, `promtool test rules` shows each alert firing when it should and not otherwise, and every query
 * of the dashboard is valid PromQL naming only metrics a node exports.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { startNode } from '../helpers/node.js';
import { program } from '../helpers/programs.js';
import { clientOver, tcp } from '../helpers/transports.js';
import { REPO } from './tools.js';

const PROMTOOL = program('promtool', ['/usr/bin/promtool'], 'prometheus');
const dir = mkdtempSync(path.join(tmpdir(), 'nexo-observability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function promtool(...args: string[]) {
  const r = spawnSync(PROMTOOL!, args, { encoding: 'utf8', timeout: 30_000, cwd: dir });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Panel {
  title: string;
  type: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets: { expr: string; refId: string }[];
}
const dashboard = JSON.parse(readFileSync(path.join(REPO, 'deploy/grafana-dashboard.json'), 'utf8')) as {
  title: string;
  uid: string;
  panels: Panel[];
};
/** The dashboard's queries with Grafana's variables as Prometheus would get them. */
const queries = dashboard.panels.flatMap((p) =>
  p.targets.map((t) => ({
    panel: p.title,
    expr: t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*'),
  })),
);

describe.skipIf(PROMTOOL === undefined)('deploy/ Prometheus files', () => {
  it('promtool check config accepts prometheus.yml (and the rule file it names)', () => {
    const r = promtool('check', 'config', path.join(REPO, 'deploy/prometheus.yml'));
    expect(r.out).toMatch(/SUCCESS: 3 rules found/);
    expect(r.status).toBe(0);
  });

  it('promtool check rules accepts alerts.yml', () => {
    const r = promtool('check', 'rules', path.join(REPO, 'deploy/alerts.yml'));
    expect(r.out).toMatch(/SUCCESS: 3 rules found/);
    expect(r.status).toBe(0);
  });

  it('each alert fires when it should and not otherwise (promtool test rules)', () => {
    const tests = {
      rule_files: [path.join(REPO, 'deploy/alerts.yml')],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // a: went down after 2 minutes. b: up all along.
            { series: 'up{job="nexo",instance="a"}', values: '1 1 0 0 0 0' },
            { series: 'up{job="nexo",instance="b"}', values: '1 1 1 1 1 1' },
          ],
          alert_rule_test: [
            {
              eval_time: '5m',
              alertname: 'NexoNodeDown',
              exp_alerts: [
                ALERT(
                  { job: 'nexo', instance: 'a', severity: 'critical' },
                  {
                    summary: 'nexo node a is down',
                    description: 'Prometheus has not scraped a for a minute.',
                  },
                ),
              ],
            },
            { eval_time: '1m', alertname: 'NexoNodeDown', exp_alerts: [] },
          ],
        },
        {
          interval: '1m',
          input_series: [
            // a: 10 readings a minute for 30 minutes, then none. b: steady. c: never had any.
            {
              series: 'nexo_telemetry_readings_ingested_total{job="nexo",instance="a"}',
              values: '0+10x30 300x20',
            },
            { series: 'nexo_telemetry_readings_ingested_total{job="nexo",instance="b"}', values: '0+10x50' },
            { series: 'nexo_telemetry_readings_ingested_total{job="nexo",instance="c"}', values: '0x50' },
          ],
          alert_rule_test: [
            {
              eval_time: '45m',
              alertname: 'NexoIngestStalled',
              exp_alerts: [
                ALERT(
                  { job: 'nexo', instance: 'a', severity: 'warning' },
                  {
                    summary: 'no telemetry ingested on a for 5 minutes',
                    description: 'Sensors reported there in the last hour; nothing was stored since.',
                  },
                ),
              ],
            },
            { eval_time: '20m', alertname: 'NexoIngestStalled', exp_alerts: [] },
          ],
        },
        {
          interval: '1m',
          input_series: [
            // a: 10 requests/s, 1 error/s (10%). b: 10 requests/s, 0.1 error/s (1%). c: 2 errors in 1 request/min.
            { series: 'nexo_requests_total{job="nexo",instance="a"}', values: '0+600x20' },
            { series: 'nexo_errors_total{job="nexo",instance="a",code="INTERNAL_ERROR"}', values: '0+60x20' },
            { series: 'nexo_requests_total{job="nexo",instance="b"}', values: '0+600x20' },
            { series: 'nexo_errors_total{job="nexo",instance="b",code="INVALID_ARGS"}', values: '0+6x20' },
            { series: 'nexo_requests_total{job="nexo",instance="c"}', values: '0+1x20' },
            { series: 'nexo_errors_total{job="nexo",instance="c",code="INVALID_ARGS"}', values: '0+1x20' },
          ],
          alert_rule_test: [
            {
              eval_time: '15m',
              alertname: 'NexoHighErrorRate',
              exp_alerts: [
                ALERT(
                  { instance: 'a', severity: 'warning' },
                  {
                    summary: 'error rate on a is 10%',
                    description: 'See nexo_errors_total by code for which errors.',
                  },
                ),
              ],
            },
            { eval_time: '3m', alertname: 'NexoHighErrorRate', exp_alerts: [] },
          ],
        },
      ],
    };
    const file = path.join(dir, 'alerts.test.yml');
    writeFileSync(file, JSON.stringify(tests)); // JSON is YAML
    const r = promtool('test', 'rules', file);
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });
});

/** An alert as promtool expects it: its labels (the series' and the rule's) and its annotations. */
function ALERT(labels: Record<string, string>, annotations: Record<string, string>) {
  return { exp_labels: labels, exp_annotations: annotations };
}

describe('deploy/grafana-dashboard.json', () => {
  let node: NexoNode & { port: number };
  let exported = '';
  beforeAll(async () => {
    node = await startNode({ http: { port: 0 } });
    const client = await clientOver(tcp, node);
    await client.request('echo', 'echo', 1);
    await client.telemetry.report('g1', { metric: 'temperature', value: 1 });
    await client.close();
    exported = await node.metrics.text();
  });
  afterAll(() => node?.close({ timeoutMs: 1000 }));

  it('is a dashboard whose panels each have a query, laid out without overlap', () => {
    expect(dashboard.title).toBe('nexo');
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
  });

  it('queries only metrics the node exports', () => {
    const families = new Map<string, string>();
    for (const m of exported.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1]!, m[2]!);
    const named = new Set<string>();
    for (const { expr } of queries) {
      for (const m of expr.matchAll(/\b((?:nexo|process|nodejs)_\w+)/g)) named.add(m[1]!);
    }
    expect(named.size).toBeGreaterThan(10);
    for (const name of named) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      const ok = families.has(name) || (base !== name && families.get(base) === 'histogram');
      expect(ok, `${name} is not in /metrics`).toBe(true);
    }
  });

  it.skipIf(PROMTOOL === undefined)('every query is valid PromQL (promtool, as recording rules)', () => {
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: queries.map((q, i) => ({ record: `dashboard:query${i}`, expr: q.expr })),
        },
      ],
    };
    const file = path.join(dir, 'dashboard-rules.yml');
    writeFileSync(file, JSON.stringify(rules));
    const r = promtool('check', 'rules', file);
    expect(r.out).toMatch(new RegExp(`SUCCESS: ${queries.length} rules found`));
    expect(r.status).toBe(0);
  });
});
