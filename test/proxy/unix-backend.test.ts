// ReverseProxyResource with a backend on a UNIX socket (`unix:/path/to.sock`, and
// `unix:/path/to.sock:/base` with a base path): a real node:http backend listening on a socket, the
// same forwarding as over TCP, and a quick 502 when the socket is missing or nobody listens on it.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ReverseProxyResource, parseUnixBackend } from '../../src/proxy/reverse-proxy.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { runTrellis, serveSite, spawnTrellis, tempDir } from '../helpers/server.js';
import { fetchRaw } from './http-client.js';

/** A backend that answers with what it received, as JSON. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', Location: 'http://localhost/base/moved' });
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      }),
    );
  });
}

describe('parseUnixBackend', () => {
  const cases: Array<[string, { socketPath: string; path: string } | RegExp]> = [
    ['unix:/run/app.sock', { socketPath: '/run/app.sock', path: '' }],
    ['unix:/run/app.sock:/base/', { socketPath: '/run/app.sock', path: '/base' }],
    ['unix:/home/a b/.trellis-web.sock:/x/y', { socketPath: '/home/a b/.trellis-web.sock', path: '/x/y' }],
    ['unix:run/app.sock', /absolute socket path/],
    ['unix:', /absolute socket path/],
    ['http://127.0.0.1/', /unix:\/path\/to.sock/],
    ['unix:/run/app.sock:/base?q=1', /without a query/],
  ];
  for (const [address, expected] of cases) {
    test(`parseUnixBackend(${JSON.stringify(address)})`, () => {
      if (expected instanceof RegExp) assert.throws(() => parseUnixBackend(address), expected);
      else assert.deepEqual(parseUnixBackend(address), expected);
    });
  }

  test('the constructor refuses a relative socket path with a RangeError', () => {
    assert.throws(() => new ReverseProxyResource('unix:relative.sock'), RangeError);
  });
});

describe('ReverseProxyResource to a UNIX socket', () => {
  const dir = tempDir('trellis-unix-proxy-');
  const socket = join(dir.path, 'backend.sock');
  const backend = createServer(echo);
  let front: Awaited<ReturnType<typeof serveSite>>;
  const proxies: ReverseProxyResource[] = [];

  before(async () => {
    await new Promise<void>((resolve) => backend.listen(socket, resolve));
    const root = new Resource();
    const mount = (name: string, proxy: ReverseProxyResource) => {
      proxies.push(proxy);
      root.putChild(name, proxy);
    };
    mount('plain', new ReverseProxyResource(`unix:${socket}`));
    mount('based', new ReverseProxyResource(`unix:${socket}:/base/`));
    mount('kept', new ReverseProxyResource(`unix:${socket}`, { preserveHost: true }));
    mount('missing', new ReverseProxyResource(`unix:${join(dir.path, 'nobody.sock')}`));
    front = await serveSite(new Site(root, { logError: () => {} }));
  });
  after(async () => {
    for (const p of proxies) p.close();
    await front.close();
    await new Promise<void>((resolve) => backend.close(() => resolve()));
    dir.cleanup();
  });

  test('forwards the rest of the path with Host localhost and the forwarding headers', async () => {
    const res = await fetchRaw(`${front.base}/plain/a/b?q=1`);
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/a/b?q=1');
    assert.equal(seen.headers.host, 'localhost');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-prefix'], '/plain');
  });

  test('unix:PATH:/base puts the base path before the rest and rewrites Location to the mount', async () => {
    const res = await fetchRaw(`${front.base}/based/x%20y`);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).url, '/base/x%20y');
    assert.equal(res.headers.location, `${front.base}/based/moved`);
  });

  test('a request body streams to the socket backend', async () => {
    const res = await fetchRaw(`${front.base}/plain/post`, { method: 'POST', body: 'hello over a socket' });
    const seen = JSON.parse(res.body) as { method: string; body: string };
    assert.deepEqual([seen.method, seen.body], ['POST', 'hello over a socket']);
  });

  test('preserveHost sends the public Host over the socket', async () => {
    const res = await fetchRaw(`${front.base}/kept/`, { headers: { host: 'public.example' } });
    assert.equal(JSON.parse(res.body).headers.host, 'public.example');
  });

  test('a missing socket is a 502 at once', async () => {
    const res = await fetchRaw(`${front.base}/missing/`);
    assert.equal(res.status, 502);
  });

  test('a socket file nobody listens on is a 502 at once (connection refused)', async (t) => {
    const dead = join(dir.path, 'dead.sock');
    // A socket bound and never listened on, left behind by a process that is gone.
    const made = spawnSync('python3', [
      '-c',
      `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(dead)})`,
    ]);
    if (made.error || !existsSync(dead)) {
      if (process.env.CI === 'true') throw new Error('python3 is needed to leave a dead socket behind');
      t.skip('python3 is not installed');
      return;
    }
    const proxy = new ReverseProxyResource(`unix:${dead}`);
    const root = new Resource();
    root.putChild('dead', proxy);
    const server = await serveSite(new Site(root, { logError: () => {} }));
    try {
      const res = await fetchRaw(`${server.base}/dead/`);
      assert.equal(res.status, 502);
    } finally {
      proxy.close();
      await server.close();
    }
  });
});

describe('trellis web --proxy PATH=unix:SOCKET', () => {
  test('relays to a backend on a UNIX socket, with its base path', async (t) => {
    const dir = tempDir('trellis-unix-proxy-cli-');
    t.after(() => dir.cleanup());
    const socket = join(dir.path, 'api.sock');
    const backend = createServer(echo);
    await new Promise<void>((resolve) => backend.listen(socket, resolve));
    t.after(() => backend.close());
    const server = await spawnTrellis([
      'web',
      '--path',
      dir.path,
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--proxy',
      `/api=unix:${socket}:/v1`,
    ]);
    t.after(() => server.stop());
    const res = await fetch(`${server.url}api/items?x=1`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { url: string }).url, '/v1/items?x=1');
  });

  test('refuses a relative socket path in one line', async () => {
    const r = await runTrellis(['web', '--proxy', '/api=unix:run/api.sock']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^trellis: --proxy \/api=unix:run\/api.sock: A UNIX-socket backend needs an absolute socket path.*\n$/,
    );
  });
});
