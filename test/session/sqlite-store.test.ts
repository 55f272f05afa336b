// The SQLite session store: its file (0600, WAL, directory 0700), two processes sharing it, the
// better-sqlite3 fallback, a file that cannot be opened, and one locked by another process (503).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Resource } from '../../src/resource.js';
import { SqliteSessionStore, openSqlite } from '../../src/session/sqlite-store.js';
import { Site } from '../../src/site.js';
import { render } from '../helpers/dummy.js';
import { ROOT, tempDir } from '../helpers/server.js';

test('the store file is created 0600 in a 0700 directory, in WAL mode, and an existing file is made 0600', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'state', 'sessions.sqlite');
  const store = await SqliteSessionStore.open(file);
  t.after(() => store.close());
  await store.create();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir.path, 'state')).mode & 0o777, 0o700);
  assert.ok(existsSync(`${file}-wal`), 'WAL mode keeps a -wal file');
  assert.equal(statSync(`${file}-wal`).mode & 0o777, 0o600);
  const loose = join(dir.path, 'loose.sqlite');
  writeFileSync(loose, '');
  chmodSync(loose, 0o644);
  const again = await SqliteSessionStore.open(loose);
  again.close();
  assert.equal(statSync(loose).mode & 0o777, 0o600);
});

test('better-sqlite3 is used where node:sqlite is missing, and either driver reads the same file', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 's.sqlite');
  const loaded = await SqliteSessionStore.open(file, { driver: 'better-sqlite3' }).catch((err: Error) => err);
  if (loaded instanceof Error) {
    // npm builds better-sqlite3 for the Node that installed it; other Node lines use node:sqlite.
    assert.match(
      loaded.message,
      /^better-sqlite3 was built for another Node version than v[\d.]+: npm rebuild better-sqlite3$/,
    );
    assert.ok(
      await import('node:sqlite' as string).then(
        () => true,
        () => false,
      ),
      'neither SQLite driver loads',
    );
    t.skip(`better-sqlite3 is built for another Node than ${process.version} (this Node has node:sqlite)`);
    return;
  }
  const better = loaded;
  t.after(() => better.close());
  assert.equal(better.driver, 'better-sqlite3');
  const def = await SqliteSessionStore.open(file);
  t.after(() => def.close());
  const hasNodeSqlite = await import('node:sqlite' as string).then(
    () => true,
    () => false,
  );
  assert.equal(def.driver, hasNodeSqlite ? 'node:sqlite' : 'better-sqlite3');
  const s = await better.create();
  s.set('k', 'v');
  await s.save();
  assert.equal((await def.load(s.uid))?.get('k'), 'v');
  if (!hasNodeSqlite) {
    await assert.rejects(openSqlite(join(dir.path, 'x.sqlite'), 'node:sqlite'), /node:sqlite is not available in Node/);
  }
});

test('a file that cannot be opened is refused with its reason', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  await assert.rejects(SqliteSessionStore.open(join(dir.path, 'no-dir-here', '\0bad')), /./);
  writeFileSync(
    join(dir.path, 'not-a-db.sqlite'),
    'this is not a database, just some text that is long enough '.repeat(20),
  );
  await assert.rejects(
    SqliteSessionStore.open(join(dir.path, 'not-a-db.sqlite')),
    /not a database|file is not a database/,
  );
});

/** Runs a small script in another Node process against the same file. */
function child(file: string, code: string): Promise<string> {
  const script = `
    import { SqliteSessionStore } from ${JSON.stringify(join(ROOT, 'src/session/sqlite-store.ts'))};
    const store = await SqliteSessionStore.open(${JSON.stringify(file)});
    ${code}
    store.close();`;
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`child failed (${code}): ${err}`)),
    );
  });
}

test('two processes share the file: a session written by one is read and updated by the other', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'shared.sqlite');
  const store = await SqliteSessionStore.open(file);
  t.after(() => store.close());
  const mine = await store.create();
  mine.set('n', 1);
  await mine.save();
  const theirs = await child(
    file,
    `
    const s = await store.load(${JSON.stringify(mine.uid)});
    s.set('n', s.get('n') + 1);
    await s.save();
    const fresh = await store.create();
    fresh.set('from', 'child');
    await fresh.save();
    console.log(fresh.uid);`,
  );
  assert.equal((await store.load(mine.uid))?.get('n'), 2);
  assert.equal((await store.load(theirs))?.get('from'), 'child');
  // Both processes writing at once: every update lands (WAL and the busy timeout serialise them).
  const counters = await Promise.all(
    [0, 1].map(() =>
      child(
        file,
        `
    for (let i = 0; i < 50; i++) {
      const s = await store.load(${JSON.stringify(mine.uid)});
      s.set('count' + process.pid, i + 1);
      await s.save();
    }
    console.log('done');`,
      ),
    ),
  );
  assert.deepEqual(counters, ['done', 'done']);
  assert.equal(await store.count(), 2);
});

test('a file another process keeps locked past the busy timeout: 503 with one log line; released, the session goes on', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'locked.sqlite');
  const store = await SqliteSessionStore.open(file, { busyTimeout: 200 });
  t.after(() => store.close());
  const root = new Resource();
  root.putChild(
    'count',
    new Resource({
      GET: async (request) => {
        const session = await request.getSession();
        session.set('n', (session.get<number>('n') ?? 0) + 1);
        return String(session.get('n'));
      },
    }),
  );
  const logged: string[] = [];
  const site = new Site(root, { sessionStore: store, logError: (m) => void logged.push(m) });
  const first = await render(site, { uri: '/count' });
  const cookie = (first.header('set-cookie') ?? '').split(';')[0]!;
  assert.equal(first.text(), '1');
  const { db: other } = await openSqlite(file);
  other.exec('BEGIN EXCLUSIVE');
  const locked = await render(site, { uri: '/count', headers: { Cookie: cookie } });
  assert.equal(locked.code, 503);
  assert.equal(locked.header('set-cookie'), undefined);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /Session store unavailable: database is locked/);
  other.exec('ROLLBACK');
  other.close();
  const after = await render(site, { uri: '/count', headers: { Cookie: cookie } });
  assert.equal(after.code, 200);
  assert.equal(after.text(), '2', 'the write refused while locked was not counted; the session goes on');
});
