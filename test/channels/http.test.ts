import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { listenHttp } from '../../src/channels/http.js';
import { EncodingResourceWrapper } from '../../src/encoding/encoding-resource-wrapper.js';
import { GzipEncoderFactory } from '../../src/encoding/encoders.js';
import { NOT_DONE_YET, type Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { Site, type SiteOptions } from '../../src/site.js';
import { redirectTo } from '../../src/util/redirect.js';
import { channelMatrix } from '../helpers/matrix.js';
import { needPeer } from '../helpers/peers.js';
import { serveSite, tempDir } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

const run = promisify(execFile);

class Hello extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    return `Hello at /${request.prepath.join('/')} secure=${request.isSecure()} client=${request.getClientIP()} url=${request.prePathURL()}`;
  }
}

class Echo extends Resource {
  override isLeaf = true;
  override async POST(request: Request) {
    const body = await request.readBody();
    return `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
  }
}

class Stream extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    let n = 0;
    const tick = () => {
      if (request.disconnected) return;
      request.write(`line ${n}\n`);
      if (++n < 5) setTimeout(tick, 2);
      else request.finish();
    };
    tick();
    return NOT_DONE_YET;
  }
}

class Session extends Resource {
  override isLeaf = true;
  override async GET(request: Request) {
    const s = await request.getSession();
    s.set('n', (s.get<number>('n') ?? 0) + 1);
    return String(s.get('n'));
  }
}

class Dir extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    return redirectTo(request.URLPath().child('').toString(), request);
  }
}

/** Records whether each streaming request saw the client leave. */
const lostClients: string[] = [];

class Endless extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    const timer = setInterval(() => request.write('x'.repeat(1024)), 1);
    request.notifyFinish().then(
      () => clearInterval(timer),
      () => {
        clearInterval(timer);
        lostClients.push(request.uri);
      },
    );
    return NOT_DONE_YET;
  }
}

function buildSite(options: SiteOptions = {}): Site {
  const root = new Resource();
  root.putChild('hello', new Hello());
  root.putChild('echo', new Echo());
  root.putChild('stream', new Stream());
  root.putChild('session', new Session());
  root.putChild('dir', new Dir());
  root.putChild('endless', new Endless());
  root.putChild('gz', new EncodingResourceWrapper(new Hello(), [new GzipEncoderFactory()]));
  const big = new Hello();
  big.GET = () => 'compress me '.repeat(500);
  root.putChild('big', new EncodingResourceWrapper(big, [new GzipEncoderFactory()]));
  return new Site(root, { logError: () => {}, headers: [['X-Site', 'trellis']], ...options });
}

test('the same behaviours over HTTP/1.1, HTTPS and HTTP/2', async (t) => {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const dir = tempDir();
  const tls = makeCertificate(openssl, dir.path);
  const { clients, close } = await channelMatrix(buildSite(), tls);
  try {
    for (const c of clients) {
      await t.test(`${c.name}: a leaf renders with the right prepath, security and client address`, async () => {
        const r = await c.request('GET', '/hello/extra');
        assert.equal(r.status, 200);
        const scheme = c.secure ? 'https' : 'http';
        assert.equal(
          r.text,
          `Hello at /hello secure=${c.secure} client=127.0.0.1 url=${scheme}://localhost:${c.port}/hello`,
        );
        assert.equal(r.headers['x-site'], 'trellis');
        assert.match(String(r.headers.server), /^Trellis\//);
        assert.ok(r.headers.date);
      });
      await t.test(`${c.name}: 404 page with charset and the added header`, async () => {
        const r = await c.request('GET', '/missing');
        assert.equal(r.status, 404);
        assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
        assert.equal(r.headers['x-site'], 'trellis');
      });
      await t.test(`${c.name}: HEAD has headers and no body`, async () => {
        const r = await c.request('HEAD', '/hello');
        assert.equal(r.status, 200);
        assert.ok(Number(r.headers['content-length']) > 0);
        assert.equal(r.body.length, 0);
      });
      await t.test(`${c.name}: 405 with Allow`, async () => {
        const r = await c.request('DELETE', '/hello');
        assert.equal(r.status, 405);
        assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
      });
      await t.test(`${c.name}: a 1 MiB POST body arrives whole`, async () => {
        const body = Buffer.alloc(1024 * 1024, 7);
        const r = await c.request('POST', '/echo', { body, headers: { 'content-type': 'application/octet-stream' } });
        assert.equal(r.text, `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
      });
      await t.test(`${c.name}: a NOT_DONE_YET resource streams its writes`, async () => {
        const r = await c.request('GET', '/stream');
        assert.equal(r.text, 'line 0\nline 1\nline 2\nline 3\nline 4\n');
      });
      await t.test(`${c.name}: sessions survive between requests`, async () => {
        const first = await c.request('GET', '/session');
        const cookie = String(first.headers['set-cookie']).split(';')[0]!;
        assert.match(cookie, c.secure ? /^TRELLIS_SECURE_SESSION=/ : /^TRELLIS_SESSION=/);
        const second = await c.request('GET', '/session', { headers: { cookie } });
        assert.equal(second.text, '2');
      });
      await t.test(`${c.name}: redirects carry the absolute URL the client used`, async () => {
        const r = await c.request('GET', '/dir');
        assert.equal(r.status, 302);
        assert.equal(r.headers.location, `${c.secure ? 'https' : 'http'}://localhost:${c.port}/dir/`);
      });
      await t.test(`${c.name}: gzip through the encoder`, async () => {
        const r = await c.request('GET', '/big', { headers: { 'accept-encoding': 'gzip' } });
        assert.equal(r.headers['content-encoding'], 'gzip');
        assert.equal(r.headers.vary, 'Accept-Encoding');
        assert.equal(gunzipSync(r.body).toString(), 'compress me '.repeat(500));
      });
    }
  } finally {
    await close();
    dir.cleanup();
  }
});

test('curl negotiates HTTP/2 by ALPN and falls back to HTTP/1.1', async (t) => {
  const openssl = needPeer(t, 'openssl');
  const curl = needPeer(t, 'curl');
  if (!openssl || !curl) return;
  const dir = tempDir();
  const tls = makeCertificate(openssl, dir.path);
  const listener = await listenHttp(buildSite(), {
    type: 'ssl',
    port: 0,
    interface: '127.0.0.1',
    privateKey: tls.key,
    certKey: tls.cert,
  });
  try {
    const url = `https://localhost:${listener.port}/hello`;
    const resolve = `localhost:${listener.port}:127.0.0.1`;
    const h2 = await run(curl, [
      '-s',
      '--cacert',
      tls.cert,
      '--resolve',
      resolve,
      '--http2',
      '-w',
      '\n%{http_version}',
      url,
    ]);
    assert.match(h2.stdout, /^Hello at \/hello secure=true/);
    assert.match(h2.stdout, /\n2$/);
    const h1 = await run(curl, [
      '-s',
      '--cacert',
      tls.cert,
      '--resolve',
      resolve,
      '--http1.1',
      '-w',
      '\n%{http_version}',
      url,
    ]);
    assert.match(h1.stdout, /\n1\.1$/);
    // A client that offers no ALPN at all gets HTTP/1.1 too, and two requests share one connection.
    const plain = await run(curl, [
      '-s',
      '-v',
      '--cacert',
      tls.cert,
      '--resolve',
      resolve,
      '--no-alpn',
      '-w',
      '\n%{http_version}\n',
      url,
      url,
    ]);
    assert.match(
      plain.stdout,
      /^Hello at \/hello secure=true[^\n]*\n1\.1\nHello at \/hello secure=true[^\n]*\n1\.1\n$/,
    );
    assert.match(plain.stderr, /Re-using existing connection/);
  } finally {
    await listener.close(500);
    dir.cleanup();
  }
});

test('nghttp sees the HTTP/2 settings: at most 100 concurrent streams', async (t) => {
  const openssl = needPeer(t, 'openssl');
  const nghttp = needPeer(t, 'nghttp');
  if (!openssl || !nghttp) return;
  const dir = tempDir();
  const tls = makeCertificate(openssl, dir.path);
  const listener = await listenHttp(buildSite(), {
    type: 'ssl',
    port: 0,
    interface: '127.0.0.1',
    privateKey: tls.key,
    certKey: tls.cert,
  });
  try {
    const { stdout } = await run(nghttp, ['-nv', `https://127.0.0.1:${listener.port}/hello`]);
    assert.match(stdout, /SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):100/);
    assert.match(stdout, /:status: 200/);
  } finally {
    await listener.close(500);
    dir.cleanup();
  }
});

/** Sends raw bytes and collects everything until the server closes (or `ms` pass). */
function raw(port: number, data: string | Buffer, ms = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed });
    }, ms);
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed });
    });
    socket.on('error', () => {});
    socket.write(data);
  });
}

test('raw HTTP/1.1: limits and framing refusals answer 4xx and close', async (t) => {
  const server = await serveSite(buildSite());
  try {
    const cases: Array<[string, string, number]> = [
      ['a 9 KiB URI is 414', `GET /${'a'.repeat(9 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
      ['a 40 KiB request line is 414', `GET /${'a'.repeat(40 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
      [
        '101 header fields is 431',
        `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 101 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`,
        431,
      ],
      ['17 KiB of headers is 431', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'v'.repeat(17 * 1024)}\r\n\r\n`, 431],
      ['two Host headers is 400', 'GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
      [
        'Transfer-Encoding on HTTP/1.0 is 400',
        'POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        400,
      ],
      [
        'Transfer-Encoding gzip, chunked is 400',
        'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
        400,
      ],
      [
        'CL and TE together is 400',
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        400,
      ],
      ['a Host with a path is 400', 'GET /hello HTTP/1.1\r\nHost: evil.example/x\r\n\r\n', 400],
      ['a missing Host on HTTP/1.1 is 400', 'GET /hello HTTP/1.1\r\n\r\n', 400],
      ['garbage is 400', 'HELLO THERE\r\n\r\n', 400],
    ];
    for (const [name, request, status] of cases) {
      await t.test(name, async () => {
        const r = await raw(server.port!, request);
        assert.match(r.text, new RegExp(`^HTTP/1\\.1 ${status} `));
        assert.equal(r.closed, true, 'the connection closes');
      });
    }
    await t.test('the server keeps serving after bad requests', async () => {
      const r = await raw(server.port!, 'GET /hello HTTP/1.1\r\nHost: ok\r\nConnection: close\r\n\r\n');
      assert.match(r.text, /^HTTP\/1\.1 200 /);
    });
    await t.test('keep-alive serves several requests on one connection, in order', async () => {
      const r = await raw(
        server.port!,
        'GET /hello/a HTTP/1.1\r\nHost: k\r\n\r\nGET /hello/b HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n',
      );
      const statuses = r.text.match(/HTTP\/1\.1 200 OK/g) ?? [];
      assert.equal(statuses.length, 2);
    });
    await t.test('HTTP/1.0 gets its answer and the connection closes', async () => {
      const r = await raw(server.port!, 'GET /hello HTTP/1.0\r\n\r\n');
      assert.match(r.text, /^HTTP\/1\.1 200 /);
      assert.equal(r.closed, true);
    });
  } finally {
    await server.close();
  }
});

test('a client that disconnects mid-response makes notifyFinish reject', async () => {
  const server = await serveSite(buildSite());
  try {
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port!, path: '/endless?lost=1' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.end();
    });
    for (let i = 0; i < 50 && !lostClients.includes('/endless?lost=1'); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(lostClients.includes('/endless?lost=1'));
    const after = await fetch(`${server.base}/hello`);
    assert.equal(after.status, 200);
  } finally {
    await server.close();
  }
});

test('a stalled request body is dropped after the body idle timeout', async () => {
  const server = await serveSite(buildSite({ limits: { bodyIdleTimeout: 300 } }));
  try {
    const start = Date.now();
    const r = await raw(
      server.port!,
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a little',
      5000,
    );
    assert.equal(r.closed, true);
    assert.ok(Date.now() - start < 3000, 'closed well before the test timeout');
  } finally {
    await server.close();
  }
});

test('an unfinished header section is answered 408 after the header timeout', async () => {
  const server = await serveSite(buildSite({ limits: { headerTimeout: 500 } }));
  try {
    const r = await raw(server.port!, 'GET /hello HTTP/1.1\r\nHost: x\r\n', 5000);
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    assert.equal(r.closed, true);
  } finally {
    await server.close();
  }
});

test('connections past the per-IP cap are closed at once', async () => {
  const server = await serveSite(buildSite({ limits: { maxConnectionsPerIp: 2 } }));
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const s = connect(server.port!, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      sockets.push(s);
    }
    const third = await raw(server.port!, 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n', 2000);
    assert.equal(third.closed, true);
    assert.equal(third.text, '');
    sockets.pop()!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const fourth = await raw(server.port!, 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(fourth.text, /^HTTP\/1\.1 200 /);
  } finally {
    for (const s of sockets) s.destroy();
    await server.close();
  }
});

test('UNIX socket listener: mode, requests, client address, stale socket replaced', async () => {
  const dir = tempDir();
  const path = join(dir.path, 'trellis.sock');
  try {
    const first = await serveSite(buildSite(), `unix:${path}:mode=600`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ socketPath: path, path: '/hello', headers: { Host: 'sock.example' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(text, 'Hello at /hello secure=false client=null url=http://sock.example/hello');
    await assert.rejects(serveSite(buildSite(), `unix:${path}`), /another server is answering/);
    await first.close();
  } finally {
    dir.cleanup();
  }
});
