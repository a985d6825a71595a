import './style.css';
import { type Connection, openConnection } from './connection.js';
import { h, replace } from './dom.js';
import { PAGES } from './pages/index.js';
import type { Page } from './pages/page.js';

/**
 * The app shell: header with the node's name and the connection status, a menu of pages, and the page
 * itself (hash routes: #/node, #/chat, #/calc). The status shows "reconnecting…" while the node is away and
 * returns to "connected" by itself.
 */
const connection = openConnection();
const app = document.getElementById('app')!;
const status = h('span', { class: 'status', role: 'status', 'data-testid': 'status' });
const nav = h('nav', { 'aria-label': 'pages' });
const main = h('main', {});
replace(app, h('header', {}, h('a', { class: 'brand', href: '#/node' }, 'nexo'), status), nav, main);

const STATUS_TEXT: Record<Connection['status'], string> = {
  connecting: 'connecting…',
  open: 'connected',
  reconnecting: 'reconnecting…',
  offline: 'offline',
};

connection.onChange(() => {
  status.dataset.state = connection.status;
  const node = connection.node;
  status.textContent =
    connection.status === 'open' && node !== undefined
      ? `connected to ${node}`
      : STATUS_TEXT[connection.status];
  document.title = node === undefined ? 'nexo' : `nexo · ${node}`;
  renderNav();
});

let current: { page: Page; unmount: () => void; mounted: boolean } | undefined;

function pageFromHash(): Page {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.find((p) => p.id === id) ?? PAGES[0]!;
}

function renderNav(): void {
  const active = pageFromHash();
  replace(
    nav,
    ...PAGES.map((page) =>
      h(
        'a',
        {
          href: `#/${page.id}`,
          'aria-current': page === active ? 'page' : undefined,
          'data-testid': `nav-${page.id}`,
        },
        page.title,
      ),
    ),
  );
  // The node's services are known once connected: a page built before that may need its notice instead.
  if (current?.mounted && connection.status === 'open' && !runs(current.page)) route();
}

function runs(page: Page): boolean {
  return page.service === undefined || connection.status !== 'open' || connection.services.has(page.service);
}

function route(): void {
  const page = pageFromHash();
  current?.unmount();
  const root = h('div', { class: 'page', 'data-page': page.id });
  replace(main, root);
  if (runs(page)) {
    current = { page, unmount: page.mount(root, connection), mounted: true };
  } else {
    replace(
      root,
      h('h2', {}, page.title),
      h(
        'p',
        { class: 'muted' },
        `The ${page.service} service does not run on node ${connection.node ?? '?'}.`,
      ),
    );
    current = { page, unmount: () => {}, mounted: false };
  }
  renderNav();
}

window.addEventListener('hashchange', route);
route();
