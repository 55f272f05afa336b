// A client leaving while its response is pending, on every channel that can see it go: HTTP/1.1 (FIN
// or reset, plain and over TLS), HTTP/2 (RST_STREAM, or the whole session closing), FastCGI
// (ABORT_REQUEST, or the front end closing the connection), SCGI and AJP (the connection closing).
// Each time notifyFinish() rejects within 2 s and the access log marks the response aborted
// (SECURITY.md §3.3).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as h2connect, constants as h2constants } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { combinedLogLine, type AccessLogEntry } from '../../src/access-log.js';
import { forwardRequestPayload, serverPacket } from '../../src/channels/ajp/packets.js';
import { listenAjp } from '../../src/channels/ajp/server.js';
import { FcgiType, encodeRecord } from '../../src/channels/fastcgi/records.js';
import { listenFastCgi } from '../../src/channels/fastcgi/server.js';
import { listenHttp } from '../../src/channels/http.js';
import type { Listener } from '../../src/channels/listen.js';
import { encodeScgiHeader } from '../../src/channels/scgi/netstring.js';
import { listenScgi } from '../../src/channels/scgi/server.js';
import { NOT_DONE_YET, type Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { FcgiClient, cgiParams } from '../helpers/fastcgi-client.js';
import { findPeer, needPeer } from '../helpers/peers.js';
import { tempDir } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

/** How long a channel may take to notice the client left. */
const NOTICE_MS = 2000;

/**
 * Writes a line every 50 ms until the client leaves (or for 5 s at most), and records each rejection
 * of notifyFinish by URI.
 */
class Ticker extends Resource {
  override isLeaf = true;
  readonly lost = new Map<string, Error>();
  override GET(request: Request) {
    request.setHeader('Content-Type', 'text/plain');
    let ticks = 0;
    const timer = setInterval(() => {
      if (++ticks > 100) request.finish();
      else request.write(`tick ${'x'.repeat(200)}\n`);
    }, 50);
    request.write('tick\n');
    request.notifyFinish().then(
      () => clearInterval(timer),
      (err: Error) => {
        clearInterval(timer);
        this.lost.set(request.uri, err);
      },
    );
    return NOT_DONE_YET;
  }
}

const ticker = new Ticker();
const logged: AccessLogEntry[] = [];
let plain: Listener;
let secure: Listener | null = null;
let ca: Buffer | null = null;
let fastcgi: Listener;
let scgi: Listener;
let ajp: Listener;
let tmp: { path: string; cleanup(): void } | null = null;

before(async () => {
  const root = new Resource();
  root.putChild('ticker', ticker);
  const accessLog = { log: (e: AccessLogEntry) => void logged.push(e), reopen() {}, close: async () => {} };
  const site = new Site(root, { logError: () => {}, accessLog });
  plain = await listenHttp(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  fastcgi = await listenFastCgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  scgi = await listenScgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  ajp = await listenAjp(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  const openssl = findPeer('openssl');
  if (openssl) {
    tmp = tempDir();
    const tls = makeCertificate(openssl, tmp.path);
    ca = readFileSync(tls.cert);
    const endpoint = { type: 'ssl', port: 0, interface: '127.0.0.1', privateKey: tls.key, certKey: tls.cert } as const;
    secure = await listenHttp(site, endpoint);
  }
});

after(async () => {
  await Promise.all([plain, fastcgi, scgi, ajp, secure].map((l) => l?.close(200)));
  tmp?.cleanup();
});

/** Asserts that the request for `uri` saw notifyFinish reject in time, and that its log line says aborted. */
async function assertAborted(uri: string): Promise<void> {
  const deadline = Date.now() + NOTICE_MS;
  while (!ticker.lost.has(uri)) {
    if (Date.now() > deadline) assert.fail(`notifyFinish for ${uri} did not reject within ${NOTICE_MS} ms`);
    await delay(10);
  }
  let entry: AccessLogEntry | undefined;
  while (!(entry = logged.find((e) => e.uri === uri))) {
    if (Date.now() > deadline + 500) assert.fail(`no access-log entry for ${uri}`);
    await delay(10);
  }
  assert.equal(entry.aborted, true);
  assert.equal(entry.status, 200, 'the status that was sent');
  assert.match(combinedLogLine(entry), / 200 \d+ "-" "-" aborted\n$/);
}

/** Resolves with the first bytes `socket` receives. */
function firstData(socket: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => socket.once('data', () => resolve()));
}

describe('a client leaving a pending response', () => {
  test('HTTP/1.1, the client half-closes (FIN)', async () => {
    const socket = connect(plain.port!, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /ticker?h1-fin HTTP/1.1\r\nHost: x\r\n\r\n');
    await firstData(socket);
    socket.end();
    await assertAborted('/ticker?h1-fin');
    socket.destroy();
  });

  test('HTTP/1.1, the client resets the connection', async () => {
    const socket = connect(plain.port!, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /ticker?h1-rst HTTP/1.1\r\nHost: x\r\n\r\n');
    await firstData(socket);
    socket.resetAndDestroy();
    await assertAborted('/ticker?h1-rst');
  });

  test('HTTP/1.1 over TLS, the client closes its side', async (t) => {
    if (!secure && !needPeer(t, 'openssl')) return;
    if (!secure) throw new Error('the TLS listener did not start');
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: secure.port!,
      ca: ca!,
      servername: 'localhost',
      ALPNProtocols: ['http/1.1'],
    });
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write('GET /ticker?tls-fin HTTP/1.1\r\nHost: x\r\n\r\n');
    await firstData(socket);
    socket.end();
    await assertAborted('/ticker?tls-fin');
    socket.destroy();
  });

  test('HTTP/2, the client cancels the stream (RST_STREAM)', async (t) => {
    if (!secure && !needPeer(t, 'openssl')) return;
    if (!secure) throw new Error('the TLS listener did not start');
    const session = h2connect(`https://localhost:${secure.port}`, { ca: ca! });
    session.on('error', () => {});
    try {
      const stream = session.request({ ':path': '/ticker?h2-rst' });
      stream.on('error', () => {});
      await firstData(stream);
      stream.close(h2constants.NGHTTP2_CANCEL);
      await assertAborted('/ticker?h2-rst');
    } finally {
      session.destroy();
    }
  });

  test('HTTP/2, the client closes the whole connection', async (t) => {
    if (!secure && !needPeer(t, 'openssl')) return;
    if (!secure) throw new Error('the TLS listener did not start');
    const session = h2connect(`https://localhost:${secure.port}`, { ca: ca! });
    session.on('error', () => {});
    const stream = session.request({ ':path': '/ticker?h2-close' });
    stream.on('error', () => {});
    await firstData(stream);
    session.destroy();
    await assertAborted('/ticker?h2-close');
  });

  test('FastCGI, the front end sends ABORT_REQUEST', async () => {
    const c = await FcgiClient.open(fastcgi.port!);
    try {
      c.begin(1, cgiParams('GET', '/ticker?fcgi-abort'));
      c.stdin(1);
      await c.until(() => c.records.some((r) => r.type === FcgiType.STDOUT && r.requestId === 1));
      c.send(encodeRecord(FcgiType.ABORT_REQUEST, 1));
      await assertAborted('/ticker?fcgi-abort');
    } finally {
      c.close();
    }
  });

  test('FastCGI, the front end closes the connection', async () => {
    const c = await FcgiClient.open(fastcgi.port!);
    c.begin(1, cgiParams('GET', '/ticker?fcgi-close'));
    c.stdin(1);
    await c.until(() => c.records.some((r) => r.type === FcgiType.STDOUT && r.requestId === 1));
    c.close();
    await assertAborted('/ticker?fcgi-close');
  });

  test('SCGI, the front end closes the connection', async () => {
    const socket: Socket = connect(scgi.port!, '127.0.0.1');
    socket.on('error', () => {});
    const params = Object.entries(cgiParams('GET', '/ticker?scgi-close'));
    socket.write(encodeScgiHeader([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...params]));
    await firstData(socket);
    socket.destroy();
    await assertAborted('/ticker?scgi-close');
  });

  test('AJP, the web server closes the connection', async () => {
    const socket: Socket = connect(ajp.port!, '127.0.0.1');
    socket.on('error', () => {});
    const payload = forwardRequestPayload({
      method: 'GET',
      reqUri: '/ticker/ajp-close',
      serverName: '127.0.0.1',
      serverPort: 8080,
      headers: [['Host', 'h']],
    });
    socket.write(serverPacket(payload));
    await firstData(socket);
    socket.destroy();
    await assertAborted('/ticker/ajp-close');
  });
});
