import type { ClusterMembers, Member } from '../../../src/client/browser.js';
import { formatAgo, formatDuration, h, replace } from '../dom.js';
import type { Page } from './page.js';

/** How often the page asks the node for the membership (the membership itself changes every 500 ms). */
const POLL_MS = 1000;

/**
 * The cluster's live members as the connected node reads them (`node.members`, protocol §9.N), asked again
 * every second over the page's connection: id, state, address and ports, version, uptime and load of each
 * node. A node that dies leaves the list within about 3 s; one that drains shows `draining` first. Outside
 * cluster mode the node shows itself alone and the page says so.
 */
export const clusterPage: Page = {
  id: 'cluster',
  title: 'Cluster',
  service: 'node',
  mount(root, connection) {
    const mode = h('p', { class: 'muted', 'data-testid': 'cluster-mode' }, 'reading the membership…');
    const list = h('ul', { class: 'member-list', 'data-testid': 'cluster-members' });
    const error = h('p', { class: 'error', 'data-testid': 'cluster-error', hidden: true });
    const updated = h(
      'p',
      { class: 'muted', 'data-testid': 'cluster-updated' },
      'waiting for the first answer…',
    );
    const page = h('div', { class: 'cluster-page' }, h('h2', {}, 'Cluster'), mode, error, list, updated);
    replace(root, page);

    let last: { at: number; members: ClusterMembers } | undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const show = (answer: ClusterMembers) => {
      last = { at: Date.now(), members: answer };
      page.dataset.cluster = answer.cluster ?? '';
      page.dataset.count = String(answer.members.length);
      const count = `${answer.members.length} ${answer.members.length === 1 ? 'node' : 'nodes'}`;
      mode.textContent =
        answer.cluster === null
          ? `Single-node mode: node ${answer.self} is not part of a cluster (embedded storage), so it lists itself alone. Nodes started with --storage postgres, --nats and one --cluster name show up here together.`
          : `Cluster ${answer.cluster}: ${count}, as node ${answer.self} reads the membership.`;
      replace(list, ...answer.members.map((m) => memberCard(m, m.id === answer.self)));
      error.hidden = true;
      tick();
    };
    const tick = () => {
      if (last === undefined) return;
      const age = formatAgo(Date.now() - last.at);
      updated.textContent = connection.status === 'open' ? `live · updated ${age}` : `last update ${age}`;
    };
    const poll = async () => {
      timer = undefined;
      if (stopped) return;
      if (connection.status === 'open') {
        try {
          show(await connection.client.node.members({ timeout: 5000 }));
        } catch (err) {
          // The node cannot read the membership now (NATS away) or the link dropped: keep the last list.
          const e = err as { code?: string; message?: string };
          if (!stopped) {
            error.textContent = `cannot read the membership: ${e.message ?? String(err)}${e.code === undefined ? '' : ` (${e.code})`}`;
            error.hidden = false;
          }
        }
      }
      tick();
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    const offStatus = connection.onChange(tick);
    // A reconnection asks at once instead of at the next tick.
    const offConnect = connection.onConnect(() => {
      if (timer === undefined) return;
      clearTimeout(timer);
      void poll();
    });
    return () => {
      stopped = true;
      clearTimeout(timer);
      offStatus();
      offConnect();
    };
  },
};

/** One member: who, in which state, where, and how loaded. */
function memberCard(m: Member, self: boolean): HTMLElement {
  const ports = Object.entries(m.ports)
    .filter(([, port]) => port !== undefined)
    .map(([name, port]) => `${name} ${port}`)
    .join(' · ');
  const rows: [string, string][] = [
    ['address', m.host],
    ['ports', ports],
    ['version', m.version],
    ['uptime', formatDuration(m.uptimeS * 1000)],
    ['connections', String(m.load.connections)],
    ['requests/s', m.load.requestsPerSec.toFixed(1)],
    ['loop delay', `${m.load.eventLoopDelayMs.toFixed(1)} ms`],
  ];
  return h(
    'li',
    { class: 'card member', 'data-member': m.id, 'data-state': m.state },
    h(
      'div',
      { class: 'member-head' },
      h('h3', { class: 'member-id' }, m.id),
      self ? h('span', { class: 'badge', 'data-testid': 'member-self' }, 'this node') : null,
      h('span', { class: 'state', 'data-testid': 'member-state' }, m.state),
    ),
    h(
      'dl',
      { class: 'pairs' },
      ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-field': k }, v)]),
    ),
  );
}
