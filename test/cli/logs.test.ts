// The access log and the error log: created 0640, JSON lines with --log-format json, tracebacks in the
// error log, and a real logrotate run (create, then SIGUSR1) after which both logs go on in new files;
// SIGUSR1 never opens the inspector's port 9229, in a single process or a worker pool.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { needPeer } from '../helpers/peers.js';
import { acceptsTcp, ROOT, spawnTrellis, tempDir } from '../helpers/server.js';

const SITE = ['--class', join(ROOT, 'test/fixtures/process-site.ts#Root')];

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('--log-format json: access lines and error records are JSON objects; both files are 0640', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const access = join(dir.path, 'access.log');
  const errors = join(dir.path, 'error.log');
  const server = await spawnTrellis([
    'web',
    ...SITE,
    '--listen',
    'tcp:0:interface=127.0.0.1',
    '--logfile',
    access,
    '--errorlog',
    errors,
    '--log-format',
    'json',
  ]);
  t.after(() => server.stop('SIGKILL'));
  assert.equal((await fetch(`${server.url}pid`, { headers: { 'user-agent': 'evil" {"forged":1}' } })).status, 200);
  assert.equal((await fetch(`${server.url}boom`)).status, 500);
  await until('two access lines', () => existsSync(access) && readFileSync(access, 'utf8').split('\n').length > 2);
  const lines = readFileSync(access, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2, 'one object per request');
  assert.equal(lines[0]!.userAgent, 'evil" {"forged":1}');
  assert.equal(lines[1]!.uri, '/boom');
  assert.equal(lines[1]!.status, 500);
  assert.equal(lines[0]!.client, '127.0.0.1');
  const records = readFileSync(errors, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { time: string; pid: number; message: string });
  assert.ok(
    records.some((r) => /serving http:/.test(r.message)),
    'start-up in the error log',
  );
  const failure = records.find((r) => r.message.includes('process fixture failure'));
  assert.ok(failure, 'the failure is logged');
  assert.match(failure.message, /\n\s+at /, 'with its traceback, in one record');
  assert.equal(failure.pid, server.proc.pid);
  assert.doesNotMatch(failure.message, /^\d{4}-\d\d-\d\dT/, 'the time is in its field, not twice');
  assert.equal(statSync(access).mode & 0o777, 0o640);
  assert.equal(statSync(errors).mode & 0o777, 0o640);
  assert.equal(server.stderr(), '', 'nothing left on stderr');
});

for (const workers of [[], ['--workers', '2']]) {
  test(`logrotate (create, postrotate kill -USR1) rotates both logs${workers.length ? ' of a worker pool' : ''}; port 9229 never opens`, async (t) => {
    const logrotate = needPeer(t, 'logrotate');
    if (!logrotate) return;
    const dir = tempDir();
    t.after(() => dir.cleanup());
    const access = join(dir.path, 'access.log');
    const errors = join(dir.path, 'error.log');
    const pidfile = join(dir.path, 'trellis.pid');
    const inspectorWasOpen = await acceptsTcp(9229);
    const server = await spawnTrellis(
      [
        'web',
        ...SITE,
        '--listen',
        'tcp:0:interface=127.0.0.1',
        '--logfile',
        access,
        '--errorlog',
        errors,
        '--pidfile',
        pidfile,
        ...workers,
      ],
      { timeoutMs: 30_000 },
    );
    t.after(() => server.stop('SIGKILL'));
    await fetch(`${server.url}before`).then((r) => r.text());
    await until('the first line', () => readFileSync(access, 'utf8').includes('/before'));
    const conf = join(dir.path, 'logrotate.conf');
    writeFileSync(
      conf,
      `${access} ${errors} {\n  rotate 2\n  create 0640\n  sharedscripts\n  postrotate\n    kill -USR1 $(cat ${pidfile})\n  endscript\n}\n`,
    );
    execFileSync(logrotate, ['--force', '--state', join(dir.path, 'state'), conf]);
    assert.match(readFileSync(`${access}.1`, 'utf8'), /\/before/);
    await sleep(500);
    for (let i = 0; i < 6; i++)
      await fetch(`${server.url}after`, { headers: { connection: 'close' } }).then((r) => r.text());
    await until('lines in the new access log', () => readFileSync(access, 'utf8').split('\n').length > 6).catch(
      (err: Error) => {
        throw new Error(
          `${err.message}\nnew: ${readFileSync(access, 'utf8')}\nold: ${readFileSync(`${access}.1`, 'utf8')}\nerrors: ${readFileSync(errors, 'utf8')}`,
        );
      },
    );
    const fresh = readFileSync(access, 'utf8');
    assert.doesNotMatch(fresh, /\/before/);
    assert.equal(fresh.trim().split('\n').length, 6, 'every request of every worker lands in the new file');
    assert.doesNotMatch(readFileSync(`${access}.1`, 'utf8'), /\/after/);
    assert.match(readFileSync(errors, 'utf8'), /SIGUSR1 received, log files reopened/);
    if (!inspectorWasOpen) assert.equal(await acceptsTcp(9229), false, 'nothing on 127.0.0.1:9229');
    assert.doesNotMatch(
      readFileSync(errors, 'utf8') + readFileSync(`${errors}.1`, 'utf8'),
      /Debugger listening|inspector/i,
    );
    assert.equal(server.proc.exitCode, null, 'still serving');
  });
}
