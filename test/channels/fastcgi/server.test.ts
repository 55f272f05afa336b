// The FastCGI channel over a real socket with a raw client: requests and responses, keep-alive,
// multiplexing, management records, aborts, and the limits of SECURITY.md §5.2.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { listenFastCgi } from '../../../src/channels/fastcgi/server.js';
import { decodeNameValuePairs, encodeNameValuePairs } from '../../../src/channels/fastcgi/name-value.js';
import { FCGI_MAX_CONTENT, FcgiProtocolStatus, FcgiType, encodeRecord } from '../../../src/channels/fastcgi/records.js';
import type { Listener } from '../../../src/channels/listen.js';
import { FcgiClient, cgiParams } from '../../helpers/fastcgi-client.js';
import { gatewaySite, slowUpload, STATIC_TEXT, type StreamEvents } from '../../helpers/gateway-site.js';
import { Data } from '../../../src/data.js';
import type { Socket } from 'node:net';

let listener: Listener;
let events: StreamEvents;
let port: number;
const slow = slowUpload();
const serverSockets: Socket[] = [];

before(async () => {
  const g = gatewaySite();
  events = g.events;
  g.site.resource.putChild('big', new Data(Buffer.alloc(200_000, 0x61), 'text/plain'));
  g.site.resource.putChild('slow-upload', slow.resource);
  listener = await listenFastCgi(g.site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  listener.server.on('connection', (s: Socket) => serverSockets.push(s));
  port = listener.port!;
});
after(() => listener.close(100));

test('FastCGI answers a GET with a Status line, headers and body, then END_REQUEST complete', async () => {
  const c = await FcgiClient.open(port);
  c.begin(1, cgiParams('GET', '/app/static.txt', {}, '/app'));
  c.stdin(1);
  const r = await c.response(1);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(r.headers.get('content-length'), String(STATIC_TEXT.length));
  assert.equal(r.body.toString(), STATIC_TEXT);
  assert.equal(r.protocolStatus, FcgiProtocolStatus.REQUEST_COMPLETE);
  assert.ok(c.records.every((rec) => rec.content.length <= FCGI_MAX_CONTENT));
  c.close();
});

test('FastCGI sends a small response as one STDOUT record, the empty STDOUT and END_REQUEST', async () => {
  const c = await FcgiClient.open(port);
  c.begin(1, cgiParams('GET', '/app/static.txt', {}, '/app'));
  c.stdin(1);
  await c.response(1);
  assert.deepEqual(
    c.records.map((r) => [r.type, r.content.length > 0]),
    [
      [FcgiType.STDOUT, true],
      [FcgiType.STDOUT, false],
      [FcgiType.END_REQUEST, true],
    ],
  );
  c.close();
});

test('FastCGI reads bodies that arrive in the same write as their params, empty or not', async () => {
  const c = await FcgiClient.open(port);
  const begin = Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]);
  const request = (id: number, params: Record<string, string>, body: string) => [
    encodeRecord(FcgiType.BEGIN_REQUEST, id, begin),
    encodeRecord(FcgiType.PARAMS, id, encodeNameValuePairs(Object.entries(params))),
    encodeRecord(FcgiType.PARAMS, id),
    ...(body ? [encodeRecord(FcgiType.STDIN, id, Buffer.from(body))] : []),
    encodeRecord(FcgiType.STDIN, id),
  ];
  const hash = (s: string) => `${Buffer.byteLength(s)} ${createHash('sha256').update(s).digest('hex')}`;
  c.send(
    ...request(1, cgiParams('POST', '/upload', { CONTENT_LENGTH: '5' }), 'hello'),
    ...request(2, cgiParams('POST', '/upload', { CONTENT_LENGTH: '' }), ''),
    ...request(3, cgiParams('POST', '/upload', {}), 'no length'),
  );
  assert.equal((await c.response(1)).body.toString(), hash('hello'));
  assert.equal((await c.response(2)).body.toString(), hash(''));
  assert.equal((await c.response(3)).body.toString(), hash('no length'));
  // STDIN ending before CONTENT_LENGTH bytes came: the body is cut short, whether or not any arrived.
  c.send(
    ...request(4, cgiParams('POST', '/upload', { CONTENT_LENGTH: '5' }), ''),
    ...request(5, cgiParams('POST', '/upload', { CONTENT_LENGTH: '5' }), 'hel'),
  );
  assert.equal((await c.response(4)).status, 400);
  assert.equal((await c.response(5)).status, 400);
  c.close();
});

test('FastCGI builds the Request from the params: mount, public URL, client, Proxy dropped', async () => {
  const c = await FcgiClient.open(port);
  c.begin(1, cgiParams('GET', '/app/info/a%20b?x=1', { HTTP_PROXY: 'evil', HTTPS: 'on' }, '/app'));
  c.stdin(1);
  const info = JSON.parse((await c.response(1)).body.toString());
  assert.deepEqual(info.prepath, ['app', 'info']);
  assert.deepEqual(info.postpath, ['a b']);
  assert.equal(info.prePathURL, 'https://example.test:8080/app/info');
  assert.equal(info.client, '192.0.2.9');
  assert.equal(info.proxy, null);
  assert.equal(info.arg, '1');
  assert.equal(info.channel, 'fastcgi');
  c.close();
});

test('FastCGI keeps the connection with FCGI_KEEP_CONN and closes it without', async () => {
  const c = await FcgiClient.open(port);
  for (const id of [1, 1, 2]) {
    c.records.length = 0;
    c.begin(id, cgiParams('GET', '/static.txt'));
    c.stdin(id);
    assert.equal((await c.response(id)).status, 200);
  }
  assert.equal(c.closed, false);
  c.records.length = 0;
  c.begin(3, cgiParams('GET', '/static.txt'), { keepConn: false });
  c.stdin(3);
  assert.equal((await c.response(3)).status, 200);
  await c.until(() => c.closed);
});

test('FastCGI streams a 1 MiB STDIN into the body, with and without CONTENT_LENGTH', async () => {
  const body = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
  const expected = `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
  const c = await FcgiClient.open(port);
  c.begin(
    1,
    cgiParams('POST', '/upload', { CONTENT_LENGTH: String(body.length), CONTENT_TYPE: 'application/octet-stream' }),
  );
  c.stdin(1, body, 8000);
  assert.equal((await c.response(1)).body.toString(), expected);
  c.records.length = 0;
  // Apache mod_proxy_fcgi streams a chunked body: no CONTENT_LENGTH, STDIN until its empty record.
  c.begin(2, cgiParams('POST', '/upload', { CONTENT_TYPE: 'application/octet-stream' }));
  c.stdin(2, body, 65535);
  assert.equal((await c.response(2)).body.toString(), expected);
  c.close();
});

test('FastCGI splits a large response into STDOUT records of at most 65535 bytes', async () => {
  const c = await FcgiClient.open(port);
  c.begin(1, cgiParams('GET', '/big'));
  c.stdin(1);
  const r = await c.response(1);
  assert.equal(r.body.length, 200_000);
  const stdout = c.records.filter((rec) => rec.type === FcgiType.STDOUT);
  assert.ok(stdout.length >= 4);
  assert.ok(stdout.every((rec) => rec.content.length <= FCGI_MAX_CONTENT));
  assert.equal(stdout.at(-1)!.content.length, 0, 'the stream ends with an empty STDOUT record');
  c.close();
});

test('FastCGI multiplexes requests on one connection, answering each by its id', async () => {
  const c = await FcgiClient.open(port);
  c.begin(3, cgiParams('GET', '/info?x=three'));
  c.begin(5, cgiParams('POST', '/upload', { CONTENT_LENGTH: '3' }));
  c.stdin(5, 'abc');
  c.stdin(3);
  const [three, five] = await Promise.all([c.response(3), c.response(5)]);
  assert.equal(JSON.parse(three.body.toString()).arg, 'three');
  assert.match(five.body.toString(), /^3 /);
  c.close();
});

test('FastCGI answers one request too many on a connection with OVERLOADED', async () => {
  const c = await FcgiClient.open(port);
  for (let id = 1; id <= 17; id++) c.begin(id, cgiParams('POST', '/upload', { CONTENT_LENGTH: '1' }));
  await c.until(() => c.ended(17) !== undefined);
  assert.equal(c.ended(17)!.content[4], FcgiProtocolStatus.OVERLOADED);
  assert.equal(c.ended(1), undefined);
  for (let id = 1; id <= 16; id++) c.stdin(id, 'z');
  for (let id = 1; id <= 16; id++) assert.equal((await c.response(id)).status, 200);
  c.close();
});

test('FastCGI answers GET_VALUES with the variables it knows, MPXS_CONNS=1', async () => {
  const c = await FcgiClient.open(port);
  c.send(
    encodeRecord(
      FcgiType.GET_VALUES,
      0,
      encodeNameValuePairs([
        ['FCGI_MPXS_CONNS', ''],
        ['FCGI_MAX_REQS', ''],
        ['OTHER', ''],
      ]),
    ),
  );
  await c.until(() => c.records.some((r) => r.type === FcgiType.GET_VALUES_RESULT));
  const result = c.records.find((r) => r.type === FcgiType.GET_VALUES_RESULT)!;
  const decoded = decodeNameValuePairs(result.content);
  assert.ok(decoded.ok);
  assert.deepEqual(
    decoded.pairs.map(([n, v]) => [n, v.toString()]),
    [
      ['FCGI_MPXS_CONNS', '1'],
      ['FCGI_MAX_REQS', '16'],
    ],
  );
  c.close();
});

test('FastCGI answers unknown record types with UNKNOWN_TYPE and keeps serving', async () => {
  const c = await FcgiClient.open(port);
  c.send(encodeRecord(42, 0, Buffer.alloc(3)), encodeRecord(FcgiType.END_REQUEST, 0, Buffer.alloc(8)));
  await c.until(() => c.records.filter((r) => r.type === FcgiType.UNKNOWN_TYPE).length === 2);
  assert.deepEqual(
    c.records.map((r) => r.content[0]),
    [42, FcgiType.END_REQUEST],
  );
  c.begin(1, cgiParams('GET', '/static.txt'));
  c.stdin(1);
  assert.equal((await c.response(1)).status, 200);
  c.close();
});

test('FastCGI answers roles other than responder with UNKNOWN_ROLE', async () => {
  const c = await FcgiClient.open(port);
  c.begin(1, cgiParams('GET', '/static.txt'), { role: 2 });
  await c.until(() => c.ended(1) !== undefined);
  assert.equal(c.ended(1)!.content[4], FcgiProtocolStatus.UNKNOWN_ROLE);
  assert.equal(c.records.filter((r) => r.type === FcgiType.STDOUT).length, 0);
  c.close();
});

test('FastCGI ABORT_REQUEST makes notifyFinish reject and ends the request', async () => {
  const c = await FcgiClient.open(port);
  const lost = events.waitLost();
  c.begin(1, cgiParams('GET', '/stream'));
  c.stdin(1);
  await c.until(() => c.records.some((r) => r.type === FcgiType.STDOUT && r.requestId === 1));
  c.send(encodeRecord(FcgiType.ABORT_REQUEST, 1));
  await lost;
  await c.until(() => c.ended(1) !== undefined);
  assert.equal(c.ended(1)!.content[4], FcgiProtocolStatus.REQUEST_COMPLETE);
  c.records.length = 0;
  c.begin(1, cgiParams('GET', '/static.txt'));
  c.stdin(1);
  assert.equal((await c.response(1)).status, 200);
  c.close();
});

test('FastCGI closing the connection mid-response makes notifyFinish reject', async () => {
  const c = await FcgiClient.open(port);
  const lost = events.waitLost();
  c.begin(1, cgiParams('GET', '/stream'));
  c.stdin(1);
  await c.until(() => c.records.some((r) => r.type === FcgiType.STDOUT));
  c.close();
  await lost;
});

test('FastCGI refuses params with control characters with a 400', async () => {
  const c = await FcgiClient.open(port);
  c.begin(1, cgiParams('GET', '/info', { HTTP_X_EVIL: 'a\r\nSet-Cookie: x=1' }));
  c.stdin(1);
  const r = await c.response(1);
  assert.equal(r.status, 400);
  c.close();
});

test('FastCGI writes the status of server errors to STDERR for the front end log', async () => {
  const { site } = gatewaySite();
  site.resource.putChild(
    'boom',
    new (class extends Data {
      override GET(): never {
        throw new Error('kaput');
      }
    })('', 'text/plain'),
  );
  const l = await listenFastCgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  const c = await FcgiClient.open(l.port!);
  c.begin(1, cgiParams('GET', '/boom'));
  c.stdin(1);
  const r = await c.response(1);
  assert.equal(r.status, 500);
  assert.match(r.stderr, /500 to GET \/boom/);
  c.close();
  await l.close(100);
});

const violations: Array<[string, (c: FcgiClient) => void]> = [
  ['a bad version byte', (c) => c.send(Buffer.from([9, 1, 0, 1, 0, 8, 0, 0]), Buffer.alloc(8))],
  ['a BEGIN_REQUEST body that is not 8 bytes', (c) => c.send(encodeRecord(FcgiType.BEGIN_REQUEST, 1, Buffer.alloc(3)))],
  ['a BEGIN_REQUEST body of 9 bytes', (c) => c.send(encodeRecord(FcgiType.BEGIN_REQUEST, 1, Buffer.alloc(9, 1)))],
  [
    'a BEGIN_REQUEST for the null request id',
    (c) => c.send(encodeRecord(FcgiType.BEGIN_REQUEST, 0, Buffer.alloc(8, 1))),
  ],
  ['params over 64 KiB', (c) => c.begin(1, cgiParams('GET', '/', { HTTP_X_BIG: 'y'.repeat(70_000) }))],
  [
    'more than 1000 params',
    (c) => c.begin(1, Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`P${i}`, 'v']))),
  ],
  [
    'malformed name-value pairs',
    (c) => {
      const body = Buffer.alloc(8);
      body[1] = 1;
      c.send(
        encodeRecord(FcgiType.BEGIN_REQUEST, 1, body),
        encodeRecord(FcgiType.PARAMS, 1, Buffer.from([0x90, 0, 0])),
        encodeRecord(FcgiType.PARAMS, 1),
      );
    },
  ],
  [
    'a second BEGIN_REQUEST for an active id',
    (c) => {
      c.begin(1, cgiParams('POST', '/upload', { CONTENT_LENGTH: '5' }));
      c.begin(1, cgiParams('GET', '/'));
    },
  ],
  [
    'STDIN before the params end',
    (c) => {
      const body = Buffer.alloc(8);
      body[1] = 1;
      c.send(encodeRecord(FcgiType.BEGIN_REQUEST, 1, body), encodeRecord(FcgiType.STDIN, 1, Buffer.from('x')));
    },
  ],
  [
    'more STDIN than CONTENT_LENGTH',
    (c) => {
      c.begin(1, cgiParams('POST', '/upload', { CONTENT_LENGTH: '2' }));
      c.stdin(1, 'abcdef');
    },
  ],
];
for (const [what, send] of violations) {
  test(`FastCGI closes the connection on ${what}, and the next connection works`, async () => {
    const c = await FcgiClient.open(port);
    send(c);
    await c.until(() => c.closed);
    const d = await FcgiClient.open(port);
    d.begin(1, cgiParams('GET', '/static.txt'));
    d.stdin(1);
    assert.equal((await d.response(1)).status, 200);
    d.close();
  });
}

test('FastCGI closes a connection idle past idleTimeout', async () => {
  const { site } = gatewaySite();
  const l = await listenFastCgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' }, { idleTimeout: 200 });
  const c = await FcgiClient.open(l.port!);
  const t0 = Date.now();
  await c.until(() => c.closed, 3000);
  assert.ok(Date.now() - t0 >= 150);
  await l.close(100);
});

test('FastCGI serves over a UNIX socket', async (t) => {
  const { tempDir } = await import('../../helpers/server.js');
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const { site } = gatewaySite();
  const l = await listenFastCgi(site, { type: 'unix', path: `${dir.path}/fcgi.sock` });
  assert.equal(l.url, `unix:${dir.path}/fcgi.sock`);
  const c = await FcgiClient.open(`${dir.path}/fcgi.sock`);
  c.begin(1, cgiParams('GET', '/static.txt'));
  c.stdin(1);
  assert.equal((await c.response(1)).body.toString(), STATIC_TEXT);
  c.close();
  await l.close(100);
});

test('FastCGI applies backpressure: STDIN stops being read while the resource does not read its body', async () => {
  const size = 48 * 1024 * 1024;
  const c = await FcgiClient.open(port);
  await new Promise((r) => setTimeout(r, 20));
  const server = serverSockets.at(-1)!;
  c.begin(1, cgiParams('POST', '/slow-upload', { CONTENT_LENGTH: String(size) }));
  const piece = Buffer.alloc(65535, 0x42);
  const recs: Buffer[] = [];
  for (let sent = 0; sent < size; sent += piece.length)
    recs.push(encodeRecord(FcgiType.STDIN, 1, piece.subarray(0, Math.min(piece.length, size - sent))));
  recs.push(encodeRecord(FcgiType.STDIN, 1));
  for (const r of recs) c.socket.write(r);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(server.bytesRead < size / 2, `the server read ${server.bytesRead} bytes before the resource asked for any`);
  slow.release();
  const r = await c.response(1, 20_000);
  assert.equal(r.body.toString(), String(size));
  c.close();
});

test('property: random record sequences on a live connection never take the server down', async () => {
  const { default: fc } = await import('fast-check');
  const record = fc.tuple(
    fc.integer({ min: 0, max: 14 }),
    fc.integer({ min: 0, max: 4 }),
    fc.uint8Array({ maxLength: 64 }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(record, { maxLength: 12 }), fc.boolean(), async (records, garbage) => {
      const c = await FcgiClient.open(port);
      c.send(...records.map(([type, id, content]) => encodeRecord(type, id, Buffer.from(content))));
      if (garbage) c.send(Buffer.from([7, 7, 7, 7, 7, 7, 7, 7]));
      await new Promise((r) => setTimeout(r, 5));
      c.close();
    }),
    { numRuns: 60 },
  );
  const d = await FcgiClient.open(port);
  d.begin(1, cgiParams('GET', '/static.txt'));
  d.stdin(1);
  assert.equal((await d.response(1)).status, 200);
  d.close();
});

test('FastCGI closes a connection that floods management records without reading the replies', async () => {
  const c = await FcgiClient.open(port);
  c.socket.pause();
  const flood = Buffer.concat(Array.from({ length: 4096 }, () => encodeRecord(99, 0)));
  for (let i = 0; i < 100 && !c.closed; i++) {
    c.socket.write(flood);
    await new Promise((r) => setTimeout(r, 5));
  }
  await c.until(() => c.closed, 10_000);
});
