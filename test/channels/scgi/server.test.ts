// The SCGI channel over a real socket with a raw client: one request per connection, the body
// streamed in, a CGI-style answer, and malformed headers closing the connection (SECURITY.md §5.2).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { encodeScgiHeader } from '../../../src/channels/scgi/netstring.js';
import { listenScgi } from '../../../src/channels/scgi/server.js';
import { Resource } from '../../../src/resource.js';
import { Site } from '../../../src/site.js';
import type { Listener } from '../../../src/channels/listen.js';
import { cgiParams, parseCgiReply, type CgiReply } from '../../helpers/fastcgi-client.js';
import { gatewaySite, slowUpload, STATIC_TEXT, type StreamEvents } from '../../helpers/gateway-site.js';

let listener: Listener;
let events: StreamEvents;
const slow = slowUpload();
const serverSockets: Socket[] = [];

before(async () => {
  const g = gatewaySite();
  events = g.events;
  g.site.resource.putChild('slow-upload', slow.resource);
  listener = await listenScgi(g.site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  listener.server.on('connection', (s: Socket) => serverSockets.push(s));
});
after(() => listener.close(100));

/** Sends raw bytes, resolves with everything the server sent before closing. */
function exchange(data: Buffer, options: { halfClose?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(listener.port!, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.write(data);
    if (options.halfClose) socket.end();
  });
}

function scgiRequest(
  method: string,
  uri: string,
  body: Buffer = Buffer.alloc(0),
  extra: Record<string, string> = {},
  scriptName = '',
): Buffer {
  const params = cgiParams(method, uri, extra, scriptName);
  const header = encodeScgiHeader([['CONTENT_LENGTH', String(body.length)], ['SCGI', '1'], ...Object.entries(params)]);
  return Buffer.concat([header, body]);
}

async function ask(
  method: string,
  uri: string,
  body?: Buffer,
  extra?: Record<string, string>,
  scriptName?: string,
): Promise<CgiReply> {
  return parseCgiReply(await exchange(scgiRequest(method, uri, body, extra, scriptName)));
}

test('SCGI answers a GET with a Status line, headers and body, then closes', async () => {
  const r = await ask('GET', '/app/static.txt', undefined, {}, '/app');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(r.body.toString(), STATIC_TEXT);
});

test('SCGI builds the Request from the header: mount, public URL, Proxy dropped', async () => {
  const info = JSON.parse(
    (await ask('GET', '/app/info?x=2', undefined, { HTTP_PROXY: 'evil' }, '/app')).body.toString(),
  );
  assert.deepEqual(info.prepath, ['app', 'info']);
  assert.equal(info.prePathURL, 'http://example.test:8080/app/info');
  assert.equal(info.proxy, null);
  assert.equal(info.channel, 'scgi');
});

test('SCGI streams a 1 MiB body into the request, also when the front end half-closes', async () => {
  const body = Buffer.alloc(1024 * 1024, 0x5a);
  const expected = `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
  assert.equal((await ask('POST', '/upload', body)).body.toString(), expected);
  const half = parseCgiReply(await exchange(scgiRequest('POST', '/upload', body), { halfClose: true }));
  assert.equal(half.body.toString(), expected);
});

test('SCGI redirects to the public URL under the mount', async () => {
  const r = await ask('GET', '/app/go', undefined, {}, '/app');
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), 'http://example.test:8080/app/info');
});

test('SCGI: the front end closing mid-response makes notifyFinish reject', async () => {
  const lost = events.waitLost();
  await new Promise<void>((resolve) => {
    const socket = connect(listener.port!, '127.0.0.1');
    socket.write(scgiRequest('GET', '/stream'));
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
  });
  await lost;
  assert.equal((await ask('GET', '/static.txt')).status, 200);
});

const malformed: Array<[string, Buffer]> = [
  [
    'a header without SCGI=1',
    Buffer.from(
      encodeScgiHeader([
        ['CONTENT_LENGTH', '0'],
        ['REQUEST_METHOD', 'GET'],
      ]),
    ),
  ],
  [
    'CONTENT_LENGTH not first',
    Buffer.from(
      encodeScgiHeader([
        ['SCGI', '1'],
        ['CONTENT_LENGTH', '0'],
      ]),
    ),
  ],
  ['a length with a leading zero', Buffer.from('07:CONTENT_LENGTH\u00000\u0000,')],
  ['a header over 64 KiB', Buffer.from(`70000:${'x'.repeat(100)}`)],
  ['no comma after the netstring', Buffer.from('24:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000X')],
];
for (const [what, bytes] of malformed) {
  test(`SCGI closes the connection without an answer on ${what}`, async () => {
    assert.equal((await exchange(bytes)).length, 0);
    assert.equal((await ask('GET', '/static.txt')).status, 200);
  });
}

test('SCGI refuses gateway values with CR or LF with a 400', async () => {
  assert.equal((await ask('GET', '/info', undefined, { HTTP_X_EVIL: 'a\nb' })).status, 400);
});

test('SCGI closes a connection whose header stalls (headerTimeout)', async () => {
  const g = gatewaySite();
  const site = g.site;
  (site.limits as { headerTimeout: number }).headerTimeout = 200;
  const l = await listenScgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  const t0 = Date.now();
  await new Promise<void>((resolve) => {
    const socket = connect(l.port!, '127.0.0.1');
    socket.write('100:CONTENT_LENGTH');
    socket.on('close', () => resolve());
    socket.on('error', () => {});
  });
  assert.ok(Date.now() - t0 < 3000);
  await l.close(100);
});

test('SCGI applies backpressure: the body stops being read while the resource does not read it', async () => {
  const size = 48 * 1024 * 1024;
  const body = Buffer.alloc(size, 0x43);
  const reply = exchange(scgiRequest('POST', '/slow-upload', body));
  await new Promise((r) => setTimeout(r, 500));
  const server = serverSockets.at(-1)!;
  assert.ok(server.bytesRead < size / 2, `the server read ${server.bytesRead} bytes before the resource asked for any`);
  slow.release();
  assert.equal(parseCgiReply(await reply).body.toString(), String(size));
});

test('property: random and truncated headers on live connections never take the server down', async () => {
  const { default: fc } = await import('fast-check');
  const valid = scgiRequest('POST', '/upload', Buffer.from('hello'));
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        fc.nat({ max: valid.length }).map((n) => valid.subarray(0, n)),
      ),
      async (bytes) => {
        await new Promise<void>((resolve) => {
          const socket = connect(listener.port!, '127.0.0.1');
          socket.on('error', () => {});
          socket.on('close', () => resolve());
          socket.write(bytes, () => setTimeout(() => socket.destroy(), 5));
        });
      },
    ),
    { numRuns: 60 },
  );
  assert.equal((await ask('GET', '/static.txt')).status, 200);
});

test('SCGI closes a connection whose header, however slow, is not whole within headerTimeout', async () => {
  const site = new Site(new Resource(), { limits: { headerTimeout: 400 }, logError: () => {} });
  const l = await listenScgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  const socket = connect(l.port!, '127.0.0.1');
  let closed = false;
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  try {
    const t0 = Date.now();
    // One header byte every 100 ms: never idle, never whole.
    socket.write('9000:');
    for (let i = 0; i < 25 && !closed; i++) {
      socket.write('a');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(closed, 'closed by the head deadline');
    const took = Date.now() - t0;
    assert.ok(took >= 350, `closed after ${took} ms, not before the deadline`);
  } finally {
    socket.destroy();
    await l.close(100);
  }
});
