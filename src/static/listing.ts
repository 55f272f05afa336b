// Directory listings: a pure page renderer (escaped names, sizes, dates, types, directories first,
// sortable by links) and the DirectoryLister resource that reads a directory for it (SECURITY.md §1.4).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { escapeHtml } from '../internal/escape.js';
import { Resource, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';
import { isHiddenName, isSafeSegment, type HiddenPolicy } from './path-safety.js';

/** Sent with every generated listing: nothing may load or run but the inline style (SECURITY.md §1.4). */
export const LISTING_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

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
  compare: (a: string, b: string): number => (collator ??= new Intl.Collator('en', { numeric: true, sensitivity: 'base' })).compare(a, b),
};

/** Directories first, then the chosen key (name by default), with name as the tie-breaker. */
export function sortEntries(entries: readonly ListingEntry[], sort: ListingSortKey = 'name', descending = false): ListingEntry[] {
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

const STYLE = `body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:64em;padding:0 1em;color:#1b1b1b;background:#fff}
h1{font-size:1.3em;font-weight:600;word-break:break-all}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eee;vertical-align:top}th a{color:inherit}
td.n{word-break:break-all}td.s,th.s{text-align:right;white-space:nowrap}td.m{white-space:nowrap}td.t{color:#666}
tr:hover td{background:#f6f8fa}a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}
.d a{font-weight:600}footer{color:#888;font-size:.85em;margin-top:1em}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#ddd}th,td{border-color:#2a2d33}tr:hover td{background:#1f2329}a{color:#8ab4f8}}`;

/**
 * The listing page: every name HTML-escaped, every link `./`-prefixed and percent-encoded,
 * directories first. Column headers link to the same page sorted by that column.
 */
export function renderListing(entries: readonly ListingEntry[], options: ListingOptions): string {
  const sort = options.sort ?? 'name';
  const descending = options.descending ?? false;
  const title = `Index of ${escapeHtml(options.path)}`;
  const header = (key: ListingSortKey, label: string, cls = '') => {
    const nextDesc = key === sort ? !descending : false;
    const mark = key === sort ? (descending ? ' ↓' : ' ↑') : '';
    return `<th${cls}><a href="?sort=${key}&amp;order=${nextDesc ? 'desc' : 'asc'}">${label}${mark}</a></th>`;
  };
  const rows: string[] = [];
  if (options.parent) rows.push('<tr class="d"><td class="n"><a href="../">../</a></td><td class="s"></td><td class="m"></td><td class="t">Parent directory</td></tr>');
  let files = 0;
  let dirs = 0;
  for (const e of sortEntries(entries, sort, descending)) {
    const href = escapeHtml(entryHref(e.name, e.isDirectory));
    const text = escapeHtml(e.name) + (e.isDirectory ? '/' : '');
    if (e.isDirectory) dirs++;
    else files++;
    rows.push(
      `<tr${e.isDirectory ? ' class="d"' : ''}><td class="n"><a href="${href}">${text}</a></td>` +
        `<td class="s"${e.isDirectory ? '' : ` title="${e.size} bytes"`}>${e.isDirectory ? '—' : formatSize(e.size)}</td>` +
        `<td class="m">${formatDate(e.mtimeMs)}</td><td class="t">${e.isDirectory ? 'Directory' : escapeHtml(e.type.split(';')[0]!)}</td></tr>`,
    );
  }
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title><style>${STYLE}</style></head>
<body><h1>${title}</h1>
<table><thead><tr>${header('name', 'Name')}${header('size', 'Size', ' class="s"')}${header('modified', 'Last modified')}${header('type', 'Type')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
<footer>${dirs} director${dirs === 1 ? 'y' : 'ies'}, ${files} file${files === 1 ? '' : 's'}</footer>
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
}

const SORT_KEYS = new Set<ListingSortKey>(['name', 'size', 'modified', 'type']);

/**
 * Renders the listing of a directory. Hidden names (dotfiles, backups), names no request could
 * reach (a backslash inside), and entries the symlink policy refuses are left out; entries whose stat fails are skipped. Sent as `text/html;
 * charset=utf-8` with `X-Content-Type-Options: nosniff` and a Content-Security-Policy.
 */
export class DirectoryLister extends Resource {
  override isLeaf = true;
  readonly source: ListingSource;

  constructor(source: ListingSource) {
    super();
    this.source = source;
  }

  override async GET(request: Request): Promise<string> {
    const src = this.source;
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
            entries.push({ name, isDirectory: st.isDirectory(), size: st.size, mtimeMs: st.mtimeMs, type: st.isDirectory() ? '' : src.typeFor(name) });
          } catch {
            // Vanished or unreadable: leave it out.
          }
        }),
    );
    const sortArg = request.arg('sort') as ListingSortKey | undefined;
    const decodedPath = '/' + request.prepath.join('/');
    request.setHeader('Content-Type', 'text/html; charset=utf-8');
    request.setHeader('X-Content-Type-Options', 'nosniff');
    request.setHeader('Content-Security-Policy', LISTING_CSP);
    request.setHeader('Cache-Control', 'no-cache');
    return renderListing(entries, {
      path: decodedPath,
      parent: request.prepath.length > 1,
      sort: sortArg && SORT_KEYS.has(sortArg) ? sortArg : 'name',
      descending: request.arg('order') === 'desc',
    });
  }
}
