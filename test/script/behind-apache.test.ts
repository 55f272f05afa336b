// Seed 001's Twisted recipe with resource scripts: Apache's ProxyPass to `vhost.rpy.ts/http/HOST:80/`
// in front of `trellis web --path`, where the counter script keeps its registry and pages see the
// public URL.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startApache } from '../helpers/daemon.js';
import { needPeer } from '../helpers/peers.js';
import { ROOT, freePort, spawnTrellis, tempDir } from '../helpers/server.js';

const FIXTURES = join(ROOT, 'test/fixtures/scripts');
const PUBLIC = 'public.example';

test('Apache ProxyPass to vhost.rpy.ts: the public URL reaches scripts, the counter counts through the front end', async (t: TestContext) => {
  const apache = needPeer(t, 'apache2');
  if (!apache) return;
  const dir = tempDir('trellis-rpy-apache-');
  const site = join(dir.path, 'site');
  const state = join(dir.path, 'apache');
  mkdirSync(site);
  mkdirSync(state);
  for (const name of ['vhost.rpy.ts', 'counter.rpy.ts', 'silly-web.ts', 'where.rpy.ts'])
    copyFileSync(join(FIXTURES, name), join(site, name));
  const trellis = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--path', site]);
  const backendPort = new URL(trellis.url).port;
  const port = await freePort();
  let daemon;
  try {
    daemon = await startApache(
      apache,
      state,
      port,
      ['proxy', 'proxy_http'],
      `ProxyPass / http://127.0.0.1:${backendPort}/vhost.rpy.ts/http/${PUBLIC}:80/\n`,
    );
    const front = `http://127.0.0.1:${port}`;
    const where = await fetch(`${front}/where.rpy.ts`);
    assert.equal(where.status, 200);
    assert.equal(await where.text(), `http://${PUBLIC}/where.rpy.ts`);
    assert.equal(await (await fetch(`${front}/counter.rpy.ts`)).text(), 'you are visitor 1');
    assert.equal(await (await fetch(`${front}/counter.rpy.ts`)).text(), 'you are visitor 2');
    // Straight to Trellis, not through the monster: the same counter (one registry per site).
    assert.equal(await (await fetch(`${trellis.url}counter.rpy.ts`)).text(), 'you are visitor 3');
    // A host segment that is no host is refused, not served.
    const bad = await fetch(`${trellis.url}vhost.rpy.ts/http/bad host/where.rpy.ts`);
    assert.equal(bad.status, 400);
  } finally {
    await daemon?.stop();
    await trellis.stop();
    dir.cleanup();
  }
});
