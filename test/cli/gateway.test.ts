// `trellis web --fastcgi EP --scgi EP`: the listeners start next to (or instead of) HTTP, print their
// addresses, serve the site, and refuse to listen off loopback without --gateway-trusted-peers.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeScgiHeader } from '../../src/channels/scgi/netstring.js';
import { FcgiClient, cgiParams, parseCgiReply } from '../helpers/fastcgi-client.js';
import { runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';

async function servingUrls(out: () => string, count: number): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const urls = [...out().matchAll(/serving (\S+)/g)].map((m) => m[1]!);
    if (urls.length >= count || Date.now() > deadline) return urls;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('trellis web --fastcgi and --scgi serve the site, print their addresses and start no HTTP listener', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  writeFileSync(join(dir.path, 'hello.txt'), 'hello from a file\n');
  const sock = join(dir.path, 'app.scgi');
  const trellis = await spawnTrellis(['web', '--path', dir.path, '--fastcgi', 'tcp:0', '--scgi', `unix:${sock}`], {
    cwd: dir.path,
  });
  t.after(() => trellis.stop());
  const urls = await servingUrls(trellis.stdout, 2);
  assert.equal(urls.length, 2, trellis.stdout());
  assert.match(urls[0]!, /^fastcgi:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(urls[1], `scgi:unix:${sock}`);
  assert.doesNotMatch(trellis.stdout(), /http:\/\//);

  const c = await FcgiClient.open(Number(/:(\d+)\//.exec(urls[0]!)![1]));
  c.begin(1, cgiParams('GET', '/hello.txt'));
  c.stdin(1);
  const r = await c.response(1);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'hello from a file\n');
  c.close();

  const reply = await new Promise<Buffer>((resolve, reject) => {
    const s = connect(sock);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.write(
      encodeScgiHeader([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...Object.entries(cgiParams('GET', '/hello.txt'))]),
    );
  });
  assert.equal(parseCgiReply(reply).body.toString(), 'hello from a file\n');
});

test('trellis web refuses a gateway on a non-loopback address without --gateway-trusted-peers', async () => {
  for (const args of [
    ['--fastcgi', 'tcp:0:interface=0.0.0.0'],
    ['--scgi', 'tcp6:0'],
  ]) {
    const r = await runTrellis(['web', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--gateway-trusted-peers/);
  }
  const bad = await runTrellis(['web', '--fastcgi', 'tcp:0:interface=0.0.0.0', '--gateway-trusted-peers', 'not-an-ip']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /not-an-ip.*not an IP address or CIDR/);
  const tls = await runTrellis(['web', '--scgi', 'ssl:0:privateKey=k.pem']);
  assert.notEqual(tls.code, 0);
  assert.match(tls.stderr, /not TLS/);
});

test('trellis web --fastcgi off loopback starts when the front ends are named', async (t) => {
  const trellis = await spawnTrellis([
    'web',
    '--fastcgi',
    'tcp:0:interface=0.0.0.0',
    '--gateway-trusted-peers',
    '10.0.0.0/8,192.0.2.1',
  ]);
  t.after(() => trellis.stop());
  assert.match(trellis.url, /^fastcgi:\/\/localhost:\d+\/$/);
  // Loopback peers are always accepted.
  const c = await FcgiClient.open(Number(/:(\d+)\//.exec(trellis.url)![1]));
  c.begin(1, cgiParams('GET', '/'));
  c.stdin(1);
  assert.ok((await c.response(1)).status < 500);
  c.close();
});

test('SIGTERM closes idle kept-alive FastCGI connections and exits 0 promptly', async () => {
  const trellis = await spawnTrellis(['web', '--fastcgi', 'tcp:0']);
  const c = await FcgiClient.open(Number(/:(\d+)\//.exec(trellis.url)![1]));
  c.begin(1, cgiParams('GET', '/'));
  c.stdin(1);
  assert.ok((await c.response(1)).status < 500);
  const t0 = Date.now();
  const code = await trellis.stop('SIGTERM');
  assert.equal(code, 0);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  await c.until(() => c.closed);
});
