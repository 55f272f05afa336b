// The Redis session store against a real redis-server on a loopback port: the store contract, a
// password, TLS, the URL forms, and Redis killed mid-run and restarted (503, then the same sessions).
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { RedisSessionStore, parseRedisUrl } from '../../src/session/redis-store.js';
import { parseSessionsUrl } from '../../src/session/open-store.js';
import { Site } from '../../src/site.js';
import { needPeer } from '../helpers/peers.js';
import { redisHasTls, startRedis } from '../helpers/redis.js';
import { realClock, storeContract } from '../helpers/session-contract.js';
import { serveSite, tempDir } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

const quiet = () => {};

for (const [name, body] of storeContract(async (t, limits) => {
  const redis = await startRedis(t);
  if (!redis) return null;
  return RedisSessionStore.open(redis.url, { ...limits, log: quiet });
}, realClock)) {
  test(`Redis store: ${name}`, body);
}

test('Redis URLs: password, database, prefix and rediss are understood; anything else is one line', () => {
  const target = parseRedisUrl('redis://:s3cret@127.0.0.1:6380/2?prefix=shop:');
  assert.equal(target.prefix, 'shop:');
  assert.equal(target.url, 'redis://:s3cret@127.0.0.1:6380/2');
  assert.equal(target.display, 'redis://127.0.0.1:6380/2');
  assert.equal(parseRedisUrl('rediss://cache.internal:6379').prefix, null);
  for (const [bad, why] of [
    ['redis://', /not a Redis URL|names no host/],
    ['redis://host:6379/zero', /database number/],
    ['redis://host:6379/0?ttl=5', /unknown parameter "ttl"/],
    ['redis://host:6379/0?prefix=', /prefix must be non-empty/],
  ] as const) {
    assert.throws(
      () => parseRedisUrl(bad),
      (err: Error) => why.test(err.message) && !err.message.includes('\n'),
    );
  }
  assert.deepEqual(parseSessionsUrl('memory:'), { kind: 'memory' });
  assert.deepEqual(parseSessionsUrl('sqlite:/var/lib/trellis/s.sqlite'), {
    kind: 'sqlite',
    file: '/var/lib/trellis/s.sqlite',
  });
  assert.throws(() => parseSessionsUrl('sqlite:'), /names no file/);
  assert.throws(
    () => parseSessionsUrl('postgres://db/x'),
    /not a session store: use memory:, sqlite:FILE or redis:\/\/host:port\/db/,
  );
});

test('keys carry the prefix and the idle timeout as their TTL in Redis', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const store = await RedisSessionStore.open(`${redis.url}?prefix=shop:`, { idleTimeout: 60_000, log: quiet });
  t.after(() => store.close());
  const s = await store.create();
  const probe = await RedisSessionStore.open(redis.url, { log: quiet });
  t.after(() => probe.close());
  // The probe store reads with another prefix, so it does not see the session...
  assert.equal(await probe.load(s.uid), undefined);
  // ...which lives under shop:<id> with a TTL of at most the idle timeout.
  const { createClient } = await import('redis');
  const client = createClient({ url: redis.url });
  // The test's cleanup may stop redis-server before this client.
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.destroy());
  const ttl = await client.pTTL(`shop:${s.uid}`);
  assert.ok(ttl > 0 && ttl <= 60_000, `TTL ${ttl}`);
});

test('a password: the right one works, a wrong one is a store that is down (503 on use, one log line)', async (t) => {
  const redis = await startRedis(t, { password: 'pa ss/word' });
  if (!redis) return;
  const good = await RedisSessionStore.open(redis.url, { log: quiet });
  t.after(() => good.close());
  const s = await good.create();
  assert.ok(await good.load(s.uid));
  const lines: string[] = [];
  const bad = await RedisSessionStore.open(`redis://:wrong@127.0.0.1:${redis.port}/0`, {
    log: (l) => lines.push(l),
    commandTimeout: 500,
  });
  t.after(() => bad.close());
  await assert.rejects(bad.load(s.uid));
  assert.ok(lines.length >= 1);
  assert.match(
    lines[0]!,
    /Session store redis:\/\/127\.0\.0\.1:\d+\/0 unreachable \(.*(WRONGPASS|invalid|password).*\)/i,
  );
  assert.doesNotMatch(lines.join('\n'), /wrong/, 'the password stays out of the log');
});

test('rediss:// speaks TLS to redis-server (tls-port) and checks its certificate', async (t) => {
  const binary = needPeer(t, 'redis-server');
  const openssl = needPeer(t, 'openssl');
  if (!binary || !openssl) return;
  if (!(await redisHasTls(binary))) {
    t.skip('this redis-server was built without TLS (no tls-port)');
    return;
  }
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const cert = makeCertificate(openssl, dir.path);
  const redis = await startRedis(t, { tls: cert, password: 'tls-secret' });
  if (!redis) return;
  assert.match(redis.url, /^rediss:/);
  const store = await RedisSessionStore.open(redis.url, { tls: { ca: readFileSync(cert.cert) }, log: quiet });
  t.after(() => store.close());
  const s = await store.create();
  s.set('over', 'tls');
  await s.save();
  assert.equal((await store.load(s.uid))?.get('over'), 'tls');
  const lines: string[] = [];
  const untrusted = await RedisSessionStore.open(redis.url, { log: (l) => lines.push(l), commandTimeout: 500 });
  t.after(() => untrusted.close());
  await assert.rejects(untrusted.load(s.uid));
  assert.match(lines[0] ?? '', /unreachable \(.*(certificate|self.signed)/i);
});

function get(
  base: string,
  path: string,
  cookie?: string,
): Promise<{ status: number; body: string; setCookie: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers: cookie ? { Cookie: cookie } : {} }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (body += d))
        .on('end', () => {
          const sc = res.headers['set-cookie']?.[0];
          resolve({ status: res.statusCode ?? 0, body, setCookie: sc });
        });
    });
    req.on('error', reject).end();
  });
}

test('Redis killed mid-run: 503 with one log line per outage, no crash, no new session; restarted, the same session goes on', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const lines: string[] = [];
  const errors: string[] = [];
  const store = await RedisSessionStore.open(redis.url, { log: (l) => lines.push(l), commandTimeout: 1000 });
  t.after(() => store.close());
  class Count extends Resource {
    override isLeaf = true;
    override async GET(request: Request) {
      const session = await request.getSession();
      const n = (session.get<number>('n') ?? 0) + 1;
      session.set('n', n);
      return String(n);
    }
  }
  const root = new Resource();
  root.putChild('count', new Count());
  const server = await serveSite(new Site(root, { sessionStore: store, logError: (m) => void errors.push(m) }));
  t.after(() => server.close());
  const first = await get(server.base, '/count');
  assert.equal(first.body, '1');
  const cookie = (first.setCookie ?? '').split(';')[0]!;
  assert.equal((await get(server.base, '/count', cookie)).body, '2');

  await redis.kill();
  for (let i = 0; i < 5; i++) {
    const down = await get(server.base, '/count', cookie);
    assert.equal(down.status, 503);
    assert.equal(down.setCookie, undefined, 'no new session while the store is down');
    const stranger = await get(server.base, '/count');
    assert.equal(stranger.status, 503);
    assert.equal(stranger.setCookie, undefined);
  }
  assert.equal(lines.filter((l) => /unreachable/.test(l)).length, 1, lines.join('\n'));
  assert.equal(errors.length, 10);
  for (const e of errors) assert.doesNotMatch(e, /\n/);

  await redis.restart();
  let back = await get(server.base, '/count', cookie);
  for (let i = 0; back.status === 503 && i < 100; i++) {
    await sleep(100);
    back = await get(server.base, '/count', cookie);
  }
  assert.equal(back.status, 200);
  assert.equal(back.body, '3', 'the session survived the restart (appendfsync always)');
  assert.equal(back.setCookie, undefined);
  assert.ok(
    lines.some((l) => /reachable again/.test(l)),
    lines.join('\n'),
  );
});
