import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { FileCache } from '../../src/static/file-cache.js';
import { tempDir } from '../helpers/server.js';

test('FileCache keeps small files, drops them when the stat changes, and stays within maxBytes', async () => {
  const dir = tempDir();
  try {
    const cache = new FileCache({ maxBytes: 2500, maxFileSize: 1000 });
    const paths = ['a', 'b', 'c', 'big'].map((n) => join(dir.path, n));
    for (const p of paths.slice(0, 3)) writeFileSync(p, Buffer.alloc(1000, p.at(-1)));
    writeFileSync(paths[3]!, Buffer.alloc(5000));
    for (const p of paths) await cache.load(p, statSync(p), () => readFile(p));
    assert.ok(cache.bytes <= 2500, `holds ${cache.bytes}`);
    assert.equal(cache.body(paths[0]!, statSync(paths[0]!)), undefined, 'the least recently used went first');
    assert.ok(cache.body(paths[2]!, statSync(paths[2]!)));
    assert.equal(cache.body(paths[3]!, statSync(paths[3]!)), undefined, 'files over maxFileSize are not kept');
    writeFileSync(paths[2]!, Buffer.alloc(999));
    assert.equal(cache.body(paths[2]!, statSync(paths[2]!)), undefined, 'a changed file is dropped');
  } finally {
    dir.cleanup();
  }
});

test('FileCache compresses a variant once per file version and refuses a file that changed while read', async () => {
  const dir = tempDir();
  try {
    const cache = new FileCache();
    const p = join(dir.path, 'x.txt');
    writeFileSync(p, 'hello '.repeat(1000));
    let reads = 0;
    const read = () => {
      reads++;
      return readFile(p);
    };
    const st = statSync(p);
    const [one, two] = await Promise.all([cache.variant(p, st, 'gzip', read), cache.variant(p, st, 'gzip', read)]);
    assert.equal(reads, 1, 'concurrent requests share one compression');
    assert.equal(gunzipSync(one!).toString(), 'hello '.repeat(1000));
    assert.equal(one, two);
    assert.ok(Buffer.isBuffer(cache.variant(p, st, 'gzip', read)), 'later requests get the bytes at once');
    const lying = { ...st, size: st.size + 1 } as typeof st;
    assert.equal(await cache.variant(join(dir.path, 'other'), lying, 'br', read), null);
  } finally {
    dir.cleanup();
  }
});

test('FileCache keeps facts per file version: a changed stat (size, mtime, inode) drops them', () => {
  const dir = tempDir();
  try {
    const cache = new FileCache();
    const p = join(dir.path, 'f.txt');
    writeFileSync(p, 'one');
    const facts = { owner: cache, note: 'one' };
    cache.keepFacts(p, statSync(p), facts);
    assert.equal(cache.facts(p, statSync(p)), facts);
    assert.equal(cache.facts(join(dir.path, 'other'), statSync(p)), undefined, 'keyed by path');
    const st = statSync(p);
    for (const field of ['dev', 'ino', 'size', 'mtimeMs', 'ctimeMs'] as const) {
      cache.keepFacts(p, st, facts);
      const changed = Object.assign(Object.create(Object.getPrototypeOf(st)), st, {
        [field]: st[field] + 1,
      }) as typeof st;
      assert.equal(cache.facts(p, changed), undefined, `a different ${field} misses`);
      assert.equal(cache.facts(p, st), undefined, `and the old facts are gone (${field})`);
    }
    writeFileSync(p, 'two!');
    assert.equal(cache.facts(p, statSync(p)), undefined);
  } finally {
    dir.cleanup();
  }
});

test('FileCache evicts the least recently used body first, even when hot entries are not moved on every use', async () => {
  const dir = tempDir();
  try {
    const cache = new FileCache({ maxBytes: 3000, maxFileSize: 1000 });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => join(dir.path, n)) as [string, string, string, string];
    for (const p of [a, b, c, d]) writeFileSync(p, Buffer.alloc(1000, p.at(-1)));
    for (const p of [a, b, c]) await cache.load(p, statSync(p), () => readFile(p));
    for (let i = 0; i < 5; i++) assert.ok(cache.body(a, statSync(a)), 'a is used again');
    await cache.load(d, statSync(d), () => readFile(d));
    assert.ok(cache.bytes <= 3000);
    assert.equal(cache.body(b, statSync(b)), undefined, 'b, used least recently, went first');
    for (const p of [a, c, d]) assert.ok(cache.body(p, statSync(p)), `${p} is still held`);
  } finally {
    dir.cleanup();
  }
});
