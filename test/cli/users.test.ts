// `trellis web --user` and `trellis web --personal` through the real command, as root, with real
// users the test creates (`useradd -m`, random names, removed at the end): ~/public_html at /~name/,
// the listing, the redirect, program files and symlink escapes refused; a personal server started as
// its user (setpriv) on ~/.trellis-web.sock (0600, or 0660 for --personal-group), relayed at
// /~name.trellis/ and name.DOMAIN with prefix, host, scheme, client and session scope kept; 502 when
// it is down. Every error a user can cause exits non-zero with one line. Option errors need no root.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchRaw } from '../proxy/http-client.js';
import { CLI, runTrellis, spawnTrellis } from '../helpers/server.js';
import { oneLine } from '../helpers/serving.js';
import { canCreateUsers, createUser, type SystemUser as User } from '../helpers/system-users.js';

/** Writes `files` (path → content) under the user's home, owned by the user. */
function give(user: User, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(user.home, path);
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = join(user.home, ...parts.slice(0, i));
      if (!existsSync(d)) {
        mkdirSync(d);
        chownSync(d, user.uid, user.gid);
      }
    }
    writeFileSync(full, content);
    chownSync(full, user.uid, user.gid);
  }
}

/** A `trellis` process started as `user` (setpriv: real, effective and saved ids, the user's groups). */
interface AsUser {
  proc: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

function spawnAs(user: User, args: string[]): AsUser {
  const proc = spawn(
    'setpriv',
    ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', process.execPath, CLI, ...args],
    {
      cwd: user.home,
      env: { ...process.env, HOME: user.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    out: () => out,
    err: () => err,
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Waits until `read()` matches `pattern` (a banner's later lines follow its first). */
async function waitFor(read: () => string, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pattern.test(read()) && Date.now() < deadline) await sleep(20);
  assert.match(read(), pattern);
}

/** Starts a personal server as `user` and waits until its socket answers (its banner names it). */
async function startPersonal(t: TestContext, user: User, args: string[]): Promise<AsUser> {
  const server = spawnAs(user, ['web', '--personal', '--no-logfile', ...args]);
  t.after(() => server.stop());
  const deadline = Date.now() + 30_000;
  while (!/serving unix:/.test(server.out())) {
    if (server.proc.exitCode !== null) throw new Error(`the personal server exited: ${server.err()}`);
    if (Date.now() > deadline)
      throw new Error(`the personal server did not start in time: ${server.out()} ${server.err()}`);
    await sleep(50);
  }
  return server;
}

/** A resource module for a personal server: what it sees of each request, and a session. */
const WHERE_MODULE = `import { Resource } from 'trellis';
export class Where extends Resource {
  isLeaf = true;
  async GET(request) {
    const session = await request.getSession();
    session.visits = (session.visits ?? 0) + 1;
    request.setHeader('Content-Type', 'application/json');
    return JSON.stringify({ prePathURL: request.prePathURL(), client: request.getClientIP(), secure: request.isSecure(),
      uid: process.getuid(), visits: session.visits });
  }
}
`;

test('--user and --personal with real users: files, listing, redirect, refusals, relay, 502', async (t) => {
  if (!canCreateUsers(t, 'it creates users with home directories', ['setpriv'])) return;
  const ann = createUser(t);
  const ben = createUser(t);
  give(ann, {
    'public_html/index.html': '<p>ann</p>',
    'public_html/hello.cgi': '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho ran\n',
    'public_html/page.php': '<?php echo "ran"; ?>',
    'public_html/site.rpy.js': 'export const resource = null;',
    'secret.txt': 'private',
    'site.mjs': WHERE_MODULE,
  });
  chmodSync(join(ann.home, 'public_html/hello.cgi'), 0o755);
  // Symlinks the user made: one to a file of root's, one out of public_html to the user's own file.
  symlinkSync('/etc/passwd', join(ann.home, 'public_html/passwd'));
  execFileSync('chown', ['-h', `${ann.uid}:${ann.gid}`, join(ann.home, 'public_html/passwd')]);

  const main = await spawnTrellis([
    'web',
    '--user',
    '--listen',
    'tcp:0:interface=127.0.0.1',
    '--trust-proxy',
    '127.0.0.1',
    '--user-vhost',
    'people.test',
  ]);
  t.after(() => main.stop());
  const base = main.url.replace(/\/$/, '');
  await waitFor(main.stdout, /Nothing executes in user directories/);

  const listing = await fetchRaw(`${base}/`);
  assert.equal(listing.status, 200);
  assert.match(listing.body, new RegExp(`<a href="\\./~${ann.name}/">Test ${ann.name}</a> \\(files\\)`));
  assert.doesNotMatch(listing.body, new RegExp(ben.name));

  assert.equal((await fetchRaw(`${base}/~${ann.name}/`)).body, '<p>ann</p>');
  const bare = await fetchRaw(`${base}/~${ann.name}`);
  assert.equal(bare.status, 302);
  assert.equal(bare.headers.location, `${base}/~${ann.name}/`);
  const proxied = await fetchRaw(`${base}/~${ann.name}`, {
    headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'www.example.test' },
  });
  assert.equal(proxied.headers.location, `https://www.example.test/~${ann.name}/`);

  for (const name of ['hello.cgi', 'page.php', 'site.rpy.js']) {
    const res = await fetchRaw(`${base}/~${ann.name}/${name}`);
    assert.equal(res.status, 403, name);
    assert.doesNotMatch(res.body, /ran|echo|resource/, name);
  }
  const outside = await fetchRaw(`${base}/~${ann.name}/passwd`);
  assert.ok(outside.status === 403 || outside.status === 404, `a link to /etc/passwd: ${outside.status}`);
  assert.doesNotMatch(outside.body, /root:/);
  for (const path of [`/~${ben.name}/`, `/~${ben.name}`, '/~tr-nobody-here/', `/~${ann.name}.trellis/`]) {
    const res = await fetchRaw(`${base}${path}`);
    assert.equal(res.status, path.endsWith('.trellis/') ? 502 : 404, path);
  }

  // The personal server, as ann, on ~ann/.trellis-web.sock.
  const personal = await startPersonal(t, ann, ['--class', './site.mjs#Where']);
  const socket = join(ann.home, '.trellis-web.sock');
  const st = statSync(socket);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, ann.uid);

  const relayed = await fetchRaw(`${base}/~${ann.name}.trellis/x?y=1`, {
    headers: { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'www.example.test' },
  });
  assert.equal(relayed.status, 200, relayed.body);
  const seen = JSON.parse(relayed.body) as {
    prePathURL: string;
    client: string;
    secure: boolean;
    uid: number;
    visits: number;
  };
  // The module's resource is a leaf root: its prepath is the public prefix alone.
  assert.equal(seen.prePathURL, `https://www.example.test/~${ann.name}.trellis`);
  assert.equal(seen.client, '203.0.113.7');
  assert.equal(seen.secure, true);
  assert.equal(seen.uid, ann.uid, 'the personal server runs as its user');
  const cookie = (relayed.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
  assert.match(
    relayed.headers['set-cookie']?.[0] ?? '',
    new RegExp(`^TRELLIS_SECURE_SESSION_~${ann.name}\\.trellis=.*; Path=/~${ann.name}\\.trellis/`),
  );
  const again = await fetchRaw(`${base}/~${ann.name}.trellis/x`, {
    headers: { Cookie: cookie, 'X-Forwarded-Proto': 'https' },
  });
  assert.equal((JSON.parse(again.body) as { visits: number }).visits, 2, 'the session goes on through the relay');

  const listed = await fetchRaw(`${base}/users/`);
  assert.match(listed.body, new RegExp(`<a href="\\./${ann.name}\\.trellis/">`));

  const byHost = await fetchRaw(`${base}/x`, { headers: { host: `${ann.name}.people.test` } });
  assert.equal(byHost.status, 200, byHost.body);
  assert.equal((JSON.parse(byHost.body) as { prePathURL: string }).prePathURL, `http://${ann.name}.people.test/`);
  assert.equal((await fetchRaw(`${base}/x`, { headers: { host: 'tr-nobody-here.people.test' } })).status, 404);

  // Down: the socket is gone with the server; 502 at once, never a hang.
  await personal.stop();
  assert.equal(existsSync(socket), false);
  assert.equal((await fetchRaw(`${base}/~${ann.name}.trellis/x`)).status, 502);
  // A socket file left behind with nobody listening: refused, 502 too.
  execFileSync('python3', [
    '-c',
    `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(socket)})`,
  ]);
  assert.equal((await fetchRaw(`${base}/~${ann.name}.trellis/x`)).status, 502);
  // A new personal server clears the dead socket and serves again.
  await startPersonal(t, ann, ['--class', './site.mjs#Where']);
  assert.equal((await fetchRaw(`${base}/~${ann.name}.trellis/x`)).status, 200);
});

test('--personal-group: the socket is 0660 in that group; a group the user is not in, or none, is refused in one line', async (t) => {
  if (!canCreateUsers(t, 'it creates users with home directories', ['setpriv'])) return;
  const user = createUser(t);
  give(user, { 'public_html/index.html': 'hi' });
  const group = execFileSync('id', ['-gn', user.name], { encoding: 'utf8' }).trim();
  const server = await startPersonal(t, user, ['--path', 'public_html', '--personal-group', group]);
  const st = statSync(join(user.home, '.trellis-web.sock'));
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.gid, user.gid);
  await server.stop();

  for (const [g, message] of [
    ['root', /this user is not in group "root"/],
    ['trnosuchgroup', /there is no group "trnosuchgroup"/],
  ] as const) {
    const bad = spawnAs(user, ['web', '--personal', '--path', 'public_html', '--personal-group', g]);
    const code = await bad.exited;
    assert.notEqual(code, 0, g);
    assert.ok(oneLine(bad.err()), bad.err());
    assert.match(bad.err(), message);
    assert.equal(existsSync(join(user.home, '.trellis-web.sock')), false, 'no socket left behind');
  }
});

test('--personal for a user whose home directory does not exist exits with one line', async (t) => {
  if (!canCreateUsers(t, 'it creates users with home directories', ['setpriv'])) return;
  const user = createUser(t, { home: false });
  const bad = spawnAs({ ...user, home: '/' }, ['web', '--personal', '--path', '/tmp']);
  const code = await bad.exited;
  assert.notEqual(code, 0);
  assert.ok(oneLine(bad.err()), bad.err());
  assert.match(
    bad.err(),
    new RegExp(`^trellis: --personal: the home directory ${user.home} of user ${user.name} does not exist`),
  );
});

test('--user-scripts runs the --path processors in user directories', async (t) => {
  if (!canCreateUsers(t, 'it creates users with home directories', ['setpriv'])) return;
  const user = createUser(t);
  give(user, { 'public_html/hello.cgi': '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho ran\n' });
  chmodSync(join(user.home, 'public_html/hello.cgi'), 0o755);
  const main = await spawnTrellis(['web', '--user', '--user-scripts', '--listen', 'tcp:0:interface=127.0.0.1']);
  t.after(() => main.stop());
  await waitFor(main.stdout, /User directories: Executing/);
  const res = await fetchRaw(`${main.url}~${user.name}/hello.cgi`);
  assert.equal(res.status, 200);
  assert.equal(res.body.trim(), 'ran');
});

test('option errors of --user and --personal exit 2 with one line each', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--user-scripts'], /^trellis: --user-scripts only applies to --user/],
    [['--user-vhost', 'example.com'], /^trellis: --user-vhost only applies to --user/],
    [['--user', '--user-vhost', 'no_such domain'], /^trellis: --user-vhost needs a domain such as example\.com/],
    [['--personal-group', 'www-data'], /^trellis: --personal-group only applies to --personal/],
    [['--personal', '--personal-group', 'bad group'], /^trellis: --personal-group needs a group name or number/],
    [
      ['--personal', '--personal-group', 'www-data', '--listen', 'unix:/tmp/p.sock'],
      /^trellis: --personal-group sets the group of ~\/\.trellis-web\.sock; with --listen give unix:PATH:group=GROUP instead/,
    ],
    [['--personal', '--user'], /^trellis: --personal serves one user's site and --user everyone's/],
    [['--personal', '--uid', 'nobody'], /^trellis: --personal runs as the user it serves/],
    [['--listen', 'unix:/tmp/x.sock:group=a b'], /group must be a group name or number/],
  ];
  for (const [args, message] of cases) {
    const r = await runTrellis(['web', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.match(r.stderr, message, args.join(' '));
  }
});

test('a main server running as a user reaches the homes it may enter and the sockets of its group only', async (t) => {
  if (!canCreateUsers(t, 'it creates users with home directories', ['setpriv'])) return;
  const ann = createUser(t);
  const web = createUser(t);
  const annGroup = execFileSync('id', ['-gn', ann.name], { encoding: 'utf8' }).trim();
  execFileSync('usermod', ['--append', '--groups', annGroup, web.name]);
  give(ann, { 'public_html/index.html': '<p>ann</p>', 'site.mjs': WHERE_MODULE });
  chmodSync(join(ann.home, 'public_html'), 0o750);
  chmodSync(join(ann.home, 'public_html/index.html'), 0o640);
  chmodSync(ann.home, 0o700);
  const main = await spawnTrellis(['web', '--user', '--listen', 'tcp:0:interface=127.0.0.1', '--uid', web.name]);
  t.after(() => main.stop());
  const base = main.url.replace(/\/$/, '');

  assert.equal((await fetchRaw(`${base}/~${ann.name}/`)).status, 404, 'a home the server cannot enter');
  chmodSync(ann.home, 0o750);
  assert.equal((await fetchRaw(`${base}/~${ann.name}/`)).body, '<p>ann</p>', 'entered through the group');

  const alone = await startPersonal(t, ann, ['--class', './site.mjs#Where']);
  assert.equal((await fetchRaw(`${base}/~${ann.name}.trellis/`)).status, 502, "a 0600 socket is the user's alone");
  await alone.stop();
  await startPersonal(t, ann, ['--class', './site.mjs#Where', '--personal-group', annGroup]);
  const shared = await fetchRaw(`${base}/~${ann.name}.trellis/`);
  assert.equal(shared.status, 200, shared.body);
  assert.equal((JSON.parse(shared.body) as { uid: number }).uid, ann.uid);
});
