import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ReverseProxyResource } from '../../src/proxy/reverse-proxy.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { freePort, listenLoopback, serveSite } from '../helpers/server.js';
import { fetchRaw } from './http-client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function backend(handler: Handler): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(handler);
  server.keepAliveTimeout = 10_000;
  return listenLoopback(server);
}

/** A backend that answers with what it received, as JSON. */
const echo: Handler = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      version: req.httpVersion,
      headers: req.rawHeaders,
      body: Buffer.concat(chunks).toString(),
      port: req.socket.remotePort,
    });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      Connection: 'X-Hop',
      'X-Hop': 'secret',
      'Keep-Alive': 'timeout=77',
      'X-Kept': 'yes',
    });
    res.end(body);
  });
};

function headerMap(raw: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    m.set(k, [...(m.get(k) ?? []), raw[i + 1]!]);
  }
  return m;
}

describe('ReverseProxyResource', () => {
  let be: Awaited<ReturnType<typeof backend>>;
  let front: Awaited<ReturnType<typeof serveSite>>;
  let proxy: ReverseProxyResource;
  let preserve: ReverseProxyResource;

  before(async () => {
    be = await backend(echo);
    const root = new Resource();
    proxy = new ReverseProxyResource('127.0.0.1', be.port, '', { forwarded: true });
    preserve = new ReverseProxyResource('127.0.0.1', be.port, '/base', { preserveHost: true });
    root.putChild('app', proxy);
    root.putChild('keep', preserve);
    front = await serveSite(new Site(root, { logError: () => {} }));
  });
  after(async () => {
    proxy.close();
    preserve.close();
    await front.close();
    await be.close();
  });

  test('forwards the rest of the path and the query, over HTTP/1.1, with the backend Host', async () => {
    const r = await fetchRaw(`${front.base}/app/a%20b/c%2Fd?x=1&y`);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body);
    assert.equal(seen.url, '/a%20b/c%2Fd?x=1&y');
    assert.equal(seen.version, '1.1');
    const h = headerMap(seen.headers);
    assert.deepEqual(h.get('host'), [`127.0.0.1:${be.port}`]);
  });

  test('the bare mount and the trailing slash both reach the backend root', async () => {
    assert.equal(JSON.parse((await fetchRaw(`${front.base}/app`)).body).url, '/');
    assert.equal(JSON.parse((await fetchRaw(`${front.base}/app/`)).body).url, '/');
    assert.equal(JSON.parse((await fetchRaw(`${front.base}/keep/x/`)).body).url, '/base/x/');
  });

  test('adds X-Forwarded-For (appended), -Proto, -Host, -Prefix and Forwarded', async () => {
    const r = await fetchRaw(`${front.base}/app/p`, {
      headers: {
        Host: 'public.example:8080',
        'X-Forwarded-For': '203.0.113.9',
        'X-Forwarded-Host': 'evil.example',
        'X-Forwarded-Proto': 'https',
      },
    });
    const h = headerMap(JSON.parse(r.body).headers);
    assert.deepEqual(h.get('x-forwarded-for'), ['203.0.113.9, 127.0.0.1']);
    assert.deepEqual(h.get('x-forwarded-proto'), ['http']);
    assert.deepEqual(h.get('x-forwarded-host'), ['public.example:8080']);
    assert.deepEqual(h.get('x-forwarded-prefix'), ['/app']);
    assert.deepEqual(h.get('forwarded'), ['for=127.0.0.1;proto=http;host="public.example:8080"']);
  });

  test('preserveHost sends the client Host', async () => {
    const r = await fetchRaw(`${front.base}/keep/`, { headers: { Host: 'public.example' } });
    assert.deepEqual(headerMap(JSON.parse(r.body).headers).get('host'), ['public.example']);
  });

  test('strips hop-by-hop and Connection-listed headers both ways (and Proxy, httpoxy), never Host or our own', async () => {
    const r = await fetchRaw(`${front.base}/app/`, {
      headers: [
        'Connection',
        'keep-alive, X-Secret, Host, X-Forwarded-For',
        'X-Secret',
        's',
        'Keep-Alive',
        '300',
        'TE',
        'trailers',
        'Upgrade',
        'h2c',
        'HTTP2-Settings',
        'AAMAAABkAAQAAP__',
        'Proxy-Authorization',
        'Basic eA==',
        'Proxy',
        'http://evil.example:8080',
        'X-Plain',
        'p',
        'Host',
        'h.example',
      ],
    });
    const h = headerMap(JSON.parse(r.body).headers);
    for (const gone of ['x-secret', 'keep-alive', 'upgrade', 'http2-settings', 'proxy-authorization', 'proxy'])
      assert.equal(h.has(gone), false, gone);
    assert.deepEqual(h.get('te'), ['trailers']);
    assert.deepEqual(h.get('x-plain'), ['p']);
    assert.ok(h.get('x-forwarded-for'));
    const back = headerMap(r.raw);
    assert.equal(back.has('x-hop'), false);
    assert.notDeepEqual(back.get('keep-alive'), ['timeout=77']);
    assert.deepEqual(back.get('x-kept'), ['yes']);
  });

  test('drops request fields whose name holds _ and the client X-Real-IP (SECURITY.md §2.3)', async () => {
    const r = await fetchRaw(`${front.base}/app/`, {
      method: 'POST',
      headers: [
        'Host',
        'public.example',
        'Transfer_Encoding',
        'chunked',
        'Content_Length',
        '5',
        'X_Forwarded_For',
        '10.0.0.1',
        'X-Real-IP',
        '10.9.9.9',
        'x-real-ip',
        '10.8.8.8',
        'X-Dash-Only',
        'd',
      ],
      body: 'hello',
    });
    assert.equal(r.status, 200, r.body);
    const seen = JSON.parse(r.body);
    assert.equal(seen.body, 'hello');
    const h = headerMap(seen.headers);
    for (const gone of ['transfer_encoding', 'content_length', 'x_forwarded_for', 'x-real-ip'])
      assert.equal(h.has(gone), false, gone);
    assert.deepEqual(h.get('x-dash-only'), ['d']);
    // The client sent its body chunked (Content_Length is no Content-Length): so does the proxy, once.
    assert.deepEqual(h.get('transfer-encoding'), ['chunked']);
    assert.deepEqual(h.get('x-forwarded-for'), ['127.0.0.1']);
  });

  test('reuses one kept-alive backend connection for consecutive requests', async () => {
    const a = JSON.parse((await fetchRaw(`${front.base}/app/1`)).body);
    const b = JSON.parse((await fetchRaw(`${front.base}/app/2`)).body);
    assert.equal(a.port, b.port);
  });

  test('streams a chunked request body to the backend as chunked', async () => {
    async function* parts() {
      yield Buffer.from('hello ');
      await new Promise((r) => setTimeout(r, 20));
      yield Buffer.from('world');
    }
    const r = await fetchRaw(`${front.base}/app/upload`, { method: 'POST', body: parts() });
    const seen = JSON.parse(r.body);
    assert.equal(seen.body, 'hello world');
    assert.deepEqual(headerMap(seen.headers).get('transfer-encoding'), ['chunked']);
  });

  test('a chunked body on a GET stays framed (chunked) so it cannot smuggle a second request', async () => {
    const sock = connect(front.port!, '127.0.0.1');
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    sock.write(
      `GET /app/get-with-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
    );
    await new Promise((r) => sock.once('close', r));
    const seen = JSON.parse(
      got
        .slice(got.indexOf('\r\n\r\n') + 4)
        .replace(/^[0-9a-f]+\r\n/, '')
        .replace(/\r\n0\r\n\r\n$/, ''),
    );
    assert.equal(seen.url, '/get-with-body');
    assert.equal(seen.body, smuggled);
    assert.deepEqual(headerMap(seen.headers).get('transfer-encoding'), ['chunked']);
  });

  test('forwards a Content-Length body with exactly one Content-Length', async () => {
    const r = await fetchRaw(`${front.base}/app/upload`, { method: 'PUT', body: 'abc' });
    const h = headerMap(JSON.parse(r.body).headers);
    assert.deepEqual(h.get('content-length'), ['3']);
    assert.equal(h.has('transfer-encoding'), false);
  });
});

describe('ReverseProxyResource responses', () => {
  test('rewrites Location for the backend origin and passes other redirects untouched', async () => {
    const be = await backend((req, res) => {
      const to =
        req.url === '/base/abs'
          ? `http://127.0.0.1:${port}/base/next?q=1`
          : req.url === '/base/other'
            ? 'http://elsewhere.example/x'
            : '/relative';
      res.writeHead(302, { Location: to });
      res.end();
    });
    const port = be.port;
    const root = new Resource();
    const p = new ReverseProxyResource('127.0.0.1', port, '/base');
    root.putChild('app', p);
    const front = await serveSite(new Site(root));
    try {
      const r = await fetchRaw(`${front.base}/app/abs`, { headers: { Host: 'www.example.com' } });
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, 'http://www.example.com/app/next?q=1');
      assert.equal((await fetchRaw(`${front.base}/app/other`)).headers.location, 'http://elsewhere.example/x');
      assert.equal((await fetchRaw(`${front.base}/app/rel`)).headers.location, '/relative');
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('streams the response with backpressure and finishes it', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'x');
    const be = await backend((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end(big);
    });
    const p = new ReverseProxyResource('127.0.0.1', be.port, '');
    const front = await serveSite(new Site(p));
    try {
      const r = await fetchRaw(`${front.base}/big`);
      assert.equal(r.status, 200);
      assert.equal(r.body.length, big.length);
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('answers 502 when no backend is reachable', async () => {
    const dead = await freePort();
    const p = new ReverseProxyResource('127.0.0.1', dead, '');
    const front = await serveSite(new Site(p, { logError: () => {} }));
    try {
      const r = await fetchRaw(`${front.base}/x`);
      assert.equal(r.status, 502);
      assert.match(r.body, /Could not connect/);
    } finally {
      p.close();
      await front.close();
    }
  });

  test('answers 504 when the backend does not answer in time', async () => {
    const be = await backend(() => {});
    const p = new ReverseProxyResource('127.0.0.1', be.port, '', { timeout: 200 });
    const front = await serveSite(new Site(p, { logError: () => {} }));
    try {
      const r = await fetchRaw(`${front.base}/slow`);
      assert.equal(r.status, 504);
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('round-robins over several backends and fails over from a dead one', async () => {
    const one = await backend((_q, s) => s.end('one'));
    const two = await backend((_q, s) => s.end('two'));
    const dead = await freePort();
    const p = new ReverseProxyResource('127.0.0.1', one.port, '', {
      backends: [
        { host: '127.0.0.1', port: dead },
        { host: '127.0.0.1', port: two.port },
      ],
    });
    const front = await serveSite(new Site(p, { logError: () => {} }));
    try {
      const seen: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await fetchRaw(`${front.base}/`);
        assert.equal(r.status, 200);
        seen.push(r.body);
      }
      assert.ok(seen.includes('one') && seen.includes('two'), seen.join());
    } finally {
      p.close();
      await front.close();
      await one.close();
      await two.close();
    }
  });

  test('a client that goes away aborts the backend request and leaves no pooled socket', async () => {
    let backendClosed!: () => void;
    const closed = new Promise<void>((r) => (backendClosed = r));
    const be = await backend((req) => {
      req.socket.once('close', () => backendClosed());
    });
    const p = new ReverseProxyResource('127.0.0.1', be.port, '');
    const front = await serveSite(new Site(p));
    try {
      const sock = connect(front.port!, '127.0.0.1');
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((r) => setTimeout(r, 100));
      sock.destroy();
      await closed;
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(p.pools[0]!.openCount, 0);
      assert.equal(p.pools[0]!.idleCount, 0);
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('refuses a body over the limit with 413', async () => {
    const be = await backend(echo);
    const p = new ReverseProxyResource('127.0.0.1', be.port, '', { maxBodySize: 10 });
    const front = await serveSite(new Site(p));
    try {
      const r = await fetchRaw(`${front.base}/`, { method: 'POST', body: 'x'.repeat(11) });
      assert.equal(r.status, 413);
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('passes a WebSocket upgrade through and relays frames both ways', async () => {
    const be = await backend((_q, s) => s.end('no upgrade'));
    be.server.on('upgrade', (req, socket) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Path: ${req.url}\r\n\r\n`,
      );
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
      socket.on('end', () => socket.destroy());
    });
    const root = new Resource();
    const p = new ReverseProxyResource('127.0.0.1', be.port, '');
    root.putChild('ws', p);
    const front = await serveSite(new Site(root));
    try {
      const sock = connect(front.port!, '127.0.0.1');
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      sock.write(
        'GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      for (let i = 0; i < 100 && !got.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(got, /^HTTP\/1.1 101/);
      assert.match(got, /X-Path: \/chat/);
      sock.write('ping');
      for (let i = 0; i < 100 && !got.includes('echo:ping'); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(got.includes('echo:ping'));
      sock.destroy();
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('an Upgrade: h2c request is proxied as a plain request, the upgrade stripped', async () => {
    const be = await backend(echo);
    const p = new ReverseProxyResource('127.0.0.1', be.port, '');
    const front = await serveSite(new Site(p));
    try {
      const sock = connect(front.port!, '127.0.0.1');
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      const ended = new Promise((r) => sock.once('end', r));
      sock.write(
        'GET /h HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n',
      );
      await ended;
      assert.match(got, /^HTTP\/1.1 200/);
      const body = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4));
      const h = headerMap(body.headers);
      assert.equal(h.has('upgrade'), false);
      assert.equal(h.has('http2-settings'), false);
      sock.destroy();
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });
});
