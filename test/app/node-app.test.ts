// NodeAppResource and FetchAppResource beyond the frameworks' happy paths: crashes before and after
// the head, Expect: 100-continue, the client leaving mid-upload, WebSockets through `ws`, the
// public view `--trust-proxy` gives the app, kind detection, and the CLI's one-line errors.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import express from 'express';
import { WebSocket, WebSocketServer } from 'ws';
import type { AccessLogEntry } from '../../src/access-log.js';
import { FetchAppResource, NodeAppResource, Resource, Site, appResource } from '../../src/index.js';
import { FIXTURES } from '../helpers/apps.js';
import { runTrellis, serveSite, spawnTrellis, tempDir } from '../helpers/server.js';

function siteFor(app: Resource, mount = 'app'): { site: Site; logged: AccessLogEntry[]; errors: string[] } {
  const root = new Resource();
  root.putChild(mount, app);
  const logged: AccessLogEntry[] = [];
  const errors: string[] = [];
  const accessLog = { log: (e: AccessLogEntry) => void logged.push(e), reopen() {}, close: async () => {} };
  return { site: new Site(root, { accessLog, logError: (m) => void errors.push(m) }), logged, errors };
}

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Sends raw bytes and collects everything until the server closes or `until` matches. */
function raw(
  port: number,
  write: (socket: import('node:net').Socket, seen: () => string) => Promise<void> | void,
  until?: RegExp,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let seen = '';
    socket.on('data', (d) => {
      seen += d.toString('latin1');
      if (until?.test(seen)) {
        socket.destroy();
        resolve(seen);
      }
    });
    socket.on('close', () => resolve(seen));
    socket.on('error', reject);
    socket.on('connect', () => void Promise.resolve(write(socket, () => seen)).catch(reject));
  });
}

describe('NodeAppResource', () => {
  test('a listener that throws before the head gets the Site error page, logged as 500', async () => {
    const { site, logged, errors } = siteFor(
      new NodeAppResource(() => {
        throw new Error('kaput');
      }),
    );
    const server = await serveSite(site);
    try {
      const res = await fetch(`${server.base}/app/x`);
      assert.equal(res.status, 500);
      assert.match(await res.text(), /Processing Failed/);
      assert.ok(
        errors.some((e) => e.includes('kaput')),
        'the error is logged',
      );
      await waitFor(() => logged.some((e) => e.status === 500), 'the access-log line');
    } finally {
      await server.close();
    }
  });

  test('a listener that fails after the head drops the connection instead of finishing the body', async () => {
    const { site } = siteFor(
      new NodeAppResource((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        setImmediate(() => res.destroy(new Error('late failure')));
      }),
    );
    const server = await serveSite(site);
    try {
      const seen = await raw(server.port!, (s) => void s.write('GET /app/ HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.match(seen, /^HTTP\/1\.1 200/);
      assert.match(seen, /partial/);
      assert.doesNotMatch(seen, /\r\n0\r\n\r\n$/, 'no last chunk: the body is cut, not finished');
    } finally {
      await server.close();
    }
  });

  test('Expect: 100-continue is answered when the app reads the body, and not when it answers first', async () => {
    const { site } = siteFor(
      new NodeAppResource((req: IncomingMessage, res: ServerResponse) => {
        if (req.url === '/refuse') {
          res.statusCode = 401;
          res.end('no');
          return;
        }
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => res.end(`got ${Buffer.concat(chunks).toString()}`));
      }),
    );
    const server = await serveSite(site);
    try {
      const head = (path: string) =>
        `POST /app${path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`;
      const read = await raw(server.port!, async (s, seen) => {
        s.write(head('/read'));
        await waitFor(() => seen().includes('100 Continue'), 'the 100 Continue');
        s.write('hello');
      });
      assert.match(read, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/);
      assert.match(read, /got hello$/);
      const refused = await raw(server.port!, (s) => void s.write(head('/refuse')));
      assert.match(refused, /^HTTP\/1\.1 401/, 'no 100 before an answer that does not read the body');
    } finally {
      await server.close();
    }
  });

  test('a client that leaves mid-upload: req emits aborted and close, res emits close', async () => {
    const events: string[] = [];
    const { site, logged } = siteFor(
      new NodeAppResource((req, res) => {
        req.on('aborted', () => events.push('req aborted'));
        req.on('close', () => events.push('req close'));
        res.on('close', () => events.push('res close'));
        req.resume();
      }),
    );
    const server = await serveSite(site);
    try {
      await raw(server.port!, async (s) => {
        s.write('POST /app/up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
        s.write(Buffer.alloc(1000));
        await delay(100);
        s.destroy();
      });
      await waitFor(() => events.length === 3, `req aborted, req close and res close (saw ${events.join(', ')})`);
      assert.deepEqual([...events].sort(), ['req aborted', 'req close', 'res close']);
      await waitFor(() => logged.some((e) => e.aborted), 'an aborted log line');
    } finally {
      await server.close();
    }
  });

  test('a request body is streamed with backpressure: an app that reads slowly holds the client back', async () => {
    let received = 0;
    let paused: IncomingMessage | null = null;
    const { site } = siteFor(
      new NodeAppResource((req, res) => {
        req.on('data', (c: Buffer) => {
          received += c.length;
          if (received > 256 * 1024 && !paused) {
            paused = req;
            req.pause();
          }
        });
        req.on('end', () => res.end(String(received)));
      }),
    );
    const server = await serveSite(site);
    try {
      const size = 64 * 1024 * 1024;
      let sent = 0;
      const done = new Promise<string>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: server.port!,
            method: 'POST',
            path: '/app/',
            headers: { 'content-length': String(size) },
          },
          (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve(text));
          },
        );
        req.on('error', reject);
        const chunk = Buffer.alloc(64 * 1024);
        const pump = () => {
          while (sent < size) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      await waitFor(() => paused !== null, 'the app to pause');
      await delay(300);
      assert.ok(sent < 24 * 1024 * 1024, `the client sent ${sent} bytes while the app was paused`);
      (paused as IncomingMessage | null)?.resume();
      assert.equal(await done, String(size));
    } finally {
      await server.close();
    }
  });

  test('WebSocket upgrades reach a node:http Server with ws attached, beside its Express routes', async () => {
    const app = express();
    app.get('/plain', (req, res) => res.send(`plain at ${req.baseUrl}`));
    const httpServer = createServer(app);
    const wss = new WebSocketServer({ server: httpServer });
    wss.on('connection', (ws, req) => {
      ws.on('message', (data) => ws.send(`echo ${data.toString()} on ${req.url}`));
    });
    const { site } = siteFor(await appResource(httpServer), 'live');
    const server = await serveSite(site);
    try {
      assert.equal(await (await fetch(`${server.base}/live/plain`)).text(), 'plain at /live');
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/live/socket`);
      const reply = await new Promise<string>((resolve, reject) => {
        ws.on('open', () => ws.send('hi'));
        ws.on('message', (d) => resolve(d.toString()));
        ws.on('error', reject);
      });
      assert.equal(reply, 'echo hi on /socket');
      ws.close();
    } finally {
      wss.close();
      await server.close();
    }
  });
});

describe('FetchAppResource', () => {
  test('a handler that rejects gets the Site error page; one returning no Response too, with a message naming it', async () => {
    const { site, errors } = siteFor(
      new FetchAppResource(async (request: Request) => {
        if (new URL(request.url).pathname.endsWith('/reject')) throw new Error('rejected');
        return 'not a response' as unknown as Response;
      }),
    );
    const server = await serveSite(site);
    try {
      assert.equal((await fetch(`${server.base}/app/reject`)).status, 500);
      assert.equal((await fetch(`${server.base}/app/other`)).status, 500);
      assert.ok(
        errors.some((e) => e.includes('returned a string') && e.includes('not a Response')),
        errors.join('\n'),
      );
    } finally {
      await server.close();
    }
  });

  test('a body that fails after the head drops the connection; the signal aborts when the client leaves', async () => {
    let aborted = false;
    const { site } = siteFor(
      new FetchAppResource((request: Request) => {
        const path = new URL(request.url).pathname;
        request.signal.addEventListener('abort', () => (aborted = true));
        let n = 0;
        const body = new ReadableStream({
          async pull(controller) {
            await delay(5);
            if (path.endsWith('/fail') && n++ > 2) controller.error(new Error('stream broke'));
            else controller.enqueue(new TextEncoder().encode('tick\n'));
          },
        });
        return new Response(body);
      }),
    );
    const server = await serveSite(site);
    try {
      const seen = await raw(server.port!, (s) => void s.write('GET /app/fail HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.match(seen, /^HTTP\/1\.1 200/);
      assert.doesNotMatch(seen, /\r\n0\r\n\r\n$/);
      await raw(server.port!, (s) => void s.write('GET /app/forever HTTP/1.1\r\nHost: x\r\n\r\n'), /tick/);
      await waitFor(() => aborted, 'request.signal to abort');
    } finally {
      await server.close();
    }
  });

  test('the Request carries the public URL, method, headers and a streamed body', async () => {
    const { site } = siteFor(
      new FetchAppResource(async (request: Request) => {
        const text = await request.text();
        return Response.json({
          url: request.url,
          method: request.method,
          type: request.headers.get('content-type'),
          text,
        });
      }),
      'api',
    );
    const server = await serveSite(site);
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const headers = { 'content-type': 'text/plain', host: 'shop.example:8443' };
        const req = httpRequest(
          { host: '127.0.0.1', port: server.port!, method: 'PUT', path: '/api/v1/items?q=%C3%A9', headers },
          (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve(body));
          },
        );
        req.on('error', reject);
        req.end('payload');
      });
      assert.deepEqual(JSON.parse(text), {
        url: 'http://shop.example:8443/api/v1/items?q=%C3%A9',
        method: 'PUT',
        type: 'text/plain',
        text: 'payload',
      });
    } finally {
      await server.close();
    }
  });
});

describe('--trust-proxy and --app', () => {
  test('the app sees the public scheme, host, client address and prefix a trusted proxy names', async () => {
    const proc = await spawnTrellis(
      [
        'web',
        '--app',
        join(FIXTURES, 'express-app.mjs'),
        '--listen',
        'tcp:0:interface=127.0.0.1',
        '--trust-proxy',
        '127.0.0.1',
      ],
      { timeoutMs: 30_000 },
    );
    try {
      const res = await fetch(`${proc.url}url?a=1`, {
        headers: {
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'public.example',
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-prefix': '/shop',
        },
      });
      assert.deepEqual(await res.json(), {
        url: 'https://public.example/shop/url?a=1',
        ip: '203.0.113.9',
        path: '/url',
      });
      const hello = await fetch(`${proc.url}hello`, { headers: { 'x-forwarded-prefix': '/shop' } });
      assert.equal(await hello.text(), 'hello from express at /shop');
    } finally {
      await proc.stop();
    }
  });

  test('--app with a value that is no app is a one-line error naming what it found', async () => {
    const dir = tempDir();
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(
        join(dir.path, 'config.mjs'),
        'export default { port: 1, name: "x" };\nexport const handler = (...args) => args;\n',
      );
      const none = await runTrellis(['web', '--app', join(dir.path, 'config.mjs')]);
      assert.equal(none.code, 2);
      assert.equal(none.stderr.trim().split('\n').length, 1);
      assert.match(none.stderr, /an object with port, name is not an app; export a \(req, res\) listener/);
      const unclear = await runTrellis(['web', '--app', `${join(dir.path, 'config.mjs')}#handler`]);
      assert.equal(unclear.code, 2);
      assert.match(unclear.stderr, /cannot tell .* --app-kind node or --app-kind fetch/);
      const kind = await runTrellis(['web', '--app-kind', 'both', '--app', join(dir.path, 'config.mjs')]);
      assert.match(kind.stderr, /--app-kind needs node or fetch, not "both"/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('appResource', () => {
  test('tells the kinds apart by brand and arity, and takes a kind when told', async () => {
    const koa = (await import(join(FIXTURES, 'koa-app.mjs'))).default;
    const hono = (await import(join(FIXTURES, 'hono-app.mjs'))).default;
    const cases: Array<[unknown, string]> = [
      [express(), 'NodeAppResource'],
      [koa, 'NodeAppResource'],
      [hono, 'FetchAppResource'],
      [createServer(), 'NodeAppResource'],
      [(req: unknown, res: unknown) => [req, res], 'NodeAppResource'],
      [(request: Request) => new Response(request.url), 'FetchAppResource'],
      [{ fetch: () => new Response('') }, 'FetchAppResource'],
    ];
    for (const [value, kind] of cases) assert.equal((await appResource(value)).constructor.name, kind);
    assert.equal((await appResource((...a: unknown[]) => a, { kind: 'fetch' })).constructor.name, 'FetchAppResource');
    await assert.rejects(
      appResource((...a: unknown[]) => a),
      /cannot tell/,
    );
    await assert.rejects(appResource('app'), /a string is not an app/);
  });
});
