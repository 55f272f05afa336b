import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Site } from '../../src/site.js';
import { File } from '../../src/static/file.js';
import {
  LISTING_CSP,
  ListingCache,
  directoryVersion,
  entryHref,
  formatSize,
  iconFor,
  renderListing,
  sortEntries,
  type ListingEntry,
} from '../../src/static/listing.js';
import { errorPageHtml } from '../../src/pages.js';
import { serveSite, tempDir } from '../helpers/server.js';

const E = (name: string, isDirectory: boolean, size = 0, mtimeMs = 0, type = 'text/plain'): ListingEntry => ({
  name,
  isDirectory,
  size,
  mtimeMs,
  type,
});

test('entryHref prefixes ./ and percent-encodes the whole name', () => {
  assert.equal(entryHref('a b.txt', false), './a%20b.txt');
  assert.equal(entryHref('javascript:x', false), './javascript%3Ax');
  assert.equal(entryHref('#?%', false), './%23%3F%25');
  assert.equal(entryHref('dir', true), './dir/');
});

test('formatSize uses binary units', () => {
  assert.deepEqual([0, 1023, 1024, 1536, 10 * 1024 * 1024, 5 * 1024 ** 3].map(formatSize), [
    '0 B',
    '1023 B',
    '1.0 KiB',
    '1.5 KiB',
    '10 MiB',
    '5.0 GiB',
  ]);
});

test('sortEntries puts directories first and sorts by the key, names as tie-breaker', () => {
  const entries = [
    E('b.txt', false, 5, 2),
    E('z', true),
    E('a.txt', false, 50, 1),
    E('A', true),
    E('file10', false, 5, 3),
    E('file9', false, 5, 3),
  ];
  assert.deepEqual(
    sortEntries(entries).map((e) => e.name),
    ['A', 'z', 'a.txt', 'b.txt', 'file9', 'file10'],
  );
  assert.deepEqual(
    sortEntries(entries, 'size', true).map((e) => e.name),
    ['z', 'A', 'a.txt', 'file10', 'file9', 'b.txt'],
  );
  assert.deepEqual(
    sortEntries(entries, 'modified').map((e) => e.name),
    ['A', 'z', 'a.txt', 'b.txt', 'file9', 'file10'],
  );
});

test('renderListing escapes names and the title, and links with ./', () => {
  const html = renderListing([E('<x>&"\'.txt', false, 3)], { path: '/<p>/', parent: true });
  assert.ok(html.includes('<title>Index of /&lt;p&gt;/</title>'));
  assert.ok(html.includes('href="./%3Cx%3E%26%22\'.txt"') || html.includes('href="./%3Cx%3E%26%22&#39;.txt"'));
  assert.ok(html.includes('>&lt;x&gt;&amp;&quot;&#39;.txt</a>'));
  assert.ok(html.includes('href="../"'));
  assert.ok(!/<x>/.test(html));
});

test('iconFor picks an icon by Content-Type', () => {
  const cases: Array<[string, string]> = [
    ['text/html; charset=utf-8', 'code'],
    ['text/javascript', 'code'],
    ['application/json', 'code'],
    ['image/svg+xml', 'code'],
    ['image/png', 'image'],
    ['video/mp4', 'media'],
    ['audio/mpeg', 'media'],
    ['application/gzip', 'archive'],
    ['application/zip', 'archive'],
    ['application/pdf', 'doc'],
    ['text/plain; charset=utf-8', 'text'],
    ['text/markdown', 'text'],
    ['application/octet-stream', 'file'],
  ];
  for (const [type, icon] of cases) assert.equal(iconFor({ isDirectory: false, type }), icon, type);
  assert.equal(iconFor({ isDirectory: true, type: '' }), 'dir');
});

test('renderListing: breadcrumbs link each ancestor relatively, escaped; the filter box is hidden until its script runs', () => {
  const html = renderListing([E('a.txt', false)], { path: '/docs/<b>/', parent: true });
  assert.ok(html.includes('<nav><a href="../../">/</a><a href="../">docs</a><span>&lt;b&gt;</span></nav>'), html);
  assert.match(html, /<input id="filter" type="search"[^>]* hidden>/);
  assert.match(html, /<a class="text" href=".\/a.txt">a.txt<\/a>/);
});

test("LISTING_CSP allows only the page's own style and script, by hash, and data: icons", () => {
  assert.match(
    LISTING_CSP,
    /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; script-src 'sha256-[A-Za-z0-9+/=]+'; img-src data:;/,
  );
  assert.ok(!LISTING_CSP.includes('unsafe-inline'));
});

test('errorPageHtml escapes the brief and detail and keeps the CODE - brief title', () => {
  const html = errorPageHtml(404, 'Not <Found>', 'no "x" & <y>');
  assert.match(html, /<title>404 - Not &lt;Found&gt;<\/title>/);
  assert.ok(html.includes('<p>no &quot;x&quot; &amp; &lt;y&gt;</p>'));
  assert.match(html, /name="viewport"/);
});

test('ListingCache keeps a page per key for one version, for at most maxAgeMs, bounded in entries and size', () => {
  const cache = new ListingCache({ maxEntries: 2, maxPageBytes: 10, maxAgeMs: 1000 });
  const page = Buffer.from('page');
  cache.set('a', 'v1', page, 0);
  assert.equal(cache.get('a', 'v1', 500), page);
  assert.equal(cache.get('a', 'v2', 500), null, 'another version misses');
  cache.set('a', 'v1', page, 0);
  assert.equal(cache.get('a', 'v1', 1001), null, 'too old');
  cache.set('a', 'v', page, 0);
  cache.set('b', 'v', page, 0);
  cache.set('c', 'v', page, 0);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('a', 'v', 0), null, 'the oldest went first');
  cache.set('big', 'v', Buffer.alloc(11), 0);
  assert.equal(cache.get('big', 'v', 0), null, 'too large to keep');
});

test('a listing is served from the cache until its directory changes, then shows the change', async () => {
  const dir = tempDir('trellis-listing-cache-');
  mkdirSync(join(dir.path, 'sub'));
  writeFileSync(join(dir.path, 'sub', 'one.txt'), '1');
  const server = await serveSite(new Site(new File(dir.path)));
  try {
    const get = async (path = '/sub/') => (await fetch(server.base + path)).text();
    const first = await get();
    assert.ok(first.includes('one.txt'));
    assert.equal(await get(), first);
    const before = directoryVersion(statSync(join(dir.path, 'sub')));
    writeFileSync(join(dir.path, 'sub', 'two.txt'), '2');
    assert.notEqual(directoryVersion(statSync(join(dir.path, 'sub'))), before);
    assert.ok((await get()).includes('two.txt'), 'a new entry shows at once');
    assert.ok((await get('/sub/?sort=size&order=desc')).includes('Size ↓'), 'sort orders are kept apart');
  } finally {
    await server.close();
    dir.cleanup();
  }
});

test('ListingCache.getOrRender: requests arriving together share one render; a failed render is not kept', async () => {
  const cache = new ListingCache();
  let renders = 0;
  const render = async () => {
    renders++;
    await new Promise((r) => setTimeout(r, 10));
    return Buffer.from(`page ${renders}`);
  };
  const pages = await Promise.all(Array.from({ length: 20 }, () => cache.getOrRender('k', 'v1', render)));
  assert.equal(renders, 1);
  assert.ok(pages.every((p) => p.toString() === 'page 1'));
  assert.equal((await cache.getOrRender('k', 'v1', render)).toString(), 'page 1', 'kept');
  assert.equal((await cache.getOrRender('k', 'v2', render)).toString(), 'page 2', 'a new version renders again');
  await assert.rejects(Promise.resolve(cache.getOrRender('bad', 'v', () => Promise.reject(new Error('gone')))), /gone/);
  assert.equal((await cache.getOrRender('bad', 'v', render)).toString(), 'page 3');
});
