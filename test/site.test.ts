import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessLogEntry } from '../src/access-log.js';
import type { Request } from '../src/request.js';
import { Resource } from '../src/resource.js';
import { MemorySessionStore } from '../src/session/memory-store.js';
import { Site } from '../src/site.js';
import { toNodeListener } from '../src/channels/node-listener.js';
import { VERSION } from '../src/version.js';
import { dummyRequest, render } from './helpers/dummy.js';
import { readFileSync } from 'node:fs';

class Boom extends Resource {
  override isLeaf = true;
  override GET(): string {
    throw new Error('secret <detail>');
  }
}

class Counter extends Resource {
  override isLeaf = true;
  override async GET(request: Request) {
    const session = await request.getSession();
    const n = (session.get<number>('n') ?? 0) + 1;
    session.set('n', n);
    return String(n);
  }
}

test('every response carries Server and Date', async () => {
  const res = await render(new Site(new Resource()), { uri: '/' });
  assert.equal(res.header('server'), `Trellis/${VERSION}`);
  assert.match(res.header('date') ?? '', /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
});

test('the Date header is the current second: it changes once the second is over', async () => {
  const site = new Site(new Resource());
  const first = await render(site, { uri: '/' });
  const date = first.header('date')!;
  assert.equal(date, new Date(Date.parse(date)).toUTCString());
  assert.ok(Math.abs(Date.parse(date) - Date.now()) < 1500);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const later = await render(site, { uri: '/' });
  assert.ok(Date.parse(later.header('date')!) > Date.parse(date), `${later.header('date')} is after ${date}`);
});

test('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test('an unhandled error is a bare 500 page without tracebacks, and is logged', async () => {
  const logged: string[] = [];
  const root = new Resource();
  root.putChild('boom', new Boom());
  const res = await render(new Site(root, { logError: (m) => logged.push(m) }), { uri: '/boom' });
  assert.equal(res.code, 500);
  assert.match(res.text(), /Processing Failed/);
  assert.doesNotMatch(res.text(), /secret/);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /secret <detail>/);
});

test('with displayTracebacks the 500 page shows the escaped stack', async () => {
  const root = new Resource();
  root.putChild('boom', new Boom());
  const res = await render(new Site(root, { displayTracebacks: true, logError: () => {} }), { uri: '/boom' });
  assert.equal(res.code, 500);
  assert.match(res.text(), /secret &lt;detail&gt;/);
  assert.match(res.text(), /Boom\.GET/);
});

test('extra headers (--add-header) reach normal responses and error pages alike', async () => {
  const root = new Resource();
  root.putChild('boom', new Boom());
  const site = new Site(root, { headers: [['X-Frame-Options', 'DENY']], logError: () => {} });
  assert.equal((await render(site, { uri: '/missing' })).header('x-frame-options'), 'DENY');
  assert.equal((await render(site, { uri: '/boom' })).header('x-frame-options'), 'DENY');
});

test('the access log gets one entry per request, also for errors', async () => {
  const entries: AccessLogEntry[] = [];
  const site = new Site(new Resource(), {
    accessLog: { log: (e) => entries.push(e), reopen() {}, close: async () => {} },
  });
  await render(site, { uri: '/x?y=1', headers: { 'User-Agent': 'ua', Referer: 'http://ref/' } });
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.status, 404);
  assert.equal(entries[0]!.uri, '/x?y=1');
  assert.equal(entries[0]!.clientIp, '192.0.2.1');
  assert.equal(entries[0]!.userAgent, 'ua');
  assert.ok(entries[0]!.bytes > 0);
});

test('getSession creates a session with a secure-by-default cookie and finds it again', async () => {
  const root = new Resource();
  root.putChild('count', new Counter());
  const site = new Site(root);
  const first = await render(site, { uri: '/count' });
  assert.equal(first.text(), '1');
  const cookie = first.header('set-cookie')!;
  assert.match(cookie, /^TRELLIS_SESSION=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Lax$/);
  const id = /=([0-9a-f]+)/.exec(cookie)![1]!;
  const second = await render(site, { uri: '/count', headers: { Cookie: `TRELLIS_SESSION=${id}` } });
  assert.equal(second.text(), '2');
  assert.equal(second.header('set-cookie'), undefined);
});

test('over TLS the session cookie is TRELLIS_SECURE_SESSION with Secure', async () => {
  const root = new Resource();
  root.putChild('count', new Counter());
  const res = await render(new Site(root), { uri: '/count', secure: true });
  assert.match(
    res.header('set-cookie')!,
    /^TRELLIS_SECURE_SESSION=[0-9a-f]{64}; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
  );
});

test('an unknown or malformed session id gets a brand-new session', async () => {
  const root = new Resource();
  root.putChild('count', new Counter());
  const site = new Site(root);
  const res = await render(site, { uri: '/count', headers: { Cookie: `TRELLIS_SESSION=${'a'.repeat(64)}` } });
  assert.equal(res.text(), '1');
  assert.ok(res.header('set-cookie'));
  const bad = await render(site, { uri: '/count', headers: { Cookie: 'TRELLIS_SESSION=../../etc' } });
  assert.equal(bad.text(), '1');
});

test('sessions expire after the idle timeout and run their expiry callbacks', () => {
  let now = 1_000_000;
  const store = new MemorySessionStore({ idleTimeout: 1000, now: () => now });
  const s = store.create();
  let expired = 0;
  s.notifyOnExpire(() => expired++);
  now += 999;
  assert.equal(store.get(s.uid), s);
  now += 999;
  assert.equal(store.get(s.uid), s, 'each get touches the session');
  now += 1000;
  assert.equal(store.get(s.uid), undefined);
  assert.equal(expired, 1);
  assert.equal(store.size, 0);
});

test('sessions expire after the absolute lifetime even when used', () => {
  let now = 0;
  const store = new MemorySessionStore({ idleTimeout: 1000, absoluteTimeout: 2500, now: () => now });
  const s = store.create();
  for (let i = 0; i < 4; i++) {
    now += 600;
    assert.equal(store.get(s.uid), s);
  }
  now += 200;
  assert.equal(store.get(s.uid), undefined);
});

test('the session cap expires the least recently used session', () => {
  let now = 0;
  const store = new MemorySessionStore({ maxSessions: 2, now: () => ++now });
  const a = store.create();
  const b = store.create();
  store.get(a.uid);
  const c = store.create();
  assert.equal(store.size, 2);
  assert.equal(b.expired, true);
  assert.ok(store.get(a.uid));
  assert.ok(store.get(c.uid));
});

test('sweep removes stale sessions without a request', () => {
  let now = 0;
  const store = new MemorySessionStore({ idleTimeout: 10, now: () => now });
  store.create();
  store.create();
  now = 100;
  store.sweep();
  assert.equal(store.size, 0);
  store.close();
});

test('session ids are 256-bit random hex and unique', () => {
  const store = new MemorySessionStore();
  const ids = new Set(Array.from({ length: 100 }, () => store.create().uid));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[0-9a-f]{64}$/);
  store.close();
});

test('a Site can be handed to node:http as a request listener', async () => {
  const { createServer } = await import('node:http');
  const root = new Resource();
  root.putChild('count', new Counter());
  const server = createServer(toNodeListener(new Site(root)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const res = await fetch(`http://127.0.0.1:${port}/count`);
  assert.equal(await res.text(), '1');
  await new Promise((r) => server.close(r));
});

test('refuse answers the error page and asks to close', async () => {
  const { request, response } = dummyRequest({ uri: '/' });
  new Site(new Resource(), { logError: () => {} }).refuse(request, 431, 'Too many headers.');
  assert.equal(response.code, 431);
  assert.equal(response.closeAfter, true);
  assert.match(response.text(), /Too many headers/);
});
