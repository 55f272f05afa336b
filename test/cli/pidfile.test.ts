// `--pidfile` and `--daemon`: a live holder refuses a second server, a stale file is cleaned, two
// servers starting at once get one pidfile between them; a daemon's command exits 0 once it serves,
// or prints why it failed and exits non-zero.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';

async function until(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
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

test('--pidfile: written while serving, refuses a second server, removed at exit', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const pidfile = join(dir.path, 'trellis.pid');
  const server = await spawnTrellis([
    'web',
    '--path',
    dir.path,
    '--listen',
    'tcp:0:interface=127.0.0.1',
    '--pidfile',
    pidfile,
  ]);
  t.after(() => server.stop('SIGKILL'));
  assert.equal(readFileSync(pidfile, 'utf8'), `${server.proc.pid}\n`);
  const second = await runTrellis([
    'web',
    '--path',
    dir.path,
    '--listen',
    'tcp:0:interface=127.0.0.1',
    '--pidfile',
    pidfile,
  ]);
  assert.equal(second.code, 1);
  assert.equal(
    second.stderr,
    `trellis: --pidfile ${pidfile}: a server with pid ${server.proc.pid} is running; stop it first (kill ${server.proc.pid})\n`,
  );
  assert.equal(readFileSync(pidfile, 'utf8'), `${server.proc.pid}\n`, 'the refused server left the file alone');
  assert.equal(await server.stop('SIGTERM'), 0);
  assert.equal(existsSync(pidfile), false, 'removed at exit');
});

test('--pidfile: a stale file (its process gone) is replaced', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const pidfile = join(dir.path, 'trellis.pid');
  writeFileSync(pidfile, '999999999\n');
  const server = await spawnTrellis([
    'web',
    '--path',
    dir.path,
    '--listen',
    'tcp:0:interface=127.0.0.1',
    '--pidfile',
    pidfile,
  ]);
  t.after(() => server.stop('SIGKILL'));
  assert.equal(readFileSync(pidfile, 'utf8'), `${server.proc.pid}\n`);
});

test('--pidfile: of servers started at the same moment on a stale file, exactly one runs', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const pidfile = join(dir.path, 'trellis.pid');
  writeFileSync(pidfile, '999999999\n');
  const starts = Array.from({ length: 4 }, () =>
    spawnTrellis(['web', '--path', dir.path, '--listen', 'tcp:0:interface=127.0.0.1', '--pidfile', pidfile]).then(
      (s) => s,
      (err: Error) => err,
    ),
  );
  const results = await Promise.all(starts);
  const running = results.filter((r) => !(r instanceof Error));
  t.after(() => Promise.all(running.map((s) => (s as Awaited<ReturnType<typeof spawnTrellis>>).stop('SIGKILL'))));
  assert.equal(
    running.length,
    1,
    results
      .map((r) => (r instanceof Error ? r.message.split('\n').find((l) => l.includes('pidfile')) : 'running'))
      .join('\n'),
  );
  const winner = running[0] as Awaited<ReturnType<typeof spawnTrellis>>;
  assert.equal(readFileSync(pidfile, 'utf8'), `${winner.proc.pid}\n`);
  for (const r of results) if (r instanceof Error) assert.match(r.message, /a server with pid \d+ is running/);
});

test('--daemon: the command exits 0 once the server serves; the server runs detached with its pidfile', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  writeFileSync(join(dir.path, 'index.html'), 'daemon here\n');
  const pidfile = join(dir.path, 'd.pid');
  const port = await freePort();
  const started = await runTrellis([
    'web',
    '--path',
    dir.path,
    '--listen',
    `tcp:${port}:interface=127.0.0.1`,
    '--daemon',
    '--pidfile',
    pidfile,
    '--errorlog',
    join(dir.path, 'error.log'),
  ]);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, new RegExp(`serving http://127.0.0.1:${port}/`));
  const pid = Number(readFileSync(pidfile, 'utf8'));
  t.after(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  assert.match(started.stdout, new RegExp(`daemon, pid ${pid}`));
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await res.text(), 'daemon here\n');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2)
    .split(' ');
  assert.equal(Number(stat[3]), pid, 'the daemon leads its own session');
  assert.equal(stat[4], '0', 'and has no controlling terminal');
  assert.match(readFileSync(join(dir.path, 'error.log'), 'utf8'), /serving http:\/\/127\.0\.0\.1/);
  process.kill(pid, 'SIGTERM');
  await until('the daemon to exit', () => !alive(pid));
  assert.equal(existsSync(pidfile), false);
});

test('--daemon with --workers 2: released once the workers serve; SIGTERM to the pidfile pid stops the pool', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  writeFileSync(join(dir.path, 'index.html'), 'pool\n');
  const pidfile = join(dir.path, 'd.pid');
  const port = await freePort();
  const started = await runTrellis([
    'web',
    '--path',
    dir.path,
    '--listen',
    `tcp:${port}:interface=127.0.0.1`,
    '--daemon',
    '--workers',
    '2',
    '--pidfile',
    pidfile,
  ]);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /2 worker processes/);
  const pid = Number(readFileSync(pidfile, 'utf8'));
  t.after(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'pool\n');
  process.kill(pid, 'SIGTERM');
  await until('the pool to exit', () => !alive(pid));
  assert.equal(existsSync(pidfile), false);
});

test('--daemon: a server that cannot start makes the command print why and exit non-zero', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const blocker = await spawnTrellis(['web', '--path', dir.path, '--listen', 'tcp:0:interface=127.0.0.1']);
  t.after(() => blocker.stop('SIGKILL'));
  const port = new URL(blocker.url).port;
  const r = await runTrellis(['web', '--path', dir.path, '--listen', `tcp:${port}:interface=127.0.0.1`, '--daemon']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^trellis: cannot listen on tcp:\d+:interface=127\.0\.0\.1: address already in use; .*\n$/);
  assert.equal(r.stdout, '');
});
