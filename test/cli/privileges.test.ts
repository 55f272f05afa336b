// `--uid`/`--gid` run as root with a real unprivileged user the test creates: the server binds a port
// below 1024 first, then runs as that user (real, effective and saved ids, supplementary groups), and
// the files it creates belong to the user; names and numbers both work. Also --umask and --chdir.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';
import { canCreateUsers, createUser } from '../helpers/system-users.js';

/** Uid, Gid and Groups lines of /proc/PID/status: `[real, effective, saved, fs]` ids and the groups. */
function credentials(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

/** A port below 1024 nothing listens on. */
function privilegedPort(): number {
  const used = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local) used.add(parseInt(local.split(':')[1]!, 16));
    }
  }
  for (let p = 900; p < 1000; p++) if (!used.has(p)) return p;
  throw new Error('no free port below 1024');
}

test('--uid/--gid as root: binds a port below 1024, then runs as the user; its files belong to the user', async (t) => {
  if (!canCreateUsers(t, 'it creates a user and binds a port below 1024')) return;
  const { name: user, uid, gid } = createUser(t, { home: false, system: true });
  const dir = tempDir();
  t.after(() => dir.cleanup());
  chmodSync(dir.path, 0o755);
  const run = join(dir.path, 'run');
  execFileSync('install', ['-d', '-o', String(uid), '-g', String(gid), '-m', '0750', run]);
  const port = privilegedPort();
  const access = join(run, 'access.log');
  const errors = join(run, 'error.log');
  const root = process.cwd();
  const server = await spawnTrellis(
    [
      'web',
      '--class',
      join(root, 'test/fixtures/process-site.ts#Root'),
      '--listen',
      `tcp:${port}:interface=127.0.0.1`,
      '--uid',
      user,
      '--gid',
      String(gid),
      '--chdir',
      run,
      '--umask',
      '027',
      '--logfile',
      access,
      '--errorlog',
      errors,
    ],
    { cwd: root },
  );
  t.after(() => server.stop('SIGKILL'));
  assert.equal(server.url, `http://127.0.0.1:${port}/`);
  const creds = credentials(server.proc.pid!);
  assert.deepEqual(creds.uid, [uid, uid, uid, uid], 'real, effective, saved and filesystem uid');
  assert.deepEqual(creds.gid, [gid, gid, gid, gid], 'real, effective, saved and filesystem gid');
  assert.deepEqual(creds.groups, [gid], "only the user's groups (root's are gone)");
  const res = await fetch(`${server.url}write`);
  assert.equal(await res.text(), 'written');
  const made = statSync(join(run, 'written-by-server.txt'));
  assert.equal(made.uid, uid, 'a file the server writes (in --chdir) belongs to the user');
  assert.equal(made.gid, gid);
  assert.equal(made.mode & 0o777, 0o640, '--umask 027 applied');
  await sleep(200);
  for (const log of [access, errors]) {
    const st = statSync(log);
    assert.equal(st.uid, uid, `${log} belongs to the user`);
    assert.equal(st.mode & 0o777, 0o640, `${log} is 0640`);
  }
  assert.match(readFileSync(access, 'utf8'), /"GET \/write HTTP\/1\.1" 200/);
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('--uid with --workers 2 as root: the primary and every worker run as the user', async (t) => {
  if (!canCreateUsers(t, 'it creates a user and binds a port below 1024')) return;
  const { uid, gid } = createUser(t, { home: false, system: true });
  const port = privilegedPort();
  const server = await spawnTrellis(
    [
      'web',
      '--class',
      'test/fixtures/process-site.ts#Root',
      '--listen',
      `tcp:${port}:interface=127.0.0.1`,
      '--uid',
      String(uid),
      '--workers',
      '2',
    ],
    { timeoutMs: 30_000 },
  );
  t.after(() => server.stop('SIGKILL'));
  const children = () => {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== server.proc.pid) continue;
        // Workers only: a helper process the primary runs for a moment (getent) is not one.
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('main.js')) pids.push(Number(entry));
      } catch {
        // gone
      }
    }
    return pids;
  };
  const workers = children();
  assert.equal(workers.length, 2);
  for (const pid of [server.proc.pid!, ...workers]) {
    const creds = credentials(pid);
    assert.deepEqual(creds.uid, [uid, uid, uid, uid], `uids of ${pid}`);
    assert.deepEqual(creds.gid, [gid, gid, gid, gid], `gids of ${pid} (numeric --uid: the user's primary group)`);
    assert.deepEqual(creds.groups, [gid], `groups of ${pid}`);
  }
  // A replacement worker starts as the user and serves on the port bound as root.
  process.kill(workers[0]!, 'SIGKILL');
  const end = Date.now() + 20_000;
  let replacement: number | undefined;
  while (Date.now() < end && !(replacement = children().find((p) => !workers.includes(p)))) await sleep(100);
  assert.ok(replacement, `no worker replaced ${workers[0]}; children now: ${children().join(' ')}`);
  assert.deepEqual(credentials(replacement).uid, [uid, uid, uid, uid]);
  for (let i = 0; i < 10; i++)
    assert.equal((await fetch(`${server.url}pid`, { headers: { connection: 'close' } })).status, 200);
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('--uid names an unknown user, or a non-root start asks to switch: one-line errors', async () => {
  const unknown = await runTrellis(['web', '--uid', 'no-such-user-here', '--listen', 'tcp:0:interface=127.0.0.1']);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /^trellis: --uid: no user named "no-such-user-here" on this system; give an existing user name or a number\n$/,
  );
  const bad = await runTrellis(['web', '--gid', 'a b']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^trellis: --gid needs a group name or number, not "a b"\n$/);
  const umask = await runTrellis(['web', '--umask', '999']);
  assert.match(umask.stderr, /^trellis: --umask needs an octal mode like 027, not "999"\n$/);
  const dir = await runTrellis(['web', '--chdir', '/no/such/dir', '--listen', 'tcp:0:interface=127.0.0.1']);
  assert.equal(dir.code, 2);
  assert.match(dir.stderr, /^trellis: --chdir \/no\/such\/dir: no such directory\n$/);
});
