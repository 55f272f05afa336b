import assert from 'node:assert/strict';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { test } from 'node:test';
import { shouldCompress, type CompressionCandidate } from '../../src/encoding/compressible.js';
import { negotiateEncoding } from '../../src/encoding/negotiate.js';
import { EncodingResourceWrapper } from '../../src/encoding/encoding-resource-wrapper.js';
import { BrotliEncoderFactory, GzipEncoderFactory } from '../../src/encoding/encoders.js';
import { NOT_DONE_YET, type Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { render } from '../helpers/dummy.js';

const negotiation: Array<[string | undefined, string | null]> = [
  ['gzip, br', 'br'],
  ['gzip;q=1, br;q=0.5', 'gzip'],
  ['gzip;q=0', null],
  ['gzip;q=0, br;q=0', null],
  ['*', 'br'],
  ['identity', null],
  ['deflate', null],
  [undefined, null],
  ['', null],
];

for (const [header, expected] of negotiation) {
  test(`negotiateEncoding(${JSON.stringify(header)}) → ${expected}`, () => {
    assert.equal(negotiateEncoding(header, ['br', 'gzip']), expected);
  });
}

const base: CompressionCandidate = {
  status: 200,
  contentType: 'text/html',
  contentEncoding: undefined,
  cacheControl: undefined,
  contentRange: undefined,
  length: 5000,
};
const compressCases: Array<[string, Partial<CompressionCandidate>, boolean]> = [
  ['text/html 5 KiB', {}, true],
  ['streamed css', { contentType: 'text/css', length: null }, true],
  ['json', { contentType: 'application/json; charset=utf-8' }, true],
  ['svg', { contentType: 'image/svg+xml' }, true],
  ['vendor +json', { contentType: 'application/vnd.api+json' }, true],
  ['tiny body', { length: 100 }, false],
  ['png', { contentType: 'image/png' }, false],
  ['zip', { contentType: 'application/zip' }, false],
  ['octet-stream', { contentType: 'application/octet-stream' }, false],
  ['already gzip', { contentEncoding: 'gzip' }, false],
  ['206', { status: 206 }, false],
  ['304', { status: 304 }, false],
  ['content-range', { contentRange: 'bytes 0-1/5' }, false],
  ['no-transform', { cacheControl: 'public, no-transform' }, false],
];

for (const [name, over, expected] of compressCases) {
  test(`shouldCompress: ${name} → ${expected}`, () => {
    assert.equal(shouldCompress({ ...base, ...over }), expected);
  });
}

const BIG = 'Hello, compressible world! '.repeat(200);

class Big extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    request.setETag('v1');
    return BIG;
  }
}

class Tiny extends Resource {
  override isLeaf = true;
  override GET() {
    return 'small';
  }
}

class Streamed extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    request.setHeader('Content-Type', 'text/plain; charset=utf-8');
    let n = 0;
    const step = () => {
      request.write(BIG.slice(0, 1000));
      if (++n < 5) setImmediate(step);
      else request.finish();
    };
    setImmediate(step);
    return NOT_DONE_YET;
  }
}

function site(resource: Resource): Site {
  const root = new Resource();
  root.putChild('r', new EncodingResourceWrapper(resource, [new BrotliEncoderFactory(), new GzipEncoderFactory()]));
  return new Site(root);
}

test('EncodingResourceWrapper gzips a whole body with Vary and a weakened ETag', async () => {
  const res = await render(site(new Big()), { uri: '/r', headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(res.header('content-encoding'), 'gzip');
  assert.equal(res.header('vary'), 'Accept-Encoding');
  assert.equal(res.header('etag'), 'W/"v1"');
  assert.equal(Number(res.header('content-length')), res.body().length);
  assert.equal(gunzipSync(res.body()).toString(), BIG);
});

test('EncodingResourceWrapper prefers brotli when the client takes both', async () => {
  const res = await render(site(new Big()), { uri: '/r', headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
  assert.equal(res.header('content-encoding'), 'br');
  assert.equal(brotliDecompressSync(res.body()).toString(), BIG);
});

test('EncodingResourceWrapper honours q=0 and absent Accept-Encoding, still sending Vary', async () => {
  for (const headers of [{ 'Accept-Encoding': 'gzip;q=0, br;q=0' }, {}]) {
    const res = await render(site(new Big()), { uri: '/r', headers });
    assert.equal(res.header('content-encoding'), undefined);
    assert.equal(res.header('vary'), 'Accept-Encoding');
    assert.equal(res.text(), BIG);
  }
});

test('EncodingResourceWrapper leaves tiny bodies alone', async () => {
  const res = await render(site(new Tiny()), { uri: '/r', headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(res.header('content-encoding'), undefined);
  assert.equal(res.text(), 'small');
});

test('EncodingResourceWrapper compresses a streamed body chunk by chunk', async () => {
  const res = await render(site(new Streamed()), { uri: '/r', headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(res.header('content-encoding'), 'gzip');
  assert.equal(res.header('content-length'), undefined);
  assert.ok(res.chunks.length > 1, 'each write is flushed');
  assert.equal(gunzipSync(res.body()).toString(), BIG.slice(0, 1000).repeat(5));
});

test('HEAD through the wrapper has the GET headers and no body', async () => {
  const res = await render(site(new Big()), { uri: '/r', method: 'HEAD', headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(res.header('content-encoding'), 'gzip');
  assert.equal(res.body().length, 0);
});
