// Sessions through a Site: write-back before the answer, regenerate() reissuing the cookie, a store
// that cannot be reached answering 503 with one log line (never a new session), JSON-only values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { NOT_DONE_YET } from '../../src/request/parts.js';
import type { Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { MemorySessionStore } from '../../src/session/memory-store.js';
import { Session, type SessionStore } from '../../src/session/session.js';
import { SqliteSessionStore } from '../../src/session/sqlite-store.js';
import { Site } from '../../src/site.js';
import { render } from '../helpers/dummy.js';
import { tempDir } from '../helpers/server.js';

class Count extends Resource {
  override isLeaf = true;
  override async GET(request: Request) {
    const session = await request.getSession();
    const n = (session.get<number>('n') ?? 0) + 1;
    session.set('n', n);
    return String(n);
  }
}

class Login extends Resource {
  override isLeaf = true;
  override async GET(request: Request) {
    const session = await request.getSession();
    session.set('user', 'alice');
    await session.regenerate();
    return 'welcome';
  }
}

class Streamed extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    void (async () => {
      const session = await request.getSession();
      session.set('streamed', true);
      await session.save();
      request.write('saved first');
      request.finish();
    })();
    return NOT_DONE_YET;
  }
}

class BadValue extends Resource {
  override isLeaf = true;
  override async GET(request: Request) {
    (await request.getSession()).set('when', new Date());
    return 'unreachable';
  }
}

function siteWith(store: SessionStore, logged: string[] = []): Site {
  const root = new Resource();
  root.putChild('count', new Count());
  root.putChild('login', new Login());
  root.putChild('streamed', new Streamed());
  root.putChild('bad', new BadValue());
  return new Site(root, { sessionStore: store, logError: (m) => void logged.push(m) });
}

const cookieOf = (setCookie: string | undefined) => /TRELLIS_SESSION=([0-9a-f]{64})/.exec(setCookie ?? '')?.[1];

async function sqliteStore(t: import('node:test').TestContext): Promise<SqliteSessionStore> {
  const dir = tempDir();
  const store = await SqliteSessionStore.open(join(dir.path, 'sessions.sqlite'));
  t.after(() => {
    store.close();
    dir.cleanup();
  });
  return store;
}

test('two Sites on one SQLite store share a session: each write is back in the store before the answer', async (t) => {
  const store = await sqliteStore(t);
  const other = await SqliteSessionStore.open(store.file);
  t.after(() => other.close());
  const a = siteWith(store);
  const b = siteWith(other);
  const first = await render(a, { uri: '/count' });
  assert.equal(first.text(), '1');
  const id = cookieOf(first.header('set-cookie'));
  assert.ok(id);
  const headers = { Cookie: `TRELLIS_SESSION=${id}` };
  for (let i = 2; i <= 6; i++) {
    const res = await render(i % 2 ? a : b, { uri: '/count', headers });
    assert.equal(res.text(), String(i));
    assert.equal(res.header('set-cookie'), undefined);
  }
});

test('regenerate() reissues the cookie once with the new id; the old id is worth nothing', async (t) => {
  for (const store of [new MemorySessionStore(), await sqliteStore(t)]) {
    const site = siteWith(store);
    const first = await render(site, { uri: '/count' });
    const old = cookieOf(first.header('set-cookie'));
    assert.ok(old);
    const login = await render(site, { uri: '/login', headers: { Cookie: `TRELLIS_SESSION=${old}` } });
    const cookies = login.headers.filter(([n]) => n.toLowerCase() === 'set-cookie');
    assert.equal(cookies.length, 1);
    const fresh = cookieOf(cookies[0]![1]);
    assert.ok(fresh && fresh !== old);
    assert.match(cookies[0]![1], /; Path=\/; HttpOnly; SameSite=Lax$/);
    const after = await render(site, { uri: '/count', headers: { Cookie: `TRELLIS_SESSION=${fresh}` } });
    assert.equal(after.text(), '2', 'same data under the new id');
    const stale = await render(site, { uri: '/count', headers: { Cookie: `TRELLIS_SESSION=${old}` } });
    assert.equal(stale.text(), '1', 'the old id starts over');
    store.close?.();
  }
});

test('a resource that finishes by itself saves with await session.save() before writing', async (t) => {
  const store = await sqliteStore(t);
  const res = await render(siteWith(store), { uri: '/streamed' });
  assert.equal(res.text(), 'saved first');
  const id = cookieOf(res.header('set-cookie'));
  assert.equal((await store.load(id ?? ''))?.get('streamed'), true);
});

/** A store whose every call fails the way a lost connection does. */
class DownStore implements SessionStore {
  calls = 0;
  failSaveOnly = false;
  inner = new MemorySessionStore();
  fail(): never {
    this.calls++;
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' });
  }
  async load(uid: string) {
    if (!this.failSaveOnly) this.fail();
    const s = this.inner.load(uid);
    return s ? new Session({ uid, createdAt: s.createdAt, data: s.toJSON(), store: this }) : undefined;
  }
  async create() {
    if (!this.failSaveOnly) this.fail();
    const s = this.inner.create();
    return new Session({ uid: s.uid, createdAt: s.createdAt, store: this });
  }
  async save(): Promise<void> {
    this.fail();
  }
  async insert(): Promise<void> {
    this.fail();
  }
  async destroy(): Promise<void> {
    this.fail();
  }
  count() {
    return 0;
  }
}

test('a store that cannot be reached answers 503 with Retry-After and one log line, and hands out no new session', async () => {
  const logged: string[] = [];
  const store = new DownStore();
  const site = siteWith(store, logged);
  const known = await render(site, { uri: '/count', headers: { Cookie: `TRELLIS_SESSION=${'a'.repeat(64)}` } });
  assert.equal(known.code, 503);
  assert.equal(known.header('retry-after'), '5');
  assert.equal(known.header('set-cookie'), undefined);
  const fresh = await render(site, { uri: '/count' });
  assert.equal(fresh.code, 503);
  assert.equal(fresh.header('set-cookie'), undefined);
  assert.equal(logged.length, 2);
  for (const line of logged) {
    assert.doesNotMatch(line, /\n/);
    assert.match(line, /Session store unavailable: connect ECONNREFUSED 127\.0\.0\.1:6390/);
  }
  assert.doesNotMatch(fresh.text(), /ECONNREFUSED/, 'the reason stays in the log');
});

test('a write-back that fails answers 503 instead of the body', async () => {
  const logged: string[] = [];
  const store = new DownStore();
  store.failSaveOnly = true;
  const res = await render(siteWith(store, logged), { uri: '/count' });
  assert.equal(res.code, 503);
  assert.doesNotMatch(res.text(), /^1$/);
  assert.equal(logged.length, 1);
});

test('a value that is not plain JSON is a 500 naming the key in the log', async () => {
  const logged: string[] = [];
  const res = await render(siteWith(new MemorySessionStore(), logged), { uri: '/bad' });
  assert.equal(res.code, 500);
  assert.match(logged.join('\n'), /Session value "when" is a Date: sessions hold plain JSON/);
});
