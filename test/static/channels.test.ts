// File over every HTTP channel (HTTP/1.1, HTTPS, HTTP/2): a streamed large file, a range, a 304, a
// compressed variant, and HEAD behave the same everywhere.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { File } from '../../src/static/file.js';
import { Site } from '../../src/site.js';
import { channelMatrix } from '../helpers/matrix.js';
import { needPeer } from '../helpers/peers.js';
import { tempDir } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

test('File answers alike over HTTP/1.1, HTTPS and HTTP/2', async (t) => {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const dir = tempDir('trellis-static-matrix-');
  const root = join(dir.path, 'www');
  mkdirSync(root);
  const big = randomBytes(2 * 1024 * 1024 + 3);
  const css = Buffer.from('p { margin: 0 }\n'.repeat(400));
  writeFileSync(join(root, 'big.bin'), big);
  writeFileSync(join(root, 'site.css'), css);
  const { clients, close } = await channelMatrix(new Site(new File(root)), makeCertificate(openssl, dir.path));
  try {
    for (const client of clients) {
      const whole = await client.request('GET', '/big.bin');
      assert.equal(whole.status, 200, client.name);
      assert.ok(whole.body.equals(big), `${client.name}: large body intact`);
      const range = await client.request('GET', '/big.bin', { headers: { range: 'bytes=-5' } });
      assert.equal(range.status, 206, client.name);
      assert.ok(range.body.equals(big.subarray(big.length - 5)));
      const etag = String(whole.headers.etag);
      const cached = await client.request('GET', '/big.bin', { headers: { 'if-none-match': etag } });
      assert.equal(cached.status, 304, client.name);
      assert.equal(cached.body.length, 0);
      const gz = await client.request('GET', '/site.css', { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(gz.headers['content-encoding'], 'gzip', client.name);
      assert.deepEqual(gunzipSync(gz.body), css);
      const head = await client.request('HEAD', '/big.bin');
      assert.equal(head.headers['content-length'], String(big.length), client.name);
      assert.equal(head.body.length, 0);
      const listing = await client.request('GET', '/');
      assert.match(listing.text, /big\.bin/, client.name);
    }
  } finally {
    await close();
    dir.cleanup();
  }
});
