// `trellis web --sessions URL` and the default store of a --workers pool: sessions that outlive a
// process (a restart, another worker), in a config file, and the one-line errors.
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRedis } from '../helpers/redis.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, runTrellis, spawnTrellis, tempDir, type TrellisProcess } from '../helpers/server.js';

const SITE = ['--class', join(ROOT, 'test/fixtures/session-site.ts#Root')];
const START = 30_000;

/** GET on a fresh connection each time (so a --workers pool spreads them), with the cookie. */
function get(
  url: string,
  path: string,
  cookie?: string,
): Promise<{ status: number; body: string; cookie: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, url), { agent: false, headers: cookie ? { Cookie: cookie } : {} }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (body += d))
        .on('end', () => {
          resolve({ status: res.statusCode ?? 0, body, cookie: res.headers['set-cookie']?.[0]?.split(';')[0] });
        });
    });
    req.on('error', reject).end();
  });
}

/** Waits until `proc` has printed a line matching `re` (the notes follow the serving line). */
async function printed(proc: TrellisProcess, re: RegExp): Promise<void> {
  for (let i = 0; i < 100 && !re.test(proc.stdout()); i++) await sleep(100);
  assert.match(proc.stdout(), re);
}

test('--sessions errors are one line and a non-zero exit', async () => {
  for (const [value, why] of [
    [
      'postgres://db/x',
      /--sessions: "postgres:\/\/db\/x" is not a session store: use memory:, sqlite:FILE or redis:\/\/host:port\/db/,
    ],
    ['redis://host:6379/x', /--sessions: .*the path must be a database number/],
    ['sqlite:', /--sessions: "sqlite:" names no file/],
  ] as const) {
    const r = await runTrellis(['web', '--sessions', value, '--listen', 'tcp:0:interface=127.0.0.1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const dir = tempDir();
  try {
    writeFileSync(join(dir.path, 'not-a-db.sqlite'), 'plain text, not a database '.repeat(40));
    const r = await runTrellis(
      ['web', ...SITE, '--sessions', 'sqlite:not-a-db.sqlite', '--listen', 'tcp:0:interface=127.0.0.1'],
      { cwd: dir.path },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Cannot open the session store sqlite:.*not-a-db\.sqlite: .*not a database/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  } finally {
    dir.cleanup();
  }
});

test('--sessions sqlite:FILE keeps a session across a restart', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const args = [
    'web',
    ...SITE,
    '--sessions',
    'sqlite:state/sessions.sqlite',
    '--listen',
    'tcp:0:interface=127.0.0.1',
    '--no-logfile',
  ];
  const first = await spawnTrellis(args, { cwd: dir.path, timeoutMs: START });
  t.after(() => first.stop('SIGKILL'));
  await printed(first, /Sessions: sqlite:.*state\/sessions\.sqlite/);
  const one = await get(first.url, '/count');
  assert.match(one.body, /^1 /);
  assert.ok(one.cookie);
  assert.match((await get(first.url, '/count', one.cookie)).body, /^2 /);
  await first.stop();
  assert.equal(statSync(join(dir.path, 'state/sessions.sqlite')).mode & 0o777, 0o600);
  const second = await spawnTrellis(args, { cwd: dir.path, timeoutMs: START });
  t.after(() => second.stop('SIGKILL'));
  const three = await get(second.url, '/count', one.cookie);
  assert.match(three.body, /^3 /);
  assert.equal(three.cookie, undefined);
});

test('--workers 2 shares sessions in a SQLite file under the state directory by default, across workers and a restart', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const env = { TRELLIS_STATE_DIR: join(dir.path, 'state') };
  const args = ['web', ...SITE, '--workers', '2', '--listen', 'tcp:0:interface=127.0.0.1', '--no-logfile'];
  const pool = await spawnTrellis(args, { cwd: dir.path, env, timeoutMs: START });
  let stopped = false;
  t.after(() => (stopped ? undefined : pool.stop('SIGKILL')));
  const first = await get(pool.url, '/count');
  assert.ok(first.cookie);
  const pids = new Set<string>();
  for (let i = 2; i <= 40; i++) {
    const res = await get(pool.url, '/count', first.cookie);
    assert.equal(res.status, 200);
    const [n, pid] = res.body.split(' ');
    assert.equal(n, String(i), 'every worker sees the last write');
    pids.add(pid!);
  }
  assert.equal(pids.size, 2, 'both workers answered');
  const files = readdirSync(join(dir.path, 'state')).filter((f) => /^sessions-[0-9a-f]{12}\.sqlite$/.test(f));
  assert.equal(files.length, 1, readdirSync(join(dir.path, 'state')).join(' '));
  assert.equal(statSync(join(dir.path, 'state', files[0]!)).mode & 0o777, 0o600);
  await pool.stop();
  stopped = true;
  const again = await spawnTrellis(args, { cwd: dir.path, env, timeoutMs: START });
  t.after(() => again.stop('SIGKILL'));
  const after = await get(again.url, '/count', first.cookie);
  assert.match(after.body, /^41 /, 'the session survived the restart');
});

test('a config file names the store: "sessions": "redis://..." shares one session between two servers', async (t) => {
  const redis = await startRedis(t, { password: 'cfg' });
  if (!redis) return;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'site.json');
  writeFileSync(
    file,
    JSON.stringify({
      service: 'web',
      options: {
        class: join(ROOT, 'test/fixtures/session-site.ts#Root'),
        sessions: redis.url,
        listen: ['tcp:0:interface=127.0.0.1'],
        'no-logfile': true,
      },
    }),
  );
  const a = await spawnTrellis(['run', file], { cwd: dir.path, timeoutMs: START });
  t.after(() => a.stop('SIGKILL'));
  const b = await spawnTrellis(['run', file], { cwd: dir.path, timeoutMs: START });
  t.after(() => b.stop('SIGKILL'));
  await printed(a, /Sessions: redis:\/\/127\.0\.0\.1:\d+\/0/);
  assert.doesNotMatch(a.stdout(), /cfg/, 'the password is not printed');
  const one = await get(a.url, '/count');
  assert.match((await get(b.url, '/count', one.cookie)).body, /^2 /);
  assert.match((await get(a.url, '/count', one.cookie)).body, /^3 /);
  const login = await get(b.url, '/login', one.cookie);
  assert.ok(login.cookie && login.cookie !== one.cookie);
  assert.match((await get(a.url, '/count', login.cookie)).body, /^4 /);
  assert.match((await get(a.url, '/count', one.cookie)).body, /^1 /, 'the old id is gone everywhere');
});
