import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entryHref, formatSize, renderListing, sortEntries, type ListingEntry } from '../../src/static/listing.js';

const E = (name: string, isDirectory: boolean, size = 0, mtimeMs = 0, type = 'text/plain'): ListingEntry => ({ name, isDirectory, size, mtimeMs, type });

test('entryHref prefixes ./ and percent-encodes the whole name', () => {
  assert.equal(entryHref('a b.txt', false), './a%20b.txt');
  assert.equal(entryHref('javascript:x', false), './javascript%3Ax');
  assert.equal(entryHref('#?%', false), './%23%3F%25');
  assert.equal(entryHref('dir', true), './dir/');
});

test('formatSize uses binary units', () => {
  assert.deepEqual([0, 1023, 1024, 1536, 10 * 1024 * 1024, 5 * 1024 ** 3].map(formatSize), ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '10 MiB', '5.0 GiB']);
});

test('sortEntries puts directories first and sorts by the key, names as tie-breaker', () => {
  const entries = [E('b.txt', false, 5, 2), E('z', true), E('a.txt', false, 50, 1), E('A', true), E('file10', false, 5, 3), E('file9', false, 5, 3)];
  assert.deepEqual(sortEntries(entries).map((e) => e.name), ['A', 'z', 'a.txt', 'b.txt', 'file9', 'file10']);
  assert.deepEqual(sortEntries(entries, 'size', true).map((e) => e.name), ['z', 'A', 'a.txt', 'file10', 'file9', 'b.txt']);
  assert.deepEqual(sortEntries(entries, 'modified').map((e) => e.name), ['A', 'z', 'a.txt', 'b.txt', 'file9', 'file10']);
});

test('renderListing escapes names and the title, and links with ./', () => {
  const html = renderListing([E('<x>&"\'.txt', false, 3)], { path: '/<p>/', parent: true });
  assert.ok(html.includes('<title>Index of /&lt;p&gt;/</title>'));
  assert.ok(html.includes('href="./%3Cx%3E%26%22\'.txt"') || html.includes('href="./%3Cx%3E%26%22&#39;.txt"'));
  assert.ok(html.includes('>&lt;x&gt;&amp;&quot;&#39;.txt</a>'));
  assert.ok(html.includes('href="../"'));
  assert.ok(!/<x>/.test(html));
});
