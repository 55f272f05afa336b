// Directory listings: a pure page renderer (escaped names, sizes, dates, types, directories first,
// sortable by links) and the DirectoryLister resource that reads a directory for it (SECURITY.md §1.4).
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { escapeHtml } from '../internal/escape.js';
import { PAGE_STYLE } from '../pages.js';
import { Resource, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';
import { isHiddenName, isSafeSegment, type HiddenPolicy } from './path-safety.js';

/** One row of a listing. */
export interface ListingEntry {
  name: string;
  isDirectory: boolean;
  /** Bytes; ignored for directories. */
  size: number;
  mtimeMs: number;
  /** Content-Type for files (`text/plain; charset=utf-8`); ignored for directories. */
  type: string;
}

/** A column the listing can be sorted by (`?sort=`). */
export type ListingSortKey = 'name' | 'size' | 'modified' | 'type';

/** What the page shows and how it is ordered. */
export interface ListingOptions {
  /** The decoded request path, shown as the title (`/docs/`). */
  path: string;
  /** Whether to offer a link to the parent directory. */
  parent: boolean;
  sort?: ListingSortKey;
  descending?: boolean;
}

/** `1.5 KiB`-style size. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[i]}`;
}

function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** The `href` of an entry: `./` plus the percent-encoded name, so odd names (`a:b`, `#x`, `?y`) stay one relative segment. */
export function entryHref(name: string, isDirectory: boolean): string {
  return `./${encodeURIComponent(name)}${isDirectory ? '/' : ''}`;
}

let collator: Intl.Collator | null = null;
/** Created on first use: building a Collator loads ICU data, which would slow every start-up (`trellis cgi`). */
const COLLATOR = {
  compare: (a: string, b: string): number =>
    (collator ??= new Intl.Collator('en', { numeric: true, sensitivity: 'base' })).compare(a, b),
};

/** Directories first, then the chosen key (name by default), with name as the tie-breaker. */
export function sortEntries(
  entries: readonly ListingEntry[],
  sort: ListingSortKey = 'name',
  descending = false,
): ListingEntry[] {
  const dir = descending ? -1 : 1;
  const byKey = (a: ListingEntry, b: ListingEntry): number => {
    switch (sort) {
      case 'size':
        return a.size - b.size;
      case 'modified':
        return a.mtimeMs - b.mtimeMs;
      case 'type':
        return COLLATOR.compare(a.type, b.type);
      case 'name':
        return 0;
    }
  };
  return [...entries].sort((a, b) => {
    if (a.isDirectory !== b.isDirectory) return a.isDirectory ? -1 : 1;
    return dir * (byKey(a, b) || COLLATOR.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  });
}

/** The file-type icon classes a row can carry (each a small inline SVG in the page's style). */
export type ListingIcon = 'dir' | 'up' | 'image' | 'media' | 'code' | 'text' | 'archive' | 'doc' | 'file';

const CODE_TYPES =
  /^(text\/(html|css|javascript|x-|xml)|application\/(javascript|json|xml|typescript|x-sh|x-httpd|wasm|x-python|toml|yaml|x-yaml)|image\/svg)/;
const ARCHIVE_TYPES =
  /^application\/(zip|gzip|x-gzip|x-tar|x-7z|x-bzip2|x-xz|zstd|x-rar|vnd\.rar|java-archive|x-apple-diskimage|vnd\.debian)/;
const DOC_TYPES = /^application\/(pdf|msword|vnd\.(openxmlformats|oasis|ms-))/;

/** The icon for an entry, from its Content-Type. */
export function iconFor(entry: Pick<ListingEntry, 'isDirectory' | 'type'>): ListingIcon {
  if (entry.isDirectory) return 'dir';
  const type = entry.type;
  if (CODE_TYPES.test(type)) return 'code';
  if (type.startsWith('image/')) return 'image';
  if (type.startsWith('audio/') || type.startsWith('video/')) return 'media';
  if (ARCHIVE_TYPES.test(type)) return 'archive';
  if (DOC_TYPES.test(type)) return 'doc';
  if (type.startsWith('text/')) return 'text';
  return 'file';
}

/** 16 px outline icons (SVG path data), drawn in the link colour's grey. */
const ICON_PATHS: Record<ListingIcon, string> = {
  dir: 'M1.5 3.5h5l1.5 1.5h6.5v8.5h-13z',
  up: 'M8 13V3M3.5 7.5 8 3l4.5 4.5',
  file: 'M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3',
  text: 'M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3M5.5 8h5M5.5 10.5h5M5.5 6h2',
  code: 'M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3M6.5 7.5 5 9.5l1.5 2M9.5 7.5 11 9.5l-1.5 2',
  image: 'M1.5 2.5h13v11h-13zM1.5 11l4-4 3.5 3.5 2-2 3.5 3.5M10.5 6.5h.01',
  media: 'M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3M6.5 7.5v4.5l3.5-2.25z',
  archive: 'M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3M7.5 2v1.5M7.5 4.5v1.5M7.5 7v1.5M6.5 9.5h2v2.5h-2z',
  doc: 'M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3M5.5 8.5h5M5.5 11h3',
};

function iconCss(): string {
  return Object.entries(ICON_PATHS)
    .map(([name, d]) => {
      const colour = name === 'dir' || name === 'up' ? '#5f8fd6' : '#8a8f98';
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16" fill="none" stroke="${colour}" stroke-linejoin="round" stroke-linecap="round"><path d="${d}"/></svg>`;
      return `a.${name}{background-image:url("data:image/svg+xml,${encodeURIComponent(svg).replace(/'/g, '%27')}")}`;
    })
    .join('');
}

/** The listing's own style on top of the shared page look; narrow screens drop the Type column and the time. */
const STYLE =
  PAGE_STYLE +
  'table{border-collapse:collapse;width:100%;table-layout:auto}th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid var(--line);vertical-align:top}' +
  'th{font-weight:600;white-space:nowrap}th a{color:inherit}td.n{overflow-wrap:anywhere;word-break:break-word;width:100%}' +
  'td.n a{display:block;padding-left:22px;background-repeat:no-repeat;background-position:0 .2em;background-size:16px 16px;min-height:1.2em}' +
  '.s{text-align:right;white-space:nowrap}td.m{white-space:nowrap}td.t{color:var(--mute);white-space:nowrap}tr:hover td{background:var(--hover)}' +
  'tr.d td.n a{font-weight:600}nav a+a::before,nav span::before{content:"/";color:var(--mute);padding:0 .15em}' +
  '#filter{font:inherit;width:100%;max-width:24em;padding:.35em .6em;margin:0 0 .8em;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}' +
  '@media (max-width:600px){.t{display:none}td.m span{display:none}th,td{padding:.35em .3em}body{padding:1em .6em}}' +
  iconCss();

/** Hides the rows whose name does not contain what is typed in the filter box; `/` focuses the box. */
const SCRIPT =
  '(()=>{const f=document.getElementById("filter"),c=document.getElementById("shown");' +
  'const rows=[...document.querySelectorAll("tbody tr:not(.p)")].map(r=>[r,r.querySelector("a").textContent.toLowerCase()]);' +
  'f.hidden=false;f.addEventListener("input",()=>{const q=f.value.trim().toLowerCase();let n=0;' +
  'for(const [r,name] of rows){const ok=!q||name.includes(q);r.hidden=!ok;if(ok)n++}' +
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the filter script is JavaScript source
  'c.textContent=q?` (${n} shown)`:""});' +
  'document.addEventListener("keydown",e=>{if(e.key==="/"&&document.activeElement!==f){e.preventDefault();f.focus()}})})();';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Sent with every generated listing: nothing may load; only the page's own style and filter script
 * (by hash) and `data:` icons apply (SECURITY.md §1.4).
 */
export const LISTING_CSP = `default-src 'none'; style-src ${sha256(STYLE)}; script-src ${sha256(SCRIPT)}; img-src data:; base-uri 'none'; form-action 'none'`;

/** Breadcrumbs for `/a/b/`: `/` and `a` link to `../../` and `../`, the last segment is plain text. */
function breadcrumbs(path: string): string {
  const segments = path.split('/').filter(Boolean);
  const parts = [`<a href="${segments.length ? '../'.repeat(segments.length) : './'}">/</a>`];
  segments.forEach((segment, i) => {
    const up = segments.length - 1 - i;
    parts.push(
      up === 0 ? `<span>${escapeHtml(segment)}</span>` : `<a href="${'../'.repeat(up)}">${escapeHtml(segment)}</a>`,
    );
  });
  return parts.join('');
}

/**
 * The listing page: every name HTML-escaped, every link `./`-prefixed and percent-encoded,
 * directories first, a type icon per row, breadcrumbs. Column headers link to the same page sorted by
 * that column; the filter box (shown only where its script runs) hides rows as one types. Works
 * without JavaScript; the CSP ({@link LISTING_CSP}) allows only this page's own style and script.
 */
export function renderListing(entries: readonly ListingEntry[], options: ListingOptions): string {
  const sort = options.sort ?? 'name';
  const descending = options.descending ?? false;
  const header = (key: ListingSortKey, label: string, cls = '') => {
    const nextDesc = key === sort ? !descending : false;
    const mark = key === sort ? (descending ? ' ↓' : ' ↑') : '';
    return `<th${cls}><a href="?sort=${key}&amp;order=${nextDesc ? 'desc' : 'asc'}">${label}${mark}</a></th>`;
  };
  const rows: string[] = [];
  if (options.parent)
    rows.push(
      '<tr class="d p"><td class="n"><a class="up" href="../">../</a></td><td class="s"></td><td class="m"></td><td class="t">Parent directory</td></tr>',
    );
  let files = 0;
  let dirs = 0;
  for (const e of sortEntries(entries, sort, descending)) {
    const href = escapeHtml(entryHref(e.name, e.isDirectory));
    const text = escapeHtml(e.name) + (e.isDirectory ? '/' : '');
    if (e.isDirectory) dirs++;
    else files++;
    const date = formatDate(e.mtimeMs);
    rows.push(
      `<tr${e.isDirectory ? ' class="d"' : ''}><td class="n"><a class="${iconFor(e)}" href="${href}">${text}</a></td>` +
        `<td class="s"${e.isDirectory ? '' : ` title="${e.size} bytes"`}>${e.isDirectory ? '—' : formatSize(e.size)}</td>` +
        `<td class="m">${date.slice(0, 10)}<span>${date.slice(10)}</span></td><td class="t">${e.isDirectory ? 'Directory' : escapeHtml(e.type.split(';')[0]!)}</td></tr>`,
    );
  }
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Index of ${escapeHtml(options.path)}</title><style>${STYLE}</style></head>
<body><h1>Index of <nav>${breadcrumbs(options.path)}</nav></h1>
<input id="filter" type="search" placeholder="Filter (press /)" aria-label="Filter names" autocomplete="off" hidden>
<table><thead><tr>${header('name', 'Name')}${header('size', 'Size', ' class="s"')}${header('modified', 'Modified', ' class="m"')}${header('type', 'Type', ' class="t"')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
<footer>${dirs} director${dirs === 1 ? 'y' : 'ies'}, ${files} file${files === 1 ? '' : 's'}<span id="shown"></span></footer>
<script>${SCRIPT}</script>
</body></html>
`;
}

/** What a DirectoryLister needs from the File that created it. */
export interface ListingSource {
  /** Absolute path of the directory. */
  path: string;
  hidden: HiddenPolicy;
  /** Content-Type for a file name. */
  typeFor(name: string): string;
  /** Whether an entry may be shown (symlink policy); given its absolute path. */
  allowed(path: string): boolean;
  /** The directory's stat, just taken: with `cache`, the version a rendered page is kept for. */
  stat?: Stats;
  /** Where rendered pages are kept; none renders every time. */
  cache?: ListingCache | null;
}

const SORT_KEYS = new Set<ListingSortKey>(['name', 'size', 'modified', 'type']);

/** A directory's version: its inode, size, mtime and ctime, which change when an entry is added, removed or renamed. */
export function directoryVersion(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** Options of {@link ListingCache}. */
export interface ListingCacheOptions {
  /** Pages kept (least recently used go first). Default 256. */
  maxEntries?: number;
  /** Largest page kept, in bytes. Default 1 MiB. */
  maxPageBytes?: number;
  /**
   * How long a page is reused, in ms, even when its directory is unchanged: a file changed in place
   * (new size or date) leaves the directory's version alone, so its row is at most this old. Default 1000.
   */
  maxAgeMs?: number;
}

/**
 * Rendered listings, one per directory, display path and sort order, reused while the directory's
 * version ({@link directoryVersion}) is unchanged and the page is younger than `maxAgeMs`. Bounded in
 * entries and page size, so memory stays bounded however many directories are listed.
 */
export class ListingCache {
  readonly #pages = new Map<string, { version: string; at: number; body: Buffer }>();
  /** Renders under way, so that requests arriving together for a stale page share one. */
  readonly #rendering = new Map<string, { version: string; body: Promise<Buffer> }>();
  readonly #maxEntries: number;
  readonly #maxPageBytes: number;
  readonly #maxAgeMs: number;

  constructor(options: ListingCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 256;
    this.#maxPageBytes = options.maxPageBytes ?? 1024 * 1024;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
  }

  /** The page kept under `key` for this `version`, or null. */
  get(key: string, version: string, now = Date.now()): Buffer | null {
    const page = this.#pages.get(key);
    if (!page) return null;
    if (page.version !== version || now - page.at > this.#maxAgeMs) {
      this.#pages.delete(key);
      return null;
    }
    return page.body;
  }

  /** Keeps `body` under `key` for `version` (unless it is too large), dropping the least recently stored page when full. */
  set(key: string, version: string, body: Buffer, now = Date.now()): void {
    if (body.length > this.#maxPageBytes) return;
    this.#pages.delete(key);
    if (this.#pages.size >= this.#maxEntries) this.#pages.delete(this.#pages.keys().next().value!);
    this.#pages.set(key, { version, at: now, body });
  }

  /**
   * The page for `key` at `version`: the one kept, the one being rendered, or a new one from
   * `render` (kept once done). Concurrent requests for a missing page share one render.
   */
  getOrRender(key: string, version: string, render: () => Promise<Buffer>): Buffer | Promise<Buffer> {
    const kept = this.get(key, version);
    if (kept) return kept;
    const pending = this.#rendering.get(key);
    if (pending && pending.version === version) return pending.body;
    const body = render().then(
      (page) => {
        if (this.#rendering.get(key)?.body === body) this.#rendering.delete(key);
        this.set(key, version, page);
        return page;
      },
      (err: unknown) => {
        if (this.#rendering.get(key)?.body === body) this.#rendering.delete(key);
        throw err;
      },
    );
    this.#rendering.set(key, { version, body });
    return body;
  }

  /** Pages kept now. */
  get size(): number {
    return this.#pages.size;
  }
}

/** Reads the entries of a directory a listing may show, each stat'ed. */
async function readEntries(src: ListingSource): Promise<ListingEntry[]> {
  let names: string[];
  try {
    names = await readdir(src.path);
  } catch {
    names = [];
  }
  const entries: ListingEntry[] = [];
  await Promise.all(
    names
      .filter((name) => isSafeSegment(name) && !isHiddenName(name, src.hidden))
      .map(async (name) => {
        const full = join(src.path, name);
        try {
          const st = await stat(full);
          if (!st.isFile() && !st.isDirectory()) return;
          if (!src.allowed(full)) return;
          entries.push({
            name,
            isDirectory: st.isDirectory(),
            size: st.size,
            mtimeMs: st.mtimeMs,
            type: st.isDirectory() ? '' : src.typeFor(name),
          });
        } catch {
          // Vanished or unreadable: leave it out.
        }
      }),
  );
  return entries;
}

/**
 * Renders the listing of a directory. Hidden names (dotfiles, backups), names no request could
 * reach (a backslash inside), and entries the symlink policy refuses are left out; entries whose stat
 * fails are skipped. Sent as `text/html; charset=utf-8` with `X-Content-Type-Options: nosniff` and
 * {@link LISTING_CSP}. With a {@link ListingCache} and the directory's stat, a page rendered for the
 * same directory version, path and order is sent again without reading the directory.
 */
export class DirectoryLister extends Resource {
  override isLeaf = true;
  readonly source: ListingSource;

  constructor(source: ListingSource) {
    super();
    this.source = source;
  }

  override GET(request: Request): RenderResult {
    const src = this.source;
    const sortArg = request.arg('sort') as ListingSortKey | undefined;
    const sort = sortArg && SORT_KEYS.has(sortArg) ? sortArg : 'name';
    const descending = request.arg('order') === 'desc';
    const decodedPath = `/${request.prepath.join('/')}`;
    const parent = request.prepath.length > 1;
    request.setHeader('Content-Type', 'text/html; charset=utf-8');
    request.setHeader('X-Content-Type-Options', 'nosniff');
    request.setHeader('Content-Security-Policy', LISTING_CSP);
    request.setHeader('Cache-Control', 'no-cache');
    const render = () =>
      readEntries(src).then((entries) =>
        Buffer.from(renderListing(entries, { path: decodedPath, parent, sort, descending })),
      );
    if (!src.cache || !src.stat) return render();
    const key = `${src.path}\0${decodedPath}\0${sort}\0${descending ? 'd' : 'a'}\0${parent ? 'p' : ''}`;
    return src.cache.getOrRender(key, directoryVersion(src.stat), render);
  }
}
