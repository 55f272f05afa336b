// The per-IP connection cap (`--max-connections-per-ip`, default 256) against a real nginx on the
// same host: every client arrives from nginx's one address, so a trusted front end (`--trust-proxy`)
// is exempt and 300 concurrent clients are all served; an untrusted one is capped like any client.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNginx } from '../helpers/daemon.js';
import { needPeer } from '../helpers/peers.js';
import { freePort, runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';

const SITE = ['--class', 'test/fixtures/process-site.ts#Root'];

/** `count` clients at once through nginx to Trellis's slow resource; the statuses they got. */
async function throughNginx(
  t: import('node:test').TestContext,
  trellisArgs: string[],
  count: number,
): Promise<number[] | null> {
  const nginx = needPeer(t, 'nginx');
  if (!nginx) return null;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const server = await spawnTrellis(['web', ...SITE, '--listen', 'tcp:0:interface=127.0.0.1', ...trellisArgs]);
  t.after(() => server.stop('SIGKILL'));
  const port = await freePort();
  const state = join(dir.path, 'nginx');
  mkdirSync(state);
  const d = await startNginx(
    nginx,
    state,
    port,
    `
  server {
    listen 127.0.0.1:${port} backlog=1024;
    location / {
      proxy_pass ${server.url};
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }`,
  );
  t.after(() => d.stop());
  const statuses = await Promise.all(
    Array.from({ length: count }, () =>
      fetch(`http://127.0.0.1:${port}/slow`, { headers: { connection: 'close' } }).then(
        async (res) => {
          await res.text();
          return res.status;
        },
        () => 0,
      ),
    ),
  );
  return statuses;
}

test('300 concurrent clients through one nginx trusted with --trust-proxy are all served', async (t) => {
  const statuses = await throughNginx(t, ['--trust-proxy', '127.0.0.1'], 300);
  if (!statuses) return;
  const failed = statuses.filter((s) => s !== 200);
  assert.equal(failed.length, 0, `statuses other than 200: ${failed.join(',')}`);
});

test('through an nginx that is not trusted, the cap applies (--max-connections-per-ip 20)', async (t) => {
  const statuses = await throughNginx(t, ['--max-connections-per-ip', '20'], 60);
  if (!statuses) return;
  assert.ok(statuses.filter((s) => s === 200).length <= 40, `most beyond the cap fail: ${statuses.join(',')}`);
  assert.ok(
    statuses.some((s) => s === 502),
    'nginx reports the refused connections as 502',
  );
});

/** Opens `count` connections to `port`; how many the server closed half a second later. */
async function closedOf(t: import('node:test').TestContext, port: number, count: number): Promise<number> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ closed: boolean; destroy(): void }>((resolve) => {
          const s = connect({ host: '127.0.0.1', port });
          const state = { closed: false, destroy: () => s.destroy() };
          s.on('close', () => (state.closed = true));
          s.on('error', () => {});
          s.on('connect', () => resolve(state));
        }),
    ),
  );
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  await sleep(500);
  return sockets.filter((s) => s.closed).length;
}

test('with --workers 2, each worker holds half the cap, so one address keeps at most N across the pool', async (t) => {
  const server = await spawnTrellis(
    ['web', ...SITE, '--listen', 'tcp:0:interface=127.0.0.1', '--max-connections-per-ip', '4', '--workers', '2'],
    { timeoutMs: 30_000 },
  );
  t.after(() => server.stop('SIGKILL'));
  assert.ok((await closedOf(t, Number(new URL(server.url).port), 10)) >= 6, 'at most 4 stay open');
});

test('--max-connections-per-ip N caps a direct client at N open connections', async (t) => {
  const server = await spawnTrellis([
    'web',
    ...SITE,
    '--listen',
    'tcp:0:interface=127.0.0.1',
    '--max-connections-per-ip',
    '5',
  ]);
  t.after(() => server.stop('SIGKILL'));
  assert.equal(await closedOf(t, Number(new URL(server.url).port), 8), 3, 'the three past the cap are closed');
  const bad = await runTrellis(['web', '--max-connections-per-ip', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^trellis: --max-connections-per-ip needs a number of 1 or more, not "0"\n$/);
});
