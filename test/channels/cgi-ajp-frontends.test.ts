// AJP13 and CGI behind real front ends, from the recipes in docs/deploy/recipes: Apache
// mod_proxy_ajp and lighttpd mod_ajp13, Apache mod_cgid and lighttpd mod_cgi running `trellis cgi`,
// and `trellis cgi --relay` under both. Each serves the same site mounted at /app: a static file, a dynamic page, a
// 1 MiB POST, a redirect to the public URL, and a client that leaves mid-response.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { describe, it, test, type TestContext } from 'node:test';
import { startApache, startLighttpd, type Daemon } from '../helpers/daemon.js';
import { hangUpDuring } from '../helpers/gateway-matrix.js';
import { needPeer } from '../helpers/peers.js';
import { CLI, ROOT, freePort, spawnTrellis, tempDir } from '../helpers/server.js';

const RECIPES = join(ROOT, 'docs/deploy/recipes');
const SITE = join(ROOT, 'test/fixtures/cgi-site.ts#Root');
const STATIC_TEXT = 'static file through CGI and AJP\n';
const SECRET = 'ajp-test-secret';

function recipe(name: string, values: Record<string, string | number>): string {
  return readFileSync(join(RECIPES, name), 'utf8').replace(/\{\{(\w+)\}\}/g, (m, key: string) => {
    if (!(key in values)) throw new Error(`recipe ${name}: no value for ${m}`);
    return String(values[key]);
  });
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(port: number, method: string, path: string, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) } : {};
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Setup {
  port: number;
  marks: string;
}

/** A temp dir the CGI user (Apache's default uid when started as root) can enter, and a marks dir it can write. */
function prepareDir(t: TestContext): { dir: string; marks: string } {
  const tmp = tempDir('trellis-cgi-');
  t.after(() => tmp.cleanup());
  chmodSync(tmp.path, 0o755);
  const marks = join(tmp.path, 'marks');
  mkdirSync(marks);
  chmodSync(marks, 0o777);
  return { dir: tmp.path, marks };
}

/** Writes a wrapper script from its recipe; the test adds where the fixture drops its marks. */
function writeWrapper(dir: string, name: string, marks: string, values: Record<string, string | number>): void {
  const script = recipe(name, { NODE: process.execPath, TRELLIS: CLI, SITE, ...values }).replace(
    '\n',
    `\nexport TRELLIS_TEST_MARKS=${marks}\n`,
  );
  writeFileSync(join(dir, 'trellis.cgi'), script);
  chmodSync(join(dir, 'trellis.cgi'), 0o755);
}

/** Runs `trellis web` with a gateway listener for the relay or AJP; returns its port. */
async function startTrellis(t: TestContext, args: string[], marks: string): Promise<number> {
  const proc = await spawnTrellis(['web', ...args, '--class', SITE], {
    env: { TRELLIS_TEST_MARKS: marks },
    timeoutMs: 20_000,
  });
  t.after(() => proc.stop());
  const m = /:(\d+)\/?$/.exec(proc.url);
  assert.ok(m, `no port in ${proc.url}`);
  return Number(m[1]);
}

type Start = (t: TestContext) => Promise<Setup | null>;

/** Whether every directory above `path` lets others through (Apache runs CGI as another user when started as root). */
function othersCanReach(path: string): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === dirname(dir)) return true;
  }
}

const apacheCgi =
  (relay: boolean): Start =>
  async (t) => {
    const apache = needPeer(t, 'apache2');
    if (!apache) return null;
    if (process.getuid?.() === 0 && !(othersCanReach(CLI) && othersCanReach(process.execPath))) {
      t.skip(`Apache started as root runs CGI as another user, who cannot reach ${ROOT} or ${process.execPath}`);
      return null;
    }
    const { dir, marks } = prepareDir(t);
    const values: Record<string, number> = {};
    if (relay) values.FASTCGI_PORT = await startTrellis(t, ['--fastcgi', 'tcp:0:interface=127.0.0.1'], marks);
    writeWrapper(dir, relay ? 'trellis-relay.cgi' : 'trellis.cgi', marks, values);
    const port = await freePort();
    const daemon: Daemon = await startApache(apache, dir, port, ['cgid'], recipe('apache-cgi.conf', { DIR: dir }));
    t.after(() => daemon.stop());
    return { port, marks };
  };

const lighttpdCgi =
  (relay: boolean): Start =>
  async (t) => {
    const lighttpd = needPeer(t, 'lighttpd');
    if (!lighttpd) return null;
    const { dir, marks } = prepareDir(t);
    const values: Record<string, number> = {};
    if (relay) values.FASTCGI_PORT = await startTrellis(t, ['--fastcgi', 'tcp:0:interface=127.0.0.1'], marks);
    writeWrapper(dir, relay ? 'trellis-relay.cgi' : 'trellis.cgi', marks, values);
    const port = await freePort();
    const daemon = await startLighttpd(lighttpd, dir, port, recipe('lighttpd-cgi.conf', { DIR: dir }));
    t.after(() => daemon.stop());
    return { port, marks };
  };

const apacheAjp: Start = async (t) => {
  const apache = needPeer(t, 'apache2');
  if (!apache) return null;
  const { dir, marks } = prepareDir(t);
  const ajpPort = await startTrellis(
    t,
    ['--ajp', 'tcp:0:interface=127.0.0.1', '--ajp-secret', SECRET, '--mount', '/app'],
    marks,
  );
  const port = await freePort();
  const daemon = await startApache(
    apache,
    dir,
    port,
    ['proxy', 'proxy_ajp'],
    recipe('apache-ajp.conf', { AJP_PORT: ajpPort, SECRET }),
  );
  t.after(() => daemon.stop());
  return { port, marks };
};

const lighttpdAjp: Start = async (t) => {
  const lighttpd = needPeer(t, 'lighttpd');
  if (!lighttpd) return null;
  const { dir, marks } = prepareDir(t);
  const ajpPort = await startTrellis(t, ['--ajp', 'tcp:0:interface=127.0.0.1', '--mount', '/app'], marks);
  const port = await freePort();
  const daemon = await startLighttpd(lighttpd, dir, port, recipe('lighttpd-ajp.conf', { AJP_PORT: ajpPort, DIR: dir }));
  t.after(() => daemon.stop());
  return { port, marks };
};

const FRONT_ENDS: Array<[string, Start]> = [
  ['Apache mod_proxy_ajp', apacheAjp],
  ['lighttpd mod_ajp13', lighttpdAjp],
  ['Apache mod_cgid running trellis cgi', apacheCgi(false)],
  ['lighttpd mod_cgi running trellis cgi', lighttpdCgi(false)],
  ['Apache mod_cgid running trellis cgi --relay fastcgi', apacheCgi(true)],
  ['lighttpd mod_cgi running trellis cgi --relay fastcgi', lighttpdCgi(true)],
];

for (const [name, start] of FRONT_ENDS) {
  describe(`behind ${name}`, () => {
    it('serves the static file, the dynamic page, a 1 MiB POST, the redirect, and survives a client leaving', async (t) => {
      const setup = await start(t);
      if (!setup) return;
      const { port, marks } = setup;
      const origin = `http://127.0.0.1:${port}`;

      const file = await send(port, 'GET', '/app/static.txt');
      assert.equal(file.status, 200, file.body.toString());
      assert.equal(file.body.toString(), STATIC_TEXT);

      const info = await send(port, 'GET', '/app/info?x=1');
      assert.equal(info.status, 200, info.body.toString());
      const seen = JSON.parse(info.body.toString());
      assert.deepEqual(seen.prepath, ['app', 'info'], 'the mount point is the prepath');
      assert.equal(seen.prePathURL, `${origin}/app/info`);
      assert.equal(seen.arg, '1');
      assert.equal(seen.client, '127.0.0.1');

      const body = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
      const post = await send(port, 'POST', '/app/upload', body);
      assert.equal(post.status, 200, post.body.toString());
      assert.equal(post.body.toString(), `${body.length} ${createHash('sha256').update(body).digest('hex')}`);

      const go = await send(port, 'GET', '/app/go');
      assert.equal(go.status, 302);
      assert.equal(go.headers.location, `${origin}/app/info`);

      await hangUpDuring(port, '/app/stream');
      await waitFor(
        () => readdirSync(marks).some((f) => f.startsWith('lost-')),
        15_000,
        'the stream to notice the client left',
      );

      const after = await send(port, 'GET', '/app/info');
      assert.equal(after.status, 200, 'the next request is served');
    });
  });
}

describe('behind Apache mod_proxy_ajp with the wrong secret', () => {
  it('answers 403 when Apache sends a different secret', async (t) => {
    const apache = needPeer(t, 'apache2');
    if (!apache) return;
    const { dir, marks } = prepareDir(t);
    const ajpPort = await startTrellis(
      t,
      ['--ajp', 'tcp:0:interface=127.0.0.1', '--ajp-secret', SECRET, '--mount', '/app'],
      marks,
    );
    const port = await freePort();
    const daemon = await startApache(
      apache,
      dir,
      port,
      ['proxy', 'proxy_ajp'],
      recipe('apache-ajp.conf', { AJP_PORT: ajpPort, SECRET: 'not-the-secret' }),
    );
    t.after(() => daemon.stop());
    assert.equal((await send(port, 'GET', '/app/info')).status, 403);
  });
});

const PAGES: Array<[string, string[]]> = [
  ['apache-ajp.conf', ['apache.md']],
  ['lighttpd-ajp.conf', ['lighttpd.md']],
  ['apache-cgi.conf', ['apache.md', 'cgi.md']],
  ['lighttpd-cgi.conf', ['lighttpd.md', 'cgi.md']],
  ['trellis.cgi', ['cgi.md']],
  ['trellis-relay.cgi', ['cgi.md']],
];
for (const [file, pages] of PAGES) {
  test(`docs/deploy shows the tested ${file} unchanged`, () => {
    const text = readFileSync(join(RECIPES, file), 'utf8').trimEnd();
    for (const page of pages)
      assert.ok(
        readFileSync(join(ROOT, 'docs/deploy', page), 'utf8').includes(text),
        `${page} does not show ${file} as tested`,
      );
  });
}
