import type { NodeStats } from '../../../src/client/browser.js';
import { formatBytes, formatDuration, h, replace } from '../dom.js';
import { keepSubscribed } from '../live.js';
import type { Page } from './page.js';

/**
 * Which node this is and how it is doing, live (node.watch, one snapshot a second): uptime, requests and
 * connections, the telemetry ingest rate and file transfer rates (services' counters as rates), and every
 * service's own numbers.
 */
export const nodePage: Page = {
  id: 'node',
  title: 'Node',
  service: 'node',
  mount(root, connection) {
    const name = h('span', { 'data-testid': 'node-name' }, '…');
    const uptime = h('span', { 'data-testid': 'uptime' }, '…');
    const rate = h('span', { 'data-testid': 'requests-rate' }, '…');
    const total = h('span', { 'data-testid': 'requests-total' }, '…');
    const errors = h('span', {}, '…');
    const bytes = h('span', {}, '…');
    const connections = h('dl', { class: 'pairs', 'data-testid': 'connections' });
    const ingest = h('span', { 'data-testid': 'ingest-rate' }, '…');
    const ingestDetail = h('p', { class: 'muted', 'data-testid': 'ingest-detail' }, '…');
    const uploadRate = h('span', { 'data-testid': 'upload-rate' }, '…');
    const downloadRate = h('span', { 'data-testid': 'download-rate' }, '…');
    const transferDetail = h('p', { class: 'muted', 'data-testid': 'transfer-detail' }, '…');
    const services = h('div', { class: 'services' });
    const updated = h('p', { class: 'muted', 'data-testid': 'updated' }, 'waiting for the first update…');
    const card = (title: string, ...body: (Node | string)[]) =>
      h('section', { class: 'card' }, h('h3', {}, title), ...body);
    const page = h(
      'div',
      { class: 'node-page' },
      h('h2', {}, 'Node ', name),
      h(
        'div',
        { class: 'grid' },
        card('Uptime', h('p', { class: 'big' }, uptime)),
        card(
          'Requests per second',
          h('p', { class: 'big' }, rate),
          h('p', { class: 'muted' }, total, ' in total'),
        ),
        card('Open connections', connections),
        card('Traffic', h('p', {}, bytes), h('p', { class: 'muted' }, errors, ' errors')),
        card('Ingest (readings per second)', h('p', { class: 'big' }, ingest), ingestDetail),
        card(
          'File transfers',
          h('p', { class: 'transfer' }, '↑ ', uploadRate, h('span', { class: 'muted' }, ' in')),
          h('p', { class: 'transfer' }, '↓ ', downloadRate, h('span', { class: 'muted' }, ' out')),
          transferDetail,
        ),
      ),
      services,
      updated,
    );
    replace(root, page);

    let last: NodeStats | undefined;
    const show = (s: NodeStats) => {
      last = s;
      page.dataset.updatedAt = String(s.at);
      page.dataset.startedAt = String(s.startedAt);
      name.textContent = s.node;
      rate.textContent = s.requests.perSecond.toFixed(1);
      total.textContent = String(s.requests.total);
      errors.textContent = String(s.errors);
      bytes.textContent = `${formatBytes(s.bytesIn)} in, ${formatBytes(s.bytesOut)} out`;
      replace(
        connections,
        ...Object.entries(s.connections).flatMap(([k, v]) => [
          h('dt', {}, k === 'total' ? 'total' : k),
          h('dd', { 'data-transport': k }, String(v)),
        ]),
      );
      const telemetry = s.services.telemetry;
      ingest.textContent = telemetry === undefined ? 'off' : (telemetry.rates.readings ?? 0).toFixed(1);
      ingestDetail.textContent =
        telemetry === undefined
          ? 'the telemetry service does not run here'
          : `${telemetry.gauges.sensors ?? 0} sensors, ${telemetry.counters.readings ?? 0} readings stored since start, ${telemetry.gauges.watchers ?? 0} watching`;
      const files = s.services.files;
      uploadRate.textContent =
        files === undefined ? 'off' : `${formatBytes(files.rates.receivedBytes ?? 0)}/s`;
      downloadRate.textContent = files === undefined ? 'off' : `${formatBytes(files.rates.sentBytes ?? 0)}/s`;
      transferDetail.textContent =
        files === undefined
          ? 'the files service does not run here'
          : `${files.gauges.uploading ?? 0} uploading now; ${files.counters.uploads ?? 0} uploads, ${files.counters.downloads ?? 0} downloads since start`;
      replace(
        services,
        ...Object.entries(s.services).map(([service, numbers]) => serviceCard(service, numbers)),
      );
      tick();
    };
    const tick = () => {
      if (last === undefined) return;
      uptime.textContent = formatDuration(last.uptimeMs + (Date.now() - last.at));
      const age = Math.max(0, Math.round((Date.now() - last.at) / 1000));
      updated.textContent =
        connection.status === 'open' ? `live · updated ${age}s ago` : `last update ${age}s ago`;
    };
    const timer = setInterval(tick, 1000);
    const offStatus = connection.onChange(tick); // "live" turns into "last update …" at once when the link drops
    const stop = keepSubscribed(connection, () => connection.client.node.watch(show, { intervalMs: 1000 }));
    return () => {
      clearInterval(timer);
      offStatus();
      stop();
    };
  },
};

/** One service's numbers: rates of its counters (telemetry's readings: the ingest rate), then its gauges. */
function serviceCard(
  service: string,
  numbers: {
    counters: Record<string, number>;
    rates: Record<string, number>;
    gauges: Record<string, number>;
  },
): HTMLElement {
  // Counters of bytes read as bytes per second; the others as numbers per second.
  const rows = [
    ...Object.entries(numbers.gauges).map(([k, v]) => [words(k), String(v)] as const),
    ...Object.entries(numbers.rates).map(([k, v]) =>
      /Bytes$/.test(k)
        ? ([`${words(k.replace(/Bytes$/, ''))} per second`, `${formatBytes(v)}/s`] as const)
        : ([`${words(k)} per second`, v.toFixed(1)] as const),
    ),
  ];
  return h(
    'section',
    { class: 'card', 'data-service': service },
    h('h3', {}, service),
    h('dl', { class: 'pairs' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
  );
}

/** `directMessages` → `direct messages`: counter names as a person reads them. */
function words(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}
