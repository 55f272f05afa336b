// FastCGI spawned mode: a front end starts Trellis with the listening socket as file descriptor 0
// (FCGI_LISTENSOCK_FILENO) and Trellis serves FastCGI on it (`--fastcgi fd:0`). End to end with
// lighttpd's "bin-path" from the documented recipe (a UNIX socket), and with libfcgi's
// `cgi-fcgi -start` (a TCP socket), where FCGI_WEB_SERVER_ADDRS limits who may connect.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseEndpoint, formatEndpoint } from '../../../src/channels/endpoint.js';
import { parseOnlyPeers, parseWebServerAddrs, peerAllowed, TrustedPeerError } from '../../../src/channels/gateway.js';
import { startLighttpd } from '../../helpers/daemon.js';
import { FcgiClient, cgiParams } from '../../helpers/fastcgi-client.js';
import { needPeer } from '../../helpers/peers.js';
import { CLI, ROOT, freePort, runTrellis, tempDir } from '../../helpers/server.js';
import type { Socket } from 'node:net';

const RECIPES = join(ROOT, 'docs/deploy/recipes');
const SITE = join(ROOT, 'test/fixtures/cgi-site.ts#Root');

function recipe(name: string, values: Record<string, string | number>): string {
  return readFileSync(join(RECIPES, name), 'utf8').replace(/\{\{(\w+)\}\}/g, (m, key: string) => {
    if (!(key in values)) throw new Error(`recipe ${name}: no value for ${m}`);
    return String(values[key]);
  });
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A temp dir with the documented wrapper script in it; the test adds lines that record Trellis's pid
 * (exec keeps it) and its stderr, so the test can stop it and read what it said. After the test, the
 * front end given to `stopFirst` stops (lighttpd starts Trellis again when it exits, writing into the
 * dir), then Trellis, and the dir is removed.
 */
function wrapperDir(
  t: TestContext,
  env: Record<string, string> = {},
): { dir: string; pidFile: string; errFile: string; stopFirst(stop: () => Promise<unknown>): void } {
  const tmp = tempDir('trellis-spawned-');
  const dir = tmp.path;
  const pidFile = join(dir, 'trellis.pid');
  const errFile = join(dir, 'trellis.err');
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}=${v}\n`)
    .join('');
  const added = `echo $$ > ${pidFile}\nexec 2>>${errFile}\n${exports}`;
  const script = recipe('trellis-fastcgi.sh', { NODE: process.execPath, TRELLIS: CLI, SITE }).replace(
    '\n',
    () => `\n${added}`,
  );
  writeFileSync(join(dir, 'trellis-fastcgi.sh'), script);
  chmodSync(join(dir, 'trellis-fastcgi.sh'), 0o755);
  let frontEnd: (() => Promise<unknown>) | null = null;
  t.after(async () => {
    await frontEnd?.();
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    tmp.cleanup();
  });
  return { dir, pidFile, errFile, stopFirst: (stop) => void (frontEnd = stop) };
}

test('parseEndpoint reads fd:N as an inherited listening socket', () => {
  assert.deepEqual(parseEndpoint('fd:0'), { type: 'fd', fd: 0 });
  assert.deepEqual(parseEndpoint('fd:fileno=3'), { type: 'fd', fd: 3 });
  assert.equal(formatEndpoint({ type: 'fd', fd: 0 }), 'fd:0');
  assert.throws(() => parseEndpoint('fd:'), /file descriptor/);
  assert.throws(() => parseEndpoint('fd:x'), /file descriptor must be a number/);
  assert.throws(() => parseEndpoint('fd:0:mode=660'), /unknown option/);
});

test('parseWebServerAddrs reads FCGI_WEB_SERVER_ADDRS; only the listed TCP peers pass, UNIX peers always', () => {
  assert.deepEqual(parseWebServerAddrs(' 127.0.0.1, 10.0.0.5 ,,::1'), ['127.0.0.1', '10.0.0.5', '::1']);
  assert.throws(() => parseWebServerAddrs('127.0.0.1,10.0.0.0/8'), TrustedPeerError);
  assert.throws(() => parseWebServerAddrs('localhost'), /not an IP address/);
  const only = parseOnlyPeers(['10.0.0.5']);
  const peer = (remoteAddress: string | undefined) =>
    ({ remoteAddress, remoteFamily: remoteAddress ? 'IPv4' : undefined }) as unknown as Socket;
  assert.equal(peerAllowed(peer('10.0.0.5'), null, only), true);
  assert.equal(peerAllowed(peer('::ffff:10.0.0.5'), null, only), true);
  assert.equal(peerAllowed(peer('127.0.0.1'), null, only), false, 'loopback only when listed');
  assert.equal(peerAllowed(peer('127.0.0.1'), null, null), true);
  assert.equal(peerAllowed(peer(undefined), null, only), true);
});

test('trellis web --fastcgi fd:0 without a listening socket on fd 0 says so and exits', async () => {
  const r = await runTrellis(['web', '--fastcgi', 'fd:0', '--class', SITE], { input: '' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /file descriptor 0 is not a listening socket/);
});

test('spawned by lighttpd (bin-path): serves the site under /app over the socket lighttpd made', async (t) => {
  const lighttpd = needPeer(t, 'lighttpd');
  if (!lighttpd) return;
  const { dir, pidFile, errFile, stopFirst } = wrapperDir(t);
  const port = await freePort();
  const daemon = await startLighttpd(lighttpd, dir, port, recipe('lighttpd-fastcgi-spawned.conf', { DIR: dir }));
  stopFirst(() => daemon.stop());
  const log = () => daemon.output();

  const info = await fetch(`http://127.0.0.1:${port}/app/info/a%20b?x=1`);
  assert.equal(info.status, 200, log());
  const seen = (await info.json()) as {
    prepath: string[];
    postpath: string[];
    prePathURL: string;
    channel: string;
    arg: string;
  };
  assert.equal(seen.channel, 'fastcgi');
  assert.deepEqual(seen.prepath, ['app', 'info']);
  assert.deepEqual(seen.postpath, ['a b']);
  assert.equal(seen.prePathURL, `http://127.0.0.1:${port}/app/info`);
  assert.equal(seen.arg, '1');

  const upload = Buffer.alloc(512 * 1024, 7);
  const posted = await fetch(`http://127.0.0.1:${port}/app/upload`, {
    method: 'POST',
    body: upload,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  assert.equal(await posted.text(), `${upload.length} ${createHash('sha256').update(upload).digest('hex')}`);

  // lighttpd opens a connection per request: each is accepted on the inherited socket.
  for (let i = 0; i < 5; i++) assert.equal((await fetch(`http://127.0.0.1:${port}/app/static.txt`)).status, 200);
  assert.ok(existsSync(pidFile), 'lighttpd ran the documented wrapper');
  assert.ok(
    alive(Number(readFileSync(pidFile, 'utf8'))),
    `one Trellis process served every request\n${log()}\n${readFileSync(errFile, 'utf8')}`,
  );
});

/** Starts Trellis through `cgi-fcgi -start -connect ADDR` (libfcgi binds ADDR and passes it as fd 0). */
async function startByCgiFcgi(t: TestContext, cgiFcgi: string, bind: string, env: Record<string, string> = {}) {
  const files = wrapperDir(t, env);
  const r = spawnSync(cgiFcgi, ['-start', '-connect', bind, join(files.dir, 'trellis-fastcgi.sh')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return files;
}

async function fastcgiGet(port: number): Promise<number | 'closed'> {
  const c = await FcgiClient.open(port);
  c.begin(1, cgiParams('GET', '/info'));
  c.stdin(1);
  await c.until(() => c.closed || c.ended(1) !== undefined, 20_000);
  if (!c.ended(1)) return 'closed';
  const r = await c.response(1);
  c.close();
  return r.status;
}

test('spawned by cgi-fcgi -start on TCP: serves FastCGI; FCGI_WEB_SERVER_ADDRS decides who may connect', async (t) => {
  const cgiFcgi = needPeer(t, 'cgi-fcgi');
  if (!cgiFcgi) return;
  // cgi-fcgi listens before it starts Trellis: a connection waits in the backlog until Trellis accepts it.
  const open = await freePort();
  await startByCgiFcgi(t, cgiFcgi, `127.0.0.1:${open}`);
  assert.equal(await fastcgiGet(open), 200);

  const listed = await freePort();
  await startByCgiFcgi(t, cgiFcgi, `127.0.0.1:${listed}`, { FCGI_WEB_SERVER_ADDRS: '10.1.2.3,127.0.0.1' });
  assert.equal(await fastcgiGet(listed), 200);

  const unlisted = await freePort();
  const { errFile } = await startByCgiFcgi(t, cgiFcgi, `127.0.0.1:${unlisted}`, { FCGI_WEB_SERVER_ADDRS: '10.1.2.3' });
  assert.equal(await fastcgiGet(unlisted), 'closed');
  await waitFor(
    () =>
      existsSync(errFile) &&
      readFileSync(errFile, 'utf8').includes('refused: not a trusted peer (FCGI_WEB_SERVER_ADDRS)'),
    5000,
    'the refusal in the log',
  );
});

test('spawned on an inherited TCP socket bound to all interfaces: refuses to start without trusted peers', async (t) => {
  const cgiFcgi = needPeer(t, 'cgi-fcgi');
  if (!cgiFcgi) return;
  const port = await freePort();
  const { errFile, pidFile } = await startByCgiFcgi(t, cgiFcgi, `:${port}`);
  await waitFor(
    () => existsSync(errFile) && /gateway-trusted-peers/.test(readFileSync(errFile, 'utf8')),
    20_000,
    'the refusal',
  );
  await waitFor(() => !alive(Number(readFileSync(pidFile, 'utf8'))), 5000, 'Trellis to exit');
  assert.match(readFileSync(errFile, 'utf8'), /TCP socket on 0\.0\.0\.0/);
});

test('docs/deploy/lighttpd.md shows the spawned recipe and its wrapper script unchanged', () => {
  const page = readFileSync(join(ROOT, 'docs/deploy/lighttpd.md'), 'utf8');
  for (const file of ['lighttpd-fastcgi-spawned.conf', 'trellis-fastcgi.sh']) {
    assert.ok(
      page.includes(readFileSync(join(RECIPES, file), 'utf8').trimEnd()),
      `lighttpd.md does not show ${file} as tested`,
    );
  }
});
