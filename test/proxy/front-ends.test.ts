// End to end: Trellis behind real front ends (Apache, nginx, lighttpd, HAProxy) configured on
// loopback, and Trellis's own reverse proxy in front of nginx and of another Trellis. In each, a
// directory redirect and prePathURL() show the public URL. The configs are the recipes in docs/deploy/.
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { wrapRoot, defaultProxyConfig, type ProxyConfig } from '../../src/cli/proxy-config.js';
import { ReverseProxyResource } from '../../src/proxy/reverse-proxy.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { File } from '../../src/static/file.js';
import { NameVirtualHost } from '../../src/vhost/name-virtual-host.js';
import { AutoVHostURIRewrite } from '../../src/rewrite/vhost-uri-rewrite.js';
import { startApache, startHaproxy, startLighttpd, startNginx, type Daemon } from '../helpers/daemon.js';
import { needPeer } from '../helpers/peers.js';
import { RECIPES, recipe } from '../helpers/gateway-matrix.js';
import { ROOT, freePort, serveSite, spawnTrellis, tempDir } from '../helpers/server.js';
import { fetchRaw } from './http-client.js';
import { Dir, Where } from './fixtures.js';

/** The backend tree: /where reports prePathURL, /dir redirects absolutely, /files is a File with a subdirectory. */
function backendTree(filesDir: string): Resource {
  const root = new Resource();
  root.putChild('where', new Where());
  root.putChild('dir', new Dir());
  root.putChild('files', new File(filesDir));
  return root;
}

async function backend(filesDir: string, proxy: Partial<ProxyConfig>) {
  const config = { ...defaultProxyConfig(), ...proxy };
  return serveSite(new Site(wrapRoot(backendTree(filesDir), config), { logError: () => {} }));
}

const PUBLIC = 'public.example';

/** Checks prePathURL, the absolute redirect and File's directory redirect under `publicBase` (e.g. http://public.example/app). */
async function expectPublic(front: string, publicBase: string, path: string) {
  const where = await fetchRaw(`${front}${path}/where`, { headers: { Host: PUBLIC } });
  assert.equal(where.status, 200, where.body);
  assert.equal(JSON.parse(where.body).prePathURL, `${publicBase}/where`);
  const dir = await fetchRaw(`${front}${path}/dir`, { headers: { Host: PUBLIC } });
  assert.equal(dir.status, 301);
  assert.equal(dir.headers.location, `${publicBase}/dir/`);
  const files = await fetchRaw(`${front}${path}/files/sub`, { headers: { Host: PUBLIC } });
  assert.equal(files.status, 302);
  assert.equal(new URL(String(files.headers.location), `${publicBase}/files/sub`).href, `${publicBase}/files/sub/`);
  const listing = await fetchRaw(`${front}${path}/files/sub/`, { headers: { Host: PUBLIC } });
  assert.equal(listing.status, 200);
  assert.match(listing.body, /hello\.txt/);
}

describe('behind real front ends', () => {
  const dir = tempDir('trellis-fronts-');
  const files = join(dir.path, 'files');
  const daemons: Daemon[] = [];
  const closers: Array<() => Promise<unknown>> = [];

  before(() => {
    mkdirSync(join(files, 'sub'), { recursive: true });
    writeFileSync(join(files, 'sub', 'hello.txt'), 'hello\n');
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await Promise.all(closers.map((c) => c()));
    dir.cleanup();
  });

  function stateDir(name: string): string {
    const d = join(dir.path, name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  async function trustedBackend(extra: Partial<ProxyConfig> = {}) {
    const b = await backend(files, { trustProxy: ['127.0.0.1'], ...extra });
    closers.push(b.close);
    return b;
  }

  test('Apache 2.4 ProxyPass of a sub-directory with X-App-Location and X-App-Scheme (web2 recipe)', async (t: TestContext) => {
    const apache = needPeer(t, 'apache2');
    if (!apache) return;
    const b = await trustedBackend();
    const port = await freePort();
    const d = await startApache(
      apache,
      stateDir('apache-sub'),
      port,
      ['proxy', 'proxy_http', 'headers'],
      recipe('apache-http-proxy.conf', { HTTP_PORT: b.port! }),
    );
    daemons.push(d);
    await expectPublic(`http://127.0.0.1:${port}`, `https://${PUBLIC}/whatever`, '/whatever');
    const seen = JSON.parse(
      (await fetchRaw(`http://127.0.0.1:${port}/whatever/where`, { headers: { Host: PUBLIC } })).body,
    );
    assert.equal(seen.client, '127.0.0.1');
    assert.equal(seen.secure, true);
  });

  test('the same Apache recipe in front of a code-configured AutoVHostURIRewrite (web2 apache2.tac)', async (t: TestContext) => {
    const apache = needPeer(t, 'apache2');
    if (!apache) return;
    const b = await serveSite(
      new Site(new AutoVHostURIRewrite(backendTree(files), { trustedProxies: ['127.0.0.1'] }), { logError: () => {} }),
    );
    closers.push(b.close);
    const port = await freePort();
    const d = await startApache(
      apache,
      stateDir('apache-auto'),
      port,
      ['proxy', 'proxy_http', 'headers'],
      recipe('apache-http-proxy.conf', { HTTP_PORT: b.port! }),
    );
    daemons.push(d);
    await expectPublic(`http://127.0.0.1:${port}`, `https://${PUBLIC}/whatever`, '/whatever');
  });

  test('Apache ProxyPass to a VHostMonster path (Twisted recipe)', async (t: TestContext) => {
    const apache = needPeer(t, 'apache2');
    if (!apache) return;
    const b = await trustedBackend({ vhostMonster: true });
    const port = await freePort();
    const d = await startApache(
      apache,
      stateDir('apache-monster'),
      port,
      ['proxy', 'proxy_http'],
      recipe('apache-http-vhostmonster.conf', { HTTP_PORT: b.port!, PUBLIC_HOST: PUBLIC }),
    );
    daemons.push(d);
    await expectPublic(`http://127.0.0.1:${port}`, `http://${PUBLIC}`, '');
  });

  test('nginx proxy_pass with X-Forwarded-* and X-Forwarded-Prefix', async (t: TestContext) => {
    const nginx = needPeer(t, 'nginx');
    if (!nginx) return;
    const b = await trustedBackend();
    const port = await freePort();
    const d = await startNginx(
      nginx,
      stateDir('nginx'),
      port,
      recipe('nginx-http-proxy.conf', { HTTP_PORT: b.port!, PORT: port }),
    );
    daemons.push(d);
    await expectPublic(`http://127.0.0.1:${port}`, `http://${PUBLIC}/app`, '/app');
  });

  test('lighttpd mod_proxy (TurboGears recipe)', async (t: TestContext) => {
    const lighttpd = needPeer(t, 'lighttpd');
    if (!lighttpd) return;
    const b = await trustedBackend();
    const port = await freePort();
    const d = await startLighttpd(
      lighttpd,
      stateDir('lighttpd'),
      port,
      recipe('lighttpd-http-proxy.conf', { HTTP_PORT: b.port!, DIR: files }),
    );
    daemons.push(d);
    await expectPublic(`http://127.0.0.1:${port}`, `http://${PUBLIC}`, '');
  });

  test('HAProxy with forwardfor and a stripped /app prefix', async (t: TestContext) => {
    const haproxy = needPeer(t, 'haproxy');
    if (!haproxy) return;
    const b = await trustedBackend();
    const port = await freePort();
    const d = await startHaproxy(
      haproxy,
      stateDir('haproxy'),
      port,
      recipe('haproxy-http-proxy.cfg', { HTTP_PORT: b.port!, PORT: port }),
    );
    daemons.push(d);
    await expectPublic(`http://127.0.0.1:${port}`, `http://${PUBLIC}/app`, '/app');
  });

  test('the same front end in front of an untrusting Trellis: the headers change nothing', async (t: TestContext) => {
    const nginx = needPeer(t, 'nginx');
    if (!nginx) return;
    const b = await backend(files, { trustProxy: ['192.0.2.1'] });
    closers.push(b.close);
    const port = await freePort();
    const d = await startNginx(
      nginx,
      stateDir('nginx-untrusted'),
      port,
      `
  server {
    listen 127.0.0.1:${port};
    location /app/ {
      proxy_pass http://127.0.0.1:${b.port}/;
      proxy_set_header Host internal.example;
      proxy_set_header X-Forwarded-For 198.51.100.4;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Prefix /app;
    }
  }`,
    );
    daemons.push(d);
    const seen = JSON.parse((await fetchRaw(`http://127.0.0.1:${port}/app/where`, { headers: { Host: PUBLIC } })).body);
    assert.equal(seen.prePathURL, 'http://internal.example/where');
    assert.equal(seen.client, '127.0.0.1');
  });

  test("Trellis's reverse proxy in front of nginx rewrites nginx's directory redirect", async (t: TestContext) => {
    const nginx = needPeer(t, 'nginx');
    if (!nginx) return;
    const port = await freePort();
    const d = await startNginx(
      nginx,
      stateDir('nginx-backend'),
      port,
      `
  server {
    listen 127.0.0.1:${port};
    root ${files};
    autoindex on;
  }`,
    );
    daemons.push(d);
    const root = new Resource();
    const proxy = new ReverseProxyResource('127.0.0.1', port, '');
    root.putChild('app', proxy);
    const front = await serveSite(new Site(root));
    closers.push(async () => {
      proxy.close();
      await front.close();
    });
    const r = await fetchRaw(`${front.base}/app/sub`, { headers: { Host: PUBLIC } });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, `http://${PUBLIC}/app/sub/`);
    const file = await fetchRaw(`${front.base}/app/sub/hello.txt`, { headers: { Host: PUBLIC } });
    assert.equal(file.body, 'hello\n');
  });

  test("Trellis's reverse proxy (trellis web --proxy) in front of a second Trellis that trusts it", async () => {
    const b = await trustedBackend();
    const front = await spawnTrellis([
      'web',
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--class',
      'test/fixtures/proxy-site.ts#Root',
      '--proxy',
      `/app=http://127.0.0.1:${b.port}/`,
    ]);
    closers.push(() => front.stop());
    const base = front.url.replace(/\/$/, '');
    await expectPublic(base, `http://${PUBLIC}/app`, '/app');
    // The front's own tree still answers outside /app.
    assert.equal(
      JSON.parse((await fetchRaw(`${base}/where`, { headers: { Host: PUBLIC } })).body).prePathURL,
      `http://${PUBLIC}/where`,
    );
  });

  test('Trellis behind Trellis via VHostMonster (NameVirtualHost + ReverseProxyResource, Twisted recipe)', async () => {
    const b = await trustedBackend({ vhostMonster: true });
    const vhosts = new NameVirtualHost();
    const proxy = new ReverseProxyResource('127.0.0.1', b.port!, `/vhost/http/${PUBLIC}/`);
    vhosts.addHost(PUBLIC, proxy);
    const front = await serveSite(new Site(vhosts));
    closers.push(async () => {
      proxy.close();
      await front.close();
    });
    await expectPublic(front.base, `http://${PUBLIC}`, '');
    assert.equal((await fetchRaw(`${front.base}/where`, { headers: { Host: 'other.example' } })).status, 404);
  });
});

const PAGES: Array<[string, string]> = [
  ['apache-http-proxy.conf', 'apache.md'],
  ['apache-http-vhostmonster.conf', 'apache.md'],
  ['nginx-http-proxy.conf', 'nginx.md'],
  ['lighttpd-http-proxy.conf', 'lighttpd.md'],
  ['haproxy-http-proxy.cfg', 'haproxy.md'],
];
for (const [file, page] of PAGES) {
  test(`docs/deploy/${page} shows the tested ${file} unchanged`, () => {
    const text = readFileSync(join(RECIPES, file), 'utf8').trimEnd();
    assert.ok(
      readFileSync(join(ROOT, 'docs/deploy', page), 'utf8').includes(text),
      `${page} does not show ${file} as tested`,
    );
  });
}
