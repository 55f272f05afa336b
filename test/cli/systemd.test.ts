// `--listen systemd:domain=INET:index=0`: serving on the socket systemd passes (LISTEN_FDS,
// LISTEN_PID), driven by systemd's own `systemd-socket-activate`, in one process or a worker pool.
// Like a .socket unit, it starts the service on the first connection, which waits in the backlog.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { needPeer } from '../helpers/peers.js';
import { CLI, freePort, runTrellis, tempDir } from '../helpers/server.js';

/** Resolves once systemd-socket-activate listens on `port` (from /proc/net/tcp). */
async function waitForListener(port: number): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (let i = 0; i < 200; i++) {
    const table = readFileSync('/proc/net/tcp', 'utf8');
    if (table.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex) && l.trim().split(/\s+/)[3] === '0A'))
      return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** A connection that starts the activated service, then goes. */
function poke(port: number): void {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  setTimeout(() => s.destroy(), 3000).unref();
}

for (const workers of [[], ['--workers', '2']]) {
  test(`systemd-socket-activate hands Trellis its listening socket${workers.length ? ' (worker pool)' : ''}`, async (t) => {
    const activate = needPeer(t, 'systemd-socket-activate');
    if (!activate) return;
    const dir = tempDir();
    t.after(() => dir.cleanup());
    writeFileSync(join(dir.path, 'index.html'), 'socket activated\n');
    const port = await freePort();
    const child = spawn(
      activate,
      [
        '-l',
        `127.0.0.1:${port}`,
        process.execPath,
        CLI,
        'web',
        '--path',
        dir.path,
        '--listen',
        'systemd:domain=INET:index=0',
        ...workers,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitForListener(port);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), 'socket activated\n', err);
    // The socket listens before Trellis starts, so a worker can answer before the banner is printed.
    const banner = new RegExp(`serving http://127\\.0\\.0\\.1:${port}/`);
    for (const end = Date.now() + 15_000; !banner.test(out) && Date.now() < end; ) await sleep(20);
    assert.match(out, banner);
    assert.equal((await fetch(`http://127.0.0.1:${port}/missing`)).status, 404);
    child.kill('SIGTERM');
    assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 0);
  });
}

test('systemd: without LISTEN_FDS, for another pid, past the count, or of the wrong domain: one-line errors', async (t) => {
  const base = ['web', '--path', '.'];
  const none = await runTrellis([...base, '--listen', 'systemd:domain=INET:index=0'], {
    env: { LISTEN_FDS: '', LISTEN_PID: '' },
  });
  assert.equal(none.code, 1);
  assert.match(
    none.stderr,
    /^trellis: cannot listen on systemd:domain=INET:index=0: no sockets were passed \(LISTEN_FDS is not set\); start Trellis from a systemd \.socket unit or systemd-socket-activate\n$/,
  );
  const other = await runTrellis([...base, '--listen', 'systemd:index=0'], {
    env: { LISTEN_FDS: '1', LISTEN_PID: '1' },
  });
  assert.equal(other.code, 1);
  assert.match(other.stderr, /the passed sockets are for pid 1, not this process/);
  const bad = await runTrellis([...base, '--listen', 'systemd:domain=IPX']);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^trellis: bad endpoint "systemd:domain=IPX": domain must be INET, INET6 or UNIX, not "IPX"\n$/,
  );
  const activate = needPeer(t, 'systemd-socket-activate');
  if (!activate) return;
  const port = await freePort();
  const wrong = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(
      activate,
      ['-l', `127.0.0.1:${port}`, process.execPath, CLI, ...base, '--listen', 'systemd:domain=UNIX:index=0'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('exit', (code) => resolve({ code, err }));
    void waitForListener(port).then(() => poke(port));
  });
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /socket 3 is not an UNIX socket; match domain= to ListenStream= in the \.socket unit/);
  const past = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(
      activate,
      ['-l', `127.0.0.1:${port}`, process.execPath, CLI, ...base, '--listen', 'systemd:index=1'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('exit', (code) => resolve({ code, err }));
    void waitForListener(port).then(() => poke(port));
  });
  assert.equal(past.code, 1);
  assert.match(past.err, /only 1 socket\(s\) were passed \(index counts from 0\)/);
});
