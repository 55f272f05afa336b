// The reverse proxy keeps every request below its backend prefix: dot-segments in any spelling never
// reach the backend, empty segments are merged, NUL is refused. Run through a real `trellis web
// --proxy` process against real nginx (which resolves `..` itself) and against a node:http backend
// that records the request-targets it receives.
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startNginx } from '../helpers/daemon.js';
import { needPeer } from '../helpers/peers.js';
import { parseResponses, rawHttp } from '../helpers/raw-http.js';
import { freePort, listenLoopback, spawnTrellis, tempDir, type TrellisProcess } from '../helpers/server.js';

const SECRET = 'TOP-SECRET-ADMIN';

/** Paths below `/app` (proxied to the backend's `/base/`) that try to reach `/admin/secret.txt`. */
const ESCAPES = [
  '/app/../admin/secret.txt',
  '/app/%2e%2e/admin/secret.txt',
  '/app/%2E%2E/admin/secret.txt',
  '/app/.%2e/admin/secret.txt',
  '/app/%2e./admin/secret.txt',
  '/app/x/%2e%2e/%2e%2e/admin/secret.txt',
  '/app/x/../../admin/secret.txt',
  '/app/./../admin/secret.txt',
  '/app/%2e/%2e%2e/admin/secret.txt',
  '/app//../admin/secret.txt',
  '/app/..%2fadmin/secret.txt',
  '/app/%2e%2e%2fadmin%2fsecret.txt',
  '/app/x%2f..%2f..%2fadmin/secret.txt',
  '/app/..%5cadmin/secret.txt',
  '/app/..;/admin/secret.txt',
  '/app/%2e%2e;x/admin/secret.txt',
  '/app/..',
  '/app/../',
];

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const text = await rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
  const [res] = parseResponses(text);
  return { status: res!.status, text: res!.text };
}

function portOf(p: TrellisProcess): number {
  return Number(new URL(p.url).port);
}

describe('reverse proxy confinement (SECURITY.md §1.1, §6.2)', () => {
  const dir = tempDir('trellis-confine-');
  const stops: Array<() => Promise<unknown>> = [];

  before(() => {
    mkdirSync(join(dir.path, 'www', 'base'), { recursive: true });
    mkdirSync(join(dir.path, 'www', 'admin'), { recursive: true });
    mkdirSync(join(dir.path, 'empty'), { recursive: true });
    writeFileSync(join(dir.path, 'www', 'base', 'ok.txt'), 'BASE-OK\n');
    writeFileSync(join(dir.path, 'www', 'admin', 'secret.txt'), `${SECRET}\n`);
  });
  after(async () => {
    await Promise.all(stops.map((s) => s()));
    dir.cleanup();
  });

  async function front(backendPort: number): Promise<number> {
    const args = ['web', '--listen', 'tcp:0:interface=127.0.0.1', '--path', join(dir.path, 'empty')];
    const p = await spawnTrellis([...args, '--proxy', `/app=http://127.0.0.1:${backendPort}/base/`]);
    stops.push(() => p.stop());
    return portOf(p);
  }

  test('with nginx as the backend, no spelling of .. reaches a file outside /base/', async (t: TestContext) => {
    const nginx = needPeer(t, 'nginx');
    if (!nginx) return;
    const state = join(dir.path, 'nginx');
    mkdirSync(state);
    const port = await freePort();
    const d = await startNginx(
      nginx,
      state,
      port,
      `
  server {
    listen 127.0.0.1:${port};
    root ${join(dir.path, 'www')};
    location / { }
  }`,
    );
    stops.push(() => d.stop());
    // nginx itself resolves the dot-segments it is sent: the secret is one request away.
    assert.equal((await get(port, '/base/../admin/secret.txt')).text, `${SECRET}\n`);
    const proxy = await front(port);
    assert.equal((await get(proxy, '/app/ok.txt')).text, 'BASE-OK\n');
    for (const path of ESCAPES) {
      const r = await get(proxy, path);
      assert.ok(!r.text.includes(SECRET), `${path} reached the secret`);
      assert.ok(r.status === 400 || r.status === 404, `${path} gave ${r.status}`);
    }
    assert.equal((await get(proxy, '/app//ok.txt')).text, 'BASE-OK\n');
  });

  test('the backend receives the prefix, no dot-segment, merged slashes; NUL is 400', async () => {
    const seen: string[] = [];
    const backend = await listenLoopback(
      createServer((req, res) => {
        seen.push(req.url!);
        res.end('ok');
      }),
    );
    stops.push(() => backend.close());
    const proxy = await front(backend.port);
    for (const path of ESCAPES) await get(proxy, path);
    for (const url of seen) {
      const path = url.split('?')[0]!;
      assert.ok(path === '/base' || path.startsWith('/base/'), `${url} left the prefix`);
      const pieces = path.split('/').flatMap((s) => decodeURIComponent(s).split(/[/\\;]/));
      assert.ok(!pieces.some((s) => s === '.' || s === '..'), `${url} holds a dot-segment`);
    }
    const forwarded: Array<[string, string]> = [
      ['/app//x', '/base/x'],
      ['/app/a//b/', '/base/a/b/'],
      ['/app/', '/base/'],
      ['/app/a%2Fb?q=1', '/base/a%2Fb?q=1'],
      ['/app/a%20b/', '/base/a%20b/'],
    ];
    for (const [path, expected] of forwarded) {
      seen.length = 0;
      assert.equal((await get(proxy, path)).status, 200, path);
      assert.deepEqual(seen, [expected], path);
    }
    for (const path of ['/app/%00x', '/app/x%00/y', '/app/a%0d%0aX-Evil:%201']) {
      seen.length = 0;
      assert.equal((await get(proxy, path)).status, 400, path);
      assert.deepEqual(seen, [], `${path} was forwarded`);
    }
  });
});
