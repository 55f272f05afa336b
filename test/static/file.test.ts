// File over a real socket: the range and conditional tables, streaming, directories, listings, MIME,
// compression, processors, and the path-safety rules of SECURITY.md §1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { File, type FileOptions } from '../../src/static/file.js';
import { Site } from '../../src/site.js';
import { serveSite, tempDir } from '../helpers/server.js';
import { HUNDRED, RANGE_CASES, send } from './cases.js';
import { IF_RANGE_CASES } from './conditional.test.js';
import { connectionLost } from '../../src/request-internals.js';

const dir = tempDir('trellis-static-');
const root = join(dir.path, 'root');
const BIG = randomBytes(3 * 1024 * 1024 + 17);
const CSS = Buffer.from('body { color: red; }\n'.repeat(300));
const JS = Buffer.from('console.log("hello");\n'.repeat(100));
const servers: Array<{ close(): Promise<void> }> = [];

async function serve(options: FileOptions = {}): Promise<string> {
  const s = await serveSite(new Site(new File(root, options)));
  servers.push(s);
  return s.base;
}

let base = '';

before(async () => {
  mkdirSync(root);
  writeFileSync(join(root, 'hundred.txt'), HUNDRED);
  writeFileSync(join(root, 'big.bin'), BIG);
  writeFileSync(join(root, 'page.html'), '<p>page</p>');
  writeFileSync(join(root, 'style.css'), CSS);
  writeFileSync(join(root, 'app.js'), JS);
  writeFileSync(join(root, 'app.js.gz'), gzipSync(JS));
  writeFileSync(join(root, 'notes.txt.gz'), gzipSync('compressed notes'));
  writeFileSync(join(root, 'data.zzz'), 'unknown');
  writeFileSync(join(root, 'README'), 'no extension');
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, '.env'), 'SECRET=1');
  writeFileSync(join(root, 'notes.txt~'), 'backup');
  writeFileSync(join(root, 'draft.swp'), 'swap');
  writeFileSync(
    join(root, 'moved.asis'),
    'HTTP/1.1 301 Moved Permanently\nLocation: /new\nContent-Type: text/plain\n\nmoved\n',
  );
  mkdirSync(join(root, '.well-known'));
  writeFileSync(join(root, '.well-known', 'security.txt'), 'Contact: mailto:x@example.com');
  mkdirSync(join(root, '.git'));
  writeFileSync(join(root, '.git', 'config'), '[core]');
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'index.html'), '<h1>sub index</h1>');
  mkdirSync(join(root, 'empty'));
  mkdirSync(join(root, 'odd dir'));
  writeFileSync(join(root, 'odd dir', 'a&b.txt'), 'odd');
  writeFileSync(join(dir.path, 'outside.txt'), 'OUTSIDE');
  symlinkSync(join(dir.path, 'outside.txt'), join(root, 'link-out.txt'));
  symlinkSync(dir.path, join(root, 'link-out-dir'));
  symlinkSync('hundred.txt', join(root, 'link-in.txt'));
  execFileSync('mkfifo', [join(root, 'pipe.txt')]);
  writeFileSync(join(root, 'locked.txt'), 'locked');
  chmodSync(join(root, 'locked.txt'), 0o000);
  base = await serve();
});

after(async () => {
  for (const s of servers) await s.close();
  dir.cleanup();
});

describe('File serves files', () => {
  test('GET a text file: type with charset, nosniff, validators, Accept-Ranges, exact body', async () => {
    const r = await send(base, '/hundred.txt');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['content-length'], '100');
    assert.match(String(r.headers.etag), /^"[^"]+"$/);
    assert.ok(r.headers['last-modified']);
    assert.deepEqual(r.body, HUNDRED);
  });

  test('HEAD sends the headers of GET and no body', async () => {
    for (const path of ['/hundred.txt', '/big.bin']) {
      const r = await send(base, path, { method: 'HEAD' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], path === '/big.bin' ? String(BIG.length) : '100');
      assert.equal(r.body.length, 0);
    }
  });

  test('methods other than GET and HEAD get 405 with Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await send(base, '/hundred.txt', { method });
      assert.equal(r.status, 405);
      assert.match(String(r.headers.allow), /GET, HEAD/);
    }
  });

  test('a file larger than the cache streams whole and intact', async () => {
    const r = await send(base, '/big.bin');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(BIG.length));
    assert.ok(r.body.equals(BIG));
  });

  test('an empty file is a 200 with Content-Length 0', async () => {
    const r = await send(base, '/empty.txt');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '0');
  });

  test('an edited small file is served fresh (the cache checks the stat)', async () => {
    writeFileSync(join(root, 'edit.txt'), 'first version');
    assert.equal((await send(base, '/edit.txt')).body.toString(), 'first version');
    writeFileSync(join(root, 'edit.txt'), 'second version!');
    assert.equal((await send(base, '/edit.txt')).body.toString(), 'second version!');
  });

  test('a file replaced by another of the same size and mtime is served fresh, with its own ETag', async () => {
    writeFileSync(join(root, 'swap-same.txt'), 'AAAA');
    const first = await send(base, '/swap-same.txt');
    assert.equal(first.body.toString(), 'AAAA');
    const { atime, mtime } = statSync(join(root, 'swap-same.txt'));
    writeFileSync(join(root, 'swap-same.new'), 'BBBB');
    utimesSync(join(root, 'swap-same.new'), atime, mtime);
    renameSync(join(root, 'swap-same.new'), join(root, 'swap-same.txt'));
    const second = await send(base, '/swap-same.txt');
    assert.equal(second.body.toString(), 'BBBB');
    assert.notEqual(second.headers.etag, first.headers.etag);
  });

  test('a large file streamed to a slow reader arrives intact (read buffers are reused only once written)', async () => {
    const url = new URL(base);
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: '/big.bin', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let pauses = 0;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          // Stall now and then so the server's writes back up and wait for drain.
          if (pauses++ % 8 === 0) {
            res.pause();
            setTimeout(() => res.resume(), 5);
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    assert.ok(body.equals(BIG));
  });

  test('several large downloads at once each arrive intact', async () => {
    const replies = await Promise.all([1, 2, 3, 4].map(() => send(base, '/big.bin')));
    for (const r of replies) assert.ok(r.body.equals(BIG));
    const tail = await send(base, '/big.bin', {
      headers: { Range: `bytes=${1024 * 1024 - 5}-${2 * 1024 * 1024 + 5}` },
    });
    assert.equal(tail.status, 206);
    assert.ok(tail.body.equals(BIG.subarray(1024 * 1024 - 5, 2 * 1024 * 1024 + 6)));
  });
});

describe('File ranges over a socket (the parseRange table)', () => {
  for (const [name, header, expected] of RANGE_CASES) {
    test(`Range ${name}`, async () => {
      const r = await send(base, '/hundred.txt', { headers: header === undefined ? {} : { Range: header } });
      if (expected.kind === 'full') {
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, HUNDRED);
      } else if (expected.kind === 'unsatisfiable') {
        assert.equal(r.status, 416);
        assert.equal(r.headers['content-range'], 'bytes */100');
      } else if (expected.ranges.length === 1) {
        const { start, end } = expected.ranges[0]!;
        assert.equal(r.status, 206);
        assert.equal(r.headers['content-range'], `bytes ${start}-${end}/100`);
        assert.equal(r.headers['content-length'], String(end - start + 1));
        assert.deepEqual(r.body, HUNDRED.subarray(start, end + 1));
      } else {
        assert.equal(r.status, 206);
        const m = /^multipart\/byteranges; boundary=(\S+)$/.exec(String(r.headers['content-type']));
        assert.ok(m, String(r.headers['content-type']));
        assert.equal(Number(r.headers['content-length']), r.body.length);
        const parts = r.body.toString('latin1').split(`--${m[1]}`);
        assert.equal(parts.at(-1), '--\r\n');
        const bodies = parts.slice(1, -1).map((p) => {
          const [head, data] = p.split('\r\n\r\n') as [string, string];
          return { range: /Content-Range: (.*)/.exec(head)![1], data: data.replace(/\r\n$/, '') };
        });
        assert.deepEqual(
          bodies,
          expected.ranges.map(({ start, end }) => ({
            range: `bytes ${start}-${end}/100`,
            data: HUNDRED.subarray(start, end + 1).toString(),
          })),
        );
      }
    });
  }

  test('a range of a streamed large file', async () => {
    const r = await send(base, '/big.bin', { headers: { Range: 'bytes=1048570-2097160' } });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(BIG.subarray(1048570, 2097161)));
  });

  test('51 separate ranges are ignored: the whole file is sent', async () => {
    const header = `bytes=${Array.from({ length: 51 }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`;
    const r = await send(base, '/big.bin', { headers: { Range: header } });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, BIG.length);
  });

  test('several ranges of a streamed large file', async () => {
    const r = await send(base, '/big.bin', { headers: { Range: 'bytes=0-9,-10' } });
    assert.equal(r.status, 206);
    assert.equal(Number(r.headers['content-length']), r.body.length);
    assert.ok(r.body.includes(BIG.subarray(0, 10)) && r.body.includes(BIG.subarray(BIG.length - 10)));
  });

  for (const [name, header, validators, honoured] of IF_RANGE_CASES) {
    if (header === undefined || name.includes('without') || validators.etag?.startsWith('W/')) continue;
    test(`If-Range ${name}: ${honoured ? '206' : '200'}`, async () => {
      const first = await send(base, '/hundred.txt');
      const etag = String(first.headers.etag);
      const lm = Date.parse(String(first.headers['last-modified']));
      // Map the table's tag "a" and time T onto this file's real validators.
      const T = Date.parse('Thu, 01 Jan 2026 00:00:00 GMT');
      let value = header.replace('"a"', etag);
      const date = Date.parse(header);
      if (!Number.isNaN(date) && /GMT$/.test(header)) value = new Date(lm + (date - T)).toUTCString();
      const r = await send(base, '/hundred.txt', { headers: { Range: 'bytes=0-4', 'If-Range': value } });
      assert.equal(r.status, honoured ? 206 : 200);
    });
  }
});

describe('File conditional requests', () => {
  test('If-None-Match with the ETag (or its weak form) answers 304 with validators and no body', async () => {
    const first = await send(base, '/hundred.txt');
    const etag = String(first.headers.etag);
    for (const tag of [etag, `W/${etag}`, `"other", ${etag}`]) {
      const r = await send(base, '/hundred.txt', { headers: { 'If-None-Match': tag } });
      assert.equal(r.status, 304);
      assert.equal(r.headers.etag, etag);
      assert.ok(r.headers['last-modified']);
      assert.equal(r.headers['content-type'], undefined);
      assert.equal(r.body.length, 0);
    }
  });

  test('If-Modified-Since at or after Last-Modified answers 304; before it 200', async () => {
    const lm = String((await send(base, '/hundred.txt')).headers['last-modified']);
    assert.equal((await send(base, '/hundred.txt', { headers: { 'If-Modified-Since': lm } })).status, 304);
    const older = new Date(Date.parse(lm) - 5000).toUTCString();
    assert.equal((await send(base, '/hundred.txt', { headers: { 'If-Modified-Since': older } })).status, 200);
  });

  test('If-Match with another tag and If-Unmodified-Since in the past answer 412', async () => {
    assert.equal((await send(base, '/hundred.txt', { headers: { 'If-Match': '"nope"' } })).status, 412);
    assert.equal(
      (await send(base, '/hundred.txt', { headers: { 'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' } }))
        .status,
      412,
    );
    const etag = String((await send(base, '/hundred.txt')).headers.etag);
    assert.equal((await send(base, '/hundred.txt', { headers: { 'If-Match': etag } })).status, 200);
  });

  test('an over-long If-None-Match list is ignored (200)', async () => {
    const etag = String((await send(base, '/hundred.txt')).headers.etag);
    const list = Array.from({ length: 150 }, (_, i) => `"x${i}"`)
      .concat(etag)
      .join(', ');
    assert.equal((await send(base, '/hundred.txt', { headers: { 'If-None-Match': list } })).status, 200);
  });

  test('Cache-Control is sent when configured', async () => {
    const b = await serve({ cacheControl: 'public, max-age=60' });
    assert.equal((await send(b, '/hundred.txt')).headers['cache-control'], 'public, max-age=60');
  });
});

describe('File directories', () => {
  test('a directory without its slash redirects to it (relative Location, query kept, escaped body)', async () => {
    const r = await send(base, '/sub?x=1&y=<b>');
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, './sub/?x=1&y=<b>');
    assert.ok(!r.body.toString().includes('<b>'));
    const odd = await send(base, '/odd%20dir');
    assert.equal(odd.headers.location, './odd%20dir/');
  });

  test('a directory with an index file serves it', async () => {
    const r = await send(base, '/sub/');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), '<h1>sub index</h1>');
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  });

  test('indexNames replaces the list', async () => {
    const b = await serve({ indexNames: ['hundred.txt'] });
    assert.deepEqual((await send(b, '/')).body, HUNDRED);
    assert.match((await send(b, '/sub/')).body.toString(), /Index of \/sub\//);
  });

  test('a directory without an index gets a listing: escaped, ./-prefixed links, hidden names left out, CSP', async () => {
    const r = await send(base, '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
    const html = r.body.toString();
    assert.match(html, /href="\.\/hundred\.txt"/);
    assert.match(html, /href="\.\/odd%20dir\/"/);
    for (const hidden of ['.env', '.git', 'notes.txt~', 'draft.swp', 'link-out.txt'])
      assert.ok(!html.includes(hidden), hidden);
    assert.ok(html.indexOf('odd dir/') < html.indexOf('hundred.txt'), 'directories first');
    const odd = (await send(base, '/odd%20dir/')).body.toString();
    assert.match(odd, /href="\.\/a%26b\.txt">a&amp;b\.txt</);
  });

  test('listing: false answers 403 for a directory without an index', async () => {
    const b = await serve({ listing: false });
    assert.equal((await send(b, '/empty/')).status, 403);
    assert.equal((await send(b, '/sub/')).status, 200);
  });

  test('a path below a file, or an empty segment inside the path, is 404', async () => {
    assert.equal((await send(base, '/hundred.txt/x')).status, 404);
    assert.equal((await send(base, '/hundred.txt/')).status, 404);
    assert.equal((await send(base, '//hundred.txt')).status, 404);
  });
});

describe('File path safety (SECURITY.md §1)', () => {
  const traversal: Array<[string, number[]]> = [
    ['/../outside.txt', [400]],
    ['/%2e%2e/outside.txt', [400]],
    ['/%2E%2E/outside.txt', [400]],
    ['/sub/%2e%2e/%2e%2e/outside.txt', [400]],
    ['/..%2foutside.txt', [404]],
    ['/%2e%2e%2foutside.txt', [404]],
    ['/sub%2f..%2f..%2foutside.txt', [404]],
    ['/..%5coutside.txt', [404]],
    ['/%5c..%5coutside.txt', [404]],
    ['/hundred.txt%00.png', [404]],
    ['/%00', [404]],
    ['/%c0%ae%c0%ae/outside.txt', [400]],
    ['/%252e%252e/outside.txt', [404]],
    ['/./hundred.txt', [400]],
    ['/sub/../hundred.txt', [400]],
    ['/%2fetc%2fpasswd', [404]],
    ['/C:%5cwindows', [404]],
  ];
  for (const [path, statuses] of traversal) {
    test(`traversal ${path} is refused`, async () => {
      const r = await send(base, path);
      assert.ok(statuses.includes(r.status), `${path} gave ${r.status}`);
      assert.ok(!r.body.toString().includes('OUTSIDE'));
    });
  }

  test('dotfiles and backup files are 404; .well-known is served', async () => {
    for (const path of ['/.env', '/.git/config', '/.git/', '/notes.txt~', '/draft.swp', '/%2eenv']) {
      assert.equal((await send(base, path)).status, 404, path);
    }
    assert.equal((await send(base, '/.well-known/security.txt')).status, 200);
  });

  test('symlinks: escaping the root is 404 by default, inside the root is served', async () => {
    assert.equal((await send(base, '/link-out.txt')).status, 404);
    assert.equal((await send(base, '/link-out-dir/outside.txt')).status, 404);
    assert.equal((await send(base, '/link-out-dir/')).status, 404);
    assert.deepEqual((await send(base, '/link-in.txt')).body, HUNDRED);
  });

  test('symlinks: a cached file replaced by a symlink out of the root is refused on the next request', async () => {
    writeFileSync(join(root, 'swapped.txt'), 'inside');
    assert.equal((await send(base, '/swapped.txt')).body.toString(), 'inside');
    assert.equal((await send(base, '/swapped.txt')).body.toString(), 'inside');
    rmSync(join(root, 'swapped.txt'));
    symlinkSync(join(dir.path, 'outside.txt'), join(root, 'swapped.txt'));
    assert.equal((await send(base, '/swapped.txt')).status, 404);
    assert.equal((await send(base, '/swapped.txt', { headers: { Range: 'bytes=0-1' } })).status, 404);
  });

  test('symlinks: a served directory swapped for a symlink out of the root refuses the files under it', async () => {
    mkdirSync(join(root, 'swapdir'));
    writeFileSync(join(root, 'swapdir', 'f.txt'), 'inside');
    mkdirSync(join(dir.path, 'elsewhere'));
    writeFileSync(join(dir.path, 'elsewhere', 'f.txt'), 'OUTSIDE');
    assert.equal((await send(base, '/swapdir/f.txt')).body.toString(), 'inside');
    renameSync(join(root, 'swapdir'), join(root, 'swapdir-old'));
    symlinkSync(join(dir.path, 'elsewhere'), join(root, 'swapdir'));
    assert.equal((await send(base, '/swapdir/f.txt')).status, 404);
  });

  test("symlinks: 'never' checks the links on every request, even for a file it already served", async () => {
    const never = await serve({ symlinks: 'never' });
    mkdirSync(join(root, 'nd'));
    writeFileSync(join(root, 'nd', 'f.txt'), 'plain');
    assert.equal((await send(never, '/nd/f.txt')).body.toString(), 'plain');
    // The same file (same inode and times), now reached through a symlink.
    renameSync(join(root, 'nd'), join(root, 'nd-real'));
    symlinkSync('nd-real', join(root, 'nd'));
    assert.equal((await send(never, '/nd/f.txt')).status, 404);
    assert.equal((await send(never, '/nd-real/f.txt')).body.toString(), 'plain');
  });

  test("symlinks: 'follow' serves outside targets, 'never' refuses even inside ones", async () => {
    const follow = await serve({ symlinks: 'follow' });
    assert.equal((await send(follow, '/link-out.txt')).body.toString(), 'OUTSIDE');
    const never = await serve({ symlinks: 'never' });
    assert.equal((await send(never, '/link-in.txt')).status, 404);
    assert.equal((await send(never, '/hundred.txt')).status, 200);
    const owner = await serve({ symlinks: 'owner-match' });
    assert.equal((await send(owner, '/link-in.txt')).status, 200);
  });

  test('a FIFO is 404 (only regular files are sent) and does not hang', async () => {
    assert.equal((await send(base, '/pipe.txt')).status, 404);
  });

  test('an unreadable file is 403, not 500', async (t) => {
    if (process.getuid?.() === 0) return t.skip('root reads everything');
    assert.equal((await send(base, '/locked.txt')).status, 403);
  });

  test('a missing root answers 404', async () => {
    const s = await serveSite(new Site(new File(join(dir.path, 'nope'))));
    servers.push(s);
    assert.equal((await send(s.base, '/')).status, 404);
    assert.equal((await send(s.base, '/x')).status, 404);
  });
});

describe('File types and encodings', () => {
  test('unknown extensions are application/octet-stream with nosniff; defaultType and contentTypes change that', async () => {
    const r = await send(base, '/data.zzz');
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal((await send(base, '/README')).headers['content-type'], 'application/octet-stream');
    const b = await serve({
      defaultType: 'text/plain',
      contentTypes: { '.zzz': 'application/x-zzz', '.TXT': 'text/x-special' },
    });
    assert.equal((await send(b, '/README')).headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal((await send(b, '/data.zzz')).headers['content-type'], 'application/x-zzz');
    assert.equal((await send(b, '/hundred.txt')).headers['content-type'], 'text/x-special; charset=utf-8');
  });

  test('types changed while serving (setContentType, defaultType) apply to files already served', async () => {
    const tree = new File(root);
    const s = await serveSite(new Site(tree));
    servers.push(s);
    assert.equal((await send(s.base, '/data.zzz')).headers['content-type'], 'application/octet-stream');
    assert.equal((await send(s.base, '/README')).headers['content-type'], 'application/octet-stream');
    tree.setContentType('.zzz', 'application/x-zzz');
    tree.defaultType = 'text/plain';
    assert.equal((await send(s.base, '/data.zzz')).headers['content-type'], 'application/x-zzz');
    assert.equal((await send(s.base, '/README')).headers['content-type'], 'text/plain; charset=utf-8');
  });

  test('a content type or Cache-Control holding CR or LF is refused with a 500, never sent', async () => {
    const quiet = { logError: () => {} };
    const s = await serveSite(new Site(new File(root, { contentTypes: { '.zzz': 'text/x\r\nX-Injected: 1' } }), quiet));
    servers.push(s);
    const r = await send(s.base, '/data.zzz');
    assert.equal(r.status, 500);
    assert.equal(r.headers['x-injected'], undefined);
    const c = await serveSite(new Site(new File(root, { cacheControl: 'max-age=1\r\nX-Injected: 1' }), quiet));
    servers.push(c);
    const r2 = await send(c.base, '/hundred.txt');
    assert.equal(r2.status, 500);
    assert.equal(r2.headers['x-injected'], undefined);
  });

  test('a .gz file carries Content-Encoding and the inner type, as in Twisted', async () => {
    const r = await send(base, '/notes.txt.gz');
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(r.body).toString(), 'compressed notes');
  });

  test('a precompressed sibling is served to clients that accept it, with Vary', async () => {
    const gz = await send(base, '/app.js', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(String(gz.headers.vary), /Accept-Encoding/);
    assert.match(String(gz.headers['content-type']), /javascript/);
    assert.deepEqual(gunzipSync(gz.body), JS);
    const plain = await send(base, '/app.js');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.match(String(plain.headers.vary), /Accept-Encoding/);
    assert.deepEqual(plain.body, JS);
    assert.notEqual(plain.headers.etag, gz.headers.etag);
  });

  test('compressible files are compressed on the fly (gzip and brotli), cached, with their own ETag', async () => {
    const gz = await send(base, '/style.css', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(Number(gz.headers['content-length']), gz.body.length);
    assert.deepEqual(gunzipSync(gz.body), CSS);
    const again = await send(base, '/style.css', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.deepEqual(again.body, gz.body);
    const br = await send(base, '/style.css', { headers: { 'Accept-Encoding': 'gzip, br' } });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.deepEqual(brotliDecompressSync(br.body), CSS);
    assert.notEqual(br.headers.etag, gz.headers.etag);
    const cond = await send(base, '/style.css', {
      headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': String(gz.headers.etag) },
    });
    assert.equal(cond.status, 304);
  });

  test('ranges apply to the identity representation only', async () => {
    const r = await send(base, '/style.css', { headers: { 'Accept-Encoding': 'gzip', Range: 'bytes=0-3' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.body.toString(), 'body');
  });

  test('tiny and incompressible files are not compressed', async () => {
    assert.equal(
      (await send(base, '/hundred.txt', { headers: { 'Accept-Encoding': 'gzip' } })).headers['content-encoding'],
      undefined,
    );
    assert.equal(
      (await send(base, '/big.bin', { headers: { 'Accept-Encoding': 'gzip' } })).headers['content-encoding'],
      undefined,
    );
  });

  test('an edited file gets a fresh compressed variant', async () => {
    writeFileSync(join(root, 'changing.css'), 'a{}\n'.repeat(500));
    const one = await send(base, '/changing.css', { headers: { 'Accept-Encoding': 'gzip' } });
    writeFileSync(join(root, 'changing.css'), 'b{}\n'.repeat(600));
    const future = new Date(Date.now() + 5000);
    utimesSync(join(root, 'changing.css'), future, future);
    const two = await send(base, '/changing.css', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gunzipSync(one.body).toString(), 'a{}\n'.repeat(500));
    assert.equal(gunzipSync(two.body).toString(), 'b{}\n'.repeat(600));
  });
});

describe('File ignoredExts and processors', () => {
  test("ignoredExts lets /page find page.html; '*' finds any extension", async () => {
    assert.equal((await send(base, '/page')).status, 404);
    const b = await serve({ ignoredExts: ['.html'] });
    assert.equal((await send(b, '/page')).body.toString(), '<p>page</p>');
    const any = await serve({ ignoredExts: ['*'] });
    assert.equal((await send(any, '/hundred')).status, 200);
    assert.equal((await send(any, '/notes')).status, 200);
  });

  test('the asis processor sends the file as its own status, headers and body', async () => {
    const { AsisResource } = await import('../../src/static/asis.js');
    const b = await serve({ processors: { '.asis': (p) => new AsisResource(p) } });
    const r = await send(b, '/moved.asis');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/new');
    assert.equal(r.body.toString(), 'moved\n');
    assert.equal((await send(base, '/moved.asis')).status, 200);
  });
});

describe('File streaming with backpressure', () => {
  /** Waits (up to 10 s, for a loaded machine) until `done()` holds. */
  async function until(done: () => boolean): Promise<void> {
    for (let waited = 0; !done() && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  }

  test('streamed bodies wait for drain: one slab out (and one read ahead) until the channel has room', async () => {
    const { dummyRequest } = await import('../helpers/dummy.js');
    const site = new Site(new File(root));
    const d = dummyRequest({ uri: '/big.bin', backpressure: true });
    site.handle(d.request);
    await until(() => d.response.chunks.length > 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(d.response.code, 200);
    assert.equal(d.response.chunks.length, 1, 'only the first chunk was written');
    const { SLAB } = await import('../../src/static/send-file.js');
    assert.equal(d.response.chunks[0]!.length, SLAB, 'a channel that is not draining gets one slab at a time');
    for (let i = 0; i < 100 && !d.response.ended; i++) {
      const written = d.response.chunks.length;
      d.drain();
      await until(() => d.response.ended || d.response.chunks.length > written);
    }
    assert.ok(d.response.ended);
    assert.ok(d.response.body().equals(BIG));
  });

  test('a client that leaves mid-stream stops the stream without an error', async () => {
    const { dummyRequest } = await import('../helpers/dummy.js');
    const errors: string[] = [];
    const site = new Site(new File(root), { logError: (m) => errors.push(m) });
    const d = dummyRequest({ uri: '/big.bin', backpressure: true });
    site.handle(d.request);
    // The first piece is written, then the stream waits for the (backed-up) channel to drain.
    await until(() => d.response.chunks.length > 0);
    connectionLost(d.request);
    d.drain();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(d.response.chunks.length, 1);
    assert.ok(!d.response.ended);
    assert.deepEqual(errors, []);
  });

  test('a real slow reader gets the whole large file', async () => {
    const { connect } = await import('node:net');
    const url = new URL(base);
    const socket = connect(Number(url.port), url.hostname);
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    socket.pause();
    await new Promise((r) => setTimeout(r, 300));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.resume();
    await new Promise((r) => socket.once('end', r));
    const all = Buffer.concat(chunks);
    const body = all.subarray(all.indexOf('\r\n\r\n') + 4);
    assert.ok(body.equals(BIG));
  });
});

describe('File compression past the variant cache', () => {
  test('a compressible file too large to cache is compressed while streaming, through the core encoders', async () => {
    const { FileCache } = await import('../../src/static/file-cache.js');
    const b = await serve({ cache: new FileCache({ maxCompressSize: 1000, maxFileSize: 1000 }) });
    const r = await send(b, '/style.css', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.headers['content-length'], undefined);
    assert.match(String(r.headers.etag), /^W\//);
    assert.deepEqual(gunzipSync(r.body), CSS);
    const plain = await send(b, '/style.css');
    assert.deepEqual(plain.body, CSS);
  });
});

describe('File index names and processors', () => {
  test('each processor adds index<ext> to the default index names', async () => {
    const { AsisResource } = await import('../../src/static/asis.js');
    mkdirSync(join(root, 'asis-index'));
    writeFileSync(join(root, 'asis-index', 'index.asis'), 'Status: 202 Accepted\n\nqueued');
    const b = await serve({ processors: { asis: (p) => new AsisResource(p) } });
    const r = await send(b, '/asis-index/');
    assert.equal(r.status, 202);
    assert.equal(r.body.toString(), 'queued');
    assert.equal((await send(base, '/asis-index/')).status, 200);
  });
});
