// SIGHUP: the configuration (module, JSON, drop-ins, certificates) is read again and swapped in
// under the open listeners: no request fails while it happens, and a configuration with an error
// keeps the running one.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { test } from 'node:test';
import { needPeer } from '../helpers/peers.js';
import { CLI, spawnTrellis, tempDir, type TrellisProcess } from '../helpers/server.js';
import { httpGet, servingUrls, waitForOutput } from '../helpers/serving.js';
import { makeCertificate } from '../helpers/tls.js';

/** Start-up can take long on a loaded machine (TypeScript modules go through tsx): a liveness bound only. */
const START = 30_000;

const LOOPBACK = 'tcp:0:interface=127.0.0.1';

function siteModule(version: number): string {
  return `import { NOT_DONE_YET, Resource, Site, type Request } from 'trellis';
class Version extends Resource {
  override isLeaf = true;
  GET() {
    return 'version ${version}';
  }
}
class Slow extends Resource {
  override isLeaf = true;
  GET(request: Request) {
    setTimeout(() => {
      request.write('slow ${version}');
      request.finish();
    }, 300);
    return NOT_DONE_YET;
  }
}
const root = new Resource();
root.putChild('version', new Version());
root.putChild('slow', new Slow());
export default new Site(root);
`;
}

/** A GET on a new connection (no keep-alive), so that connections are opened during the swap too. */
async function freshGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const { status, body } = await httpGet(`http://127.0.0.1:${port}/`, path);
  return { status, body };
}

const reloads = (server: TrellisProcess) => server.stderr().match(/configuration reloaded/g)?.length ?? 0;

async function hangup(server: TrellisProcess, done: number): Promise<void> {
  server.proc.kill('SIGHUP');
  await waitForOutput(server.stderr, new RegExp(`(configuration reloaded[\\s\\S]*){${done}}`));
  assert.equal(reloads(server), done);
}

test('SIGHUP under load: every request succeeds, in-flight ones finish, and new requests see the new module', async (t) => {
  const dir = tempDir('trellis-reload-');
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'site.ts');
  writeFileSync(file, siteModule(0));
  const server = await spawnTrellis(['run', file, '--listen', LOOPBACK], { cwd: dir.path, timeoutMs: START });
  t.after(() => server.stop());
  const port = Number(new URL(server.url).port);

  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const seen = new Set<string>();
  const record = (p: Promise<{ status: number; body: string }>) =>
    p.then(
      (r) => {
        if (r.status !== 200) failures.push(`${r.status} ${r.body}`);
        else {
          ok++;
          seen.add(r.body);
        }
      },
      (err: Error) => failures.push(err.message),
    );
  // Each client runs until the reloads are done; the cap only bounds the loop should that never come
  // (a fast Node answers a few thousand requests per client in the reload window).
  const MAX = 80_000;
  const clients = [
    ...Array.from({ length: 4 }, async () => {
      for (let i = 0; running && i < MAX / 8; i++) {
        await record(
          fetch(`http://127.0.0.1:${port}/version`).then(async (r) => ({ status: r.status, body: await r.text() })),
        );
      }
    }),
    ...Array.from({ length: 3 }, async () => {
      for (let i = 0; running && i < MAX / 8; i++) await record(freshGet(port, '/version'));
    }),
    (async () => {
      for (let i = 0; running && i < 40; i++) await record(freshGet(port, '/slow'));
    })(),
  ];
  const RELOADS = 5;
  for (let v = 1; v <= RELOADS; v++) {
    await new Promise((r) => setTimeout(r, 250));
    writeFileSync(file, siteModule(v));
    await hangup(server, v);
  }
  await new Promise((r) => setTimeout(r, 400));
  running = false;
  await Promise.all(clients);
  assert.deepEqual(failures, [], `${failures.length} failed requests of ${ok + failures.length}`);
  assert.ok(ok > 50, `requests served: ${ok}`);
  assert.equal((await freshGet(port, '/version')).body, `version ${RELOADS}`);
  assert.ok(seen.has('version 0') && seen.has(`version ${RELOADS}`), [...seen].join(', '));
  assert.ok(
    [...seen].some((b) => b.startsWith('slow')),
    'slow requests completed',
  );
  assert.equal(server.proc.exitCode, null);
});

test('a module with an error on SIGHUP keeps the running site, says why in one line, and a fixed one loads', async (t) => {
  const dir = tempDir('trellis-reload-');
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'site.ts');
  writeFileSync(file, siteModule(1));
  const server = await spawnTrellis(['run', file, '--listen', LOOPBACK], { cwd: dir.path, timeoutMs: START });
  t.after(() => server.stop());
  const port = Number(new URL(server.url).port);
  for (const [bad, why] of [
    ['export default new (;\n', /cannot load .*site\.ts/],
    ['export default 42;\n', /site\.ts: the default export is not a Site/],
    [
      `import { Data } from 'trellis';\nexport default { sites: [{ site: new Data('x', 'text/plain'), listen: ['tcp:bad'] }] };\n`,
      /bad endpoint "tcp:bad"/,
    ],
  ] as const) {
    writeFileSync(file, bad);
    const before = server.stderr().length;
    server.proc.kill('SIGHUP');
    await waitForOutput(() => server.stderr().slice(before), /configuration not reloaded/);
    const line = server.stderr().slice(before).trim();
    assert.equal(line.split('\n').length, 1, line);
    assert.match(line, why);
    assert.match(line, /still serving the previous one$/);
    assert.deepEqual(await freshGet(port, '/version'), { status: 200, body: 'version 1' });
  }
  writeFileSync(file, siteModule(2));
  await hangup(server, 1);
  assert.deepEqual(await freshGet(port, '/version'), { status: 200, body: 'version 2' });
});

test('SIGHUP re-reads a JSON configuration and its drop-ins: new options, new listeners, a bad value kept out', async (t) => {
  const dir = tempDir('trellis-reload-');
  t.after(() => dir.cleanup());
  mkdirSync(join(dir.path, 'site'));
  mkdirSync(join(dir.path, 'local.d'));
  writeFileSync(join(dir.path, 'site/a.txt'), 'a');
  const config = (options: Record<string, unknown>) =>
    writeFileSync(
      join(dir.path, 'web.json'),
      JSON.stringify({
        service: 'web',
        configDir: 'local.d',
        options: { path: 'site', listen: [LOOPBACK], ...options },
      }),
    );
  config({ 'add-header': 'X-Version: 1' });
  const server = await spawnTrellis(['run', 'web.json'], { cwd: dir.path, timeoutMs: START });
  t.after(() => server.stop());
  const port = Number(new URL(server.url).port);
  assert.equal((await fetch(`http://127.0.0.1:${port}/a.txt`)).headers.get('x-version'), '1');

  const sock = join(dir.path, 'extra.sock');
  config({ 'add-header': 'X-Version: 2', listen: [LOOPBACK, `unix:${sock}`] });
  writeFileSync(
    join(dir.path, 'local.d/10-extra.mjs'),
    `import { Data } from 'trellis';\nexport default (c) => c.putChild('extra', new Data('from a drop-in', 'text/plain'));\n`,
  );
  await hangup(server, 1);
  const res = await fetch(`http://127.0.0.1:${port}/a.txt`);
  assert.equal(res.headers.get('x-version'), '2', 'the same port serves the new options');
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/extra`)).text(), 'from a drop-in');
  await servingUrls(server, 2);
  assert.match(server.stdout(), new RegExp(`serving unix:${sock}`));
  assert.equal((await httpGet(`unix:${sock}`, '/extra')).body, 'from a drop-in');

  config({ 'add-header': 'no colon here' });
  const before = server.stderr().length;
  server.proc.kill('SIGHUP');
  await waitForOutput(() => server.stderr().slice(before), /configuration not reloaded/);
  assert.match(server.stderr().slice(before), /web\.json: "options\.add-header": --add-header needs "Name: value"/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/a.txt`)).headers.get('x-version'), '2');

  writeFileSync(
    join(dir.path, 'local.d/20-broken.mjs'),
    'export default () => { throw new Error("broken on purpose"); };\n',
  );
  config({ 'add-header': 'X-Version: 3' });
  const again = server.stderr().length;
  server.proc.kill('SIGHUP');
  await waitForOutput(() => server.stderr().slice(again), /configuration not reloaded/);
  assert.match(server.stderr().slice(again), /20-broken\.mjs failed: broken on purpose/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/a.txt`)).headers.get('x-version'), '2');
});

test('a SIGHUP while the configuration is still loading neither kills the server nor is lost', async (t) => {
  const dir = tempDir('trellis-reload-');
  t.after(() => dir.cleanup());
  const marker = join(dir.path, 'loading');
  writeFileSync(
    join(dir.path, 'slow.ts'),
    `import { writeFileSync } from 'node:fs';
import { Data } from 'trellis';
writeFileSync(${JSON.stringify(marker)}, 'x');
await new Promise((r) => setTimeout(r, 1500));
export default new Data('slow to load', 'text/plain');
`,
  );
  const child = spawn(process.execPath, [CLI, 'run', 'slow.ts', '--listen', LOOPBACK], {
    cwd: dir.path,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(marker), 'the module started loading');
  child.kill('SIGHUP');
  await waitForOutput(() => stdout, /serving (\S+)/, 20_000);
  const url = /serving (\S+)/.exec(stdout)![1]!;
  assert.equal(await (await fetch(url)).text(), 'slow to load');
  await waitForOutput(() => stderr, /configuration reloaded/, 20_000);
  assert.equal(child.exitCode, null, 'still running');
  child.kill('SIGTERM');
});

function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

test('SIGHUP re-reads the TLS certificate and key under the same listener', async (t) => {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const dir = tempDir('trellis-reload-');
  t.after(() => dir.cleanup());
  mkdirSync(join(dir.path, 'one'));
  mkdirSync(join(dir.path, 'two'));
  const first = makeCertificate(openssl, join(dir.path, 'one'));
  const second = makeCertificate(openssl, join(dir.path, 'two'));
  copyFileSync(first.key, join(dir.path, 'key.pem'));
  copyFileSync(first.cert, join(dir.path, 'cert.pem'));
  const server = await spawnTrellis(
    ['web', '--path', '.', '--listen', 'ssl:0:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem'],
    { cwd: dir.path, timeoutMs: START },
  );
  t.after(() => server.stop());
  const port = Number(new URL(server.url).port);
  const before = await peerFingerprint(port);
  copyFileSync(second.key, join(dir.path, 'key.pem'));
  copyFileSync(second.cert, join(dir.path, 'cert.pem'));
  await hangup(server, 1);
  const after = await peerFingerprint(port);
  assert.notEqual(after, before, 'new connections get the new certificate');

  writeFileSync(join(dir.path, 'cert.pem'), 'not a certificate');
  const mark = server.stderr().length;
  server.proc.kill('SIGHUP');
  await waitForOutput(() => server.stderr().slice(mark), /configuration not reloaded/);
  assert.equal(await peerFingerprint(port), after, 'a broken certificate keeps the previous one');
});
