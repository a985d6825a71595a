import { type FileEntry, NexoError, type UploadResult } from '../../../src/client/browser.js';
import { formatBytes, formatDuration, h, replace } from '../dom.js';
import type { Page } from './page.js';

const RESUME_KEY = 'nexo.uploads';
const PAGE_SIZE = 50;
/** How often the list is refreshed while the page is open (others may upload too). */
const REFRESH_MS = 5000;

/** Upload ids saved per file (name, size, last modified), so dropping the same file after a reload resumes. */
type SavedUploads = Record<string, { uploadId: string; at: number }>;

/**
 * Files: drop files (or pick them) to upload over /ws with the client library's chunked, CRC-checked,
 * resumable upload, hashed in the page as it goes; a progress bar with bytes, rate and time left per file.
 * A lost connection is resumed from the node's offset by itself (the header shows the reconnection); the same
 * file dropped after a reload resumes too. The list downloads through the HTTP route (the browser saves the
 * file) and deletes when the role allows (the node's error is shown otherwise).
 */
export const filesPage: Page = {
  id: 'files',
  title: 'Files',
  service: 'files',
  mount(root, connection) {
    const client = connection.client;
    const picker = h('input', {
      type: 'file',
      multiple: true,
      class: 'visually-hidden',
      'data-testid': 'file-input',
      'aria-label': 'choose files to upload',
    });
    const drop = h(
      'div',
      { class: 'dropzone', 'data-testid': 'dropzone', tabindex: 0, role: 'button' },
      h('p', {}, h('b', {}, 'Drop files here'), ' or ', h('span', { class: 'link' }, 'choose files')),
      h('p', { class: 'muted small' }, 'Any size; resumed after a lost connection; verified by SHA-256.'),
      picker,
    );
    const uploads = h('ul', { class: 'uploads', 'data-testid': 'uploads' });
    const summary = h('p', { class: 'muted small', 'data-testid': 'files-summary' });
    const rows = h('tbody', { 'data-testid': 'file-rows' });
    const more = h('button', { type: 'button', hidden: true, 'data-testid': 'files-more' }, 'Show more');
    const listError = h('p', { class: 'error', role: 'alert', 'data-testid': 'files-error' });
    replace(
      root,
      h(
        'div',
        { class: 'files-page' },
        h('h2', {}, 'Files'),
        drop,
        uploads,
        h(
          'section',
          { class: 'card' },
          h('div', { class: 'chart-head' }, h('h3', {}, 'Stored files'), summary),
          listError,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'files-table' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  h('th', {}, 'Name'),
                  h('th', { class: 'num' }, 'Size'),
                  h('th', { class: 'hide-narrow' }, 'Uploaded'),
                  h('th', {}, ''),
                ),
              ),
              rows,
            ),
          ),
          more,
        ),
      ),
    );

    // ---- list ----

    let shown = PAGE_SIZE;
    let stopped = false;
    const refresh = async () => {
      if (connection.status !== 'open') return;
      try {
        const [page, usage] = await Promise.all([client.files.list({ limit: shown }), client.files.usage()]);
        if (stopped) return;
        listError.textContent = '';
        replace(rows, ...page.files.map(fileRow));
        if (page.files.length === 0) {
          replace(rows, h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No files yet.')));
        }
        more.hidden = page.total <= page.files.length;
        summary.textContent =
          `${page.total} file${page.total === 1 ? '' : 's'}, ${formatBytes(usage.storedBytes)} stored` +
          (usage.quota > 0 ? ` of ${formatBytes(usage.quota)}` : '');
        root.dataset.listedAt = String(Date.now());
      } catch (error) {
        if (!stopped) listError.textContent = describe(error);
      }
    };
    more.addEventListener('click', () => {
      shown += PAGE_SIZE;
      void refresh();
    });

    const fileRow = (f: FileEntry): HTMLElement => {
      const remove = h(
        'button',
        { type: 'button', class: 'small danger', 'data-testid': 'file-delete' },
        'Delete',
      );
      const status = h('span', { class: 'error small', role: 'alert' });
      let armed = false;
      remove.addEventListener('click', async () => {
        // Two steps instead of a dialog: click, then confirm.
        if (!armed) {
          armed = true;
          remove.textContent = 'Really delete?';
          setTimeout(() => {
            armed = false;
            remove.textContent = 'Delete';
          }, 4000);
          return;
        }
        remove.disabled = true;
        try {
          await client.files.remove({ id: f.id });
          await refresh();
        } catch (error) {
          status.textContent = describe(error);
          remove.disabled = false;
          remove.textContent = 'Delete';
          armed = false;
        }
      });
      return h(
        'tr',
        { 'data-file-id': f.id, 'data-name': f.name },
        h(
          'td',
          { class: 'name' },
          h('span', { class: 'file-name' }, f.name),
          h('span', { class: 'muted small' }, ` ${f.type}`),
          h('br', {}),
          h('code', { class: 'muted small hash', title: 'SHA-256' }, f.sha256.slice(0, 16), '…'),
          ' ',
          status,
        ),
        h('td', { class: 'num' }, formatBytes(f.size)),
        h('td', { class: 'hide-narrow muted small' }, new Date(f.uploadedAt).toLocaleString()),
        h(
          'td',
          { class: 'actions' },
          // The HTTP route: the browser saves the file itself, with its name, and can resume it.
          h(
            'a',
            {
              href: `/api/files/${encodeURIComponent(f.id)}/content`,
              download: f.name,
              class: 'button small',
              'data-testid': 'file-download',
            },
            'Download',
          ),
          remove,
        ),
      );
    };

    // ---- uploads ----

    const start = (files: readonly File[]) => {
      for (const file of files) void upload(file);
    };

    const upload = async (file: File) => {
      const bar = h('progress', { max: Math.max(1, file.size), value: 0, 'data-testid': 'upload-progress' });
      const figures = h('span', { class: 'muted small', 'data-testid': 'upload-figures' }, 'starting…');
      const state = h('span', { class: 'state small', 'data-testid': 'upload-state' }, 'starting');
      const cancel = h('button', { type: 'button', class: 'small' }, 'Cancel');
      const item = h(
        'li',
        { class: 'upload', 'data-name': file.name },
        h('div', { class: 'upload-head' }, h('b', { class: 'file-name' }, file.name), state, cancel),
        bar,
        figures,
      );
      uploads.prepend(item);
      const controller = new AbortController();
      cancel.addEventListener('click', () => controller.abort());
      const key = `${file.name}|${file.size}|${file.lastModified}`;
      const saved = loadUploads()[key];
      const meter = new RateMeter();
      let resumedFrom = 0;
      const setState = (text: string, kind: string) => {
        state.textContent = text;
        item.dataset.state = kind;
      };
      setState(saved === undefined ? 'uploading' : 'resuming', 'uploading');
      try {
        const result: UploadResult = await client.files.uploadBlob(file, {
          ...(saved === undefined ? {} : { uploadId: saved.uploadId }),
          signal: controller.signal,
          onStart: (s) => {
            resumedFrom = s.offset;
            saveUpload(key, s.uploadId);
            if (s.offset > 0) setState(`resuming from ${formatBytes(s.offset)}`, 'uploading');
            else setState('uploading', 'uploading');
          },
          onProgress: (p) => {
            bar.value = p.bytes;
            item.dataset.bytes = String(p.bytes);
            const rate = meter.add(p.bytes);
            const left = rate > 0 ? ((p.size - p.bytes) / rate) * 1000 : Number.NaN;
            figures.textContent =
              `${formatBytes(p.bytes)} of ${formatBytes(p.size)} · ${formatBytes(rate)}/s` +
              (Number.isFinite(left) && p.bytes < p.size ? ` · ${formatDuration(left)} left` : '');
          },
          onRetry: (error) => {
            meter.reset();
            setState(`connection lost (${(error as NexoError).code ?? 'error'}); resuming…`, 'retrying');
          },
        });
        forgetUpload(key);
        bar.value = bar.max;
        cancel.remove();
        item.dataset.fileId = result.id;
        item.dataset.sha256 = result.sha256;
        setState(
          result.resumedFrom > 0 || resumedFrom > 0
            ? `done (resumed from ${formatBytes(Math.max(result.resumedFrom, resumedFrom))})`
            : result.deduplicated
              ? 'done (already stored)'
              : 'done',
          'done',
        );
        figures.textContent = `${formatBytes(file.size)} · SHA-256 ${result.sha256.slice(0, 16)}…`;
        await refresh();
      } catch (error) {
        const code = (error as NexoError).code;
        if (code === 'FILES_UPLOAD_NOT_FOUND' || code === 'FILES_HASH_MISMATCH') forgetUpload(key);
        setState(
          code === 'CANCELLED' ? 'cancelled (drop the file again to resume)' : describe(error),
          'failed',
        );
        cancel.remove();
      }
    };

    picker.addEventListener('change', () => {
      start(Array.from(picker.files ?? []));
      picker.value = '';
    });
    drop.addEventListener('click', (event) => {
      if (event.target !== picker) picker.click();
    });
    drop.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        picker.click();
      }
    });
    drop.addEventListener('dragover', (event) => {
      event.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      start(Array.from(event.dataTransfer?.files ?? []));
    });

    const offStatus = connection.onConnect(() => void refresh());
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => {
      stopped = true;
      offStatus();
      clearInterval(timer);
    };
  },
};

/** Bytes per second over the last few seconds of progress. */
class RateMeter {
  #samples: { at: number; bytes: number }[] = [];

  add(bytes: number): number {
    const now = performance.now();
    this.#samples.push({ at: now, bytes });
    while (this.#samples.length > 2 && now - this.#samples[0]!.at > 3000) this.#samples.shift();
    const first = this.#samples[0]!;
    const seconds = (now - first.at) / 1000;
    return seconds > 0.2 ? (bytes - first.bytes) / seconds : 0;
  }

  reset(): void {
    this.#samples = [];
  }
}

function describe(error: unknown): string {
  if (error instanceof NexoError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

function loadUploads(): SavedUploads {
  try {
    return JSON.parse(localStorage.getItem(RESUME_KEY) ?? '{}') as SavedUploads;
  } catch {
    return {};
  }
}

function saveUpload(key: string, uploadId: string): void {
  try {
    const all = loadUploads();
    all[key] = { uploadId, at: Date.now() };
    // Unfinished uploads expire on the node after a day: older ids are no use.
    for (const [k, v] of Object.entries(all)) if (Date.now() - v.at > 86_400_000) delete all[k];
    localStorage.setItem(RESUME_KEY, JSON.stringify(all));
  } catch {
    // no storage: resuming after a reload is not possible, the rest works
  }
}

function forgetUpload(key: string): void {
  try {
    const all = loadUploads();
    delete all[key];
    localStorage.setItem(RESUME_KEY, JSON.stringify(all));
  } catch {
    // see saveUpload
  }
}
