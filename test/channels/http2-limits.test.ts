import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type ClientHttp2Session, connect, constants } from 'node:http2';
import { test } from 'node:test';
import { listenHttp } from '../../src/channels/http.js';
import { NOT_DONE_YET, type Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { needPeer } from '../helpers/peers.js';
import { tempDir } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

class Never extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    request.notifyFinish().catch(() => {});
    return NOT_DONE_YET;
  }
}

class Hello extends Resource {
  override isLeaf = true;
  override GET() {
    return 'hello';
  }
}

async function withH2Server(
  t: import('node:test').TestContext,
  fn: (url: string, ca: Buffer) => Promise<void>,
): Promise<void> {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const dir = tempDir();
  const tls = makeCertificate(openssl, dir.path);
  const root = new Resource();
  root.putChild('never', new Never());
  root.putChild('hello', new Hello());
  const listener = await listenHttp(new Site(root), {
    type: 'ssl',
    port: 0,
    interface: '127.0.0.1',
    privateKey: tls.key,
    certKey: tls.cert,
  });
  try {
    await fn(`https://localhost:${listener.port}`, readFileSync(tls.cert));
  } finally {
    await listener.close(200);
    dir.cleanup();
  }
}

test('HTTP/2 Rapid Reset: a flood of cancelled streams gets GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  await withH2Server(t, async (url, ca) => {
    const session = connect(url, { ca });
    session.on('error', () => {});
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
    await new Promise((r) => session.once('connect', r));
    // Open and cancel streams as fast as possible, staying under the concurrent-stream limit.
    for (let i = 0; i < 99 && !session.destroyed; i++) {
      const stream = session.request({ ':path': '/never' });
      stream.on('error', () => {});
      stream.close(constants.NGHTTP2_CANCEL);
    }
    const code = await Promise.race([goaway, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.equal(code, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    session.destroy();
  });
});

/** Opens `count` streams to `path` on `session`, each reset by the client as soon as it is sent. */
function requestAndReset(session: ClientHttp2Session, path: string, count: number): void {
  for (let i = 0; i < count && !session.destroyed; i++) {
    const stream = session.request({ ':path': path });
    stream.on('error', () => {});
    stream.close(constants.NGHTTP2_CANCEL);
  }
}

test('HTTP/2: resets that cross a complete answer are not early resets, and the connection keeps serving', async (t) => {
  await withH2Server(t, async (url, ca) => {
    const session = connect(url, { ca });
    session.on('error', () => {});
    let goaway = -1;
    session.on('goaway', (code) => {
      goaway = code;
    });
    await new Promise((r) => session.once('connect', r));
    // 45 a second for 6 s: under the per-second budget, and past 200 streams with every one reset.
    for (let batch = 0; batch < 6 && !session.destroyed; batch++) {
      requestAndReset(session, '/hello', 45);
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(goaway, -1, 'the server sent GOAWAY');
    const stream = session.request({ ':path': '/hello' });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    await new Promise((r) => stream.once('end', r));
    assert.equal(body, 'hello');
    session.destroy();
  });
});

test('HTTP/2 refuses a header list over 64 KiB but keeps serving others', async (t) => {
  await withH2Server(t, async (url, ca) => {
    const session = connect(url, { ca, maxSendHeaderBlockLength: 1024 * 1024 } as Parameters<typeof connect>[1]);
    session.on('error', () => {});
    await new Promise((r) => session.once('connect', r));
    const big = session.request({ ':path': '/hello', 'x-big': 'v'.repeat(70 * 1024) });
    const outcome = await new Promise<string>((resolve) => {
      big.on('response', (h) => resolve(`status ${h[':status']}`));
      big.on('error', (e: Error) => resolve(`error ${e.message}`));
      big.on('close', () => resolve(`closed ${big.rstCode}`));
      big.end();
    });
    assert.doesNotMatch(outcome, /status 200/);
    const fresh = connect(url, { ca });
    fresh.on('error', () => {});
    const ok = await new Promise<number>((resolve) => {
      const s = fresh.request({ ':path': '/hello' });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.resume();
      s.end();
    });
    assert.equal(ok, 200);
    fresh.destroy();
    session.destroy();
  });
});
