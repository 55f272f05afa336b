// The FastCGI channel's bounds against a front end that never finishes its requests: the head
// deadline, the cap on unfinished params per connection, and memory with many such connections.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeNameValuePairs } from '../../../src/channels/fastcgi/name-value.js';
import { FcgiType, encodeRecord } from '../../../src/channels/fastcgi/records.js';
import { listenFastCgi } from '../../../src/channels/fastcgi/server.js';
import { Resource } from '../../../src/resource.js';
import { Site } from '../../../src/site.js';
import { FcgiClient, cgiParams } from '../../helpers/fastcgi-client.js';
import { freePort, spawnTrellis } from '../../helpers/server.js';

const RESPONDER_KEEP_CONN = Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]);

/** BEGIN_REQUEST for `id` and one PARAMS record of about 60 KiB, without the empty PARAMS that ends them. */
function unfinishedRequest(id: number): Buffer {
  const params = encodeNameValuePairs([['HTTP_X_PAD', 'p'.repeat(60 * 1024)]]);
  const begin = encodeRecord(FcgiType.BEGIN_REQUEST, id, RESPONDER_KEEP_CONN);
  return Buffer.concat([begin, encodeRecord(FcgiType.PARAMS, id, params)]);
}

function vmRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

test('FastCGI closes a connection whose params, however slow, do not end within headerTimeout', async () => {
  const site = new Site(new Resource(), { limits: { headerTimeout: 400, bodyIdleTimeout: 400 }, logError: () => {} });
  const l = await listenFastCgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  const c = await FcgiClient.open(l.port!);
  try {
    c.send(encodeRecord(FcgiType.BEGIN_REQUEST, 1, RESPONDER_KEEP_CONN));
    const t0 = Date.now();
    // One params byte every 100 ms: never idle, never done.
    const pair = encodeNameValuePairs([['A', 'b']]);
    for (let i = 0; i < 25 && !c.closed; i++) {
      c.send(encodeRecord(FcgiType.PARAMS, 1, pair));
      await sleep(100);
    }
    assert.ok(c.closed, 'closed by the head deadline');
    const took = Date.now() - t0;
    assert.ok(took >= 350, `closed after ${took} ms, not before the deadline`);
  } finally {
    c.close();
    await l.close(100);
  }
});

test('FastCGI closes a connection holding more than 128 KiB of unfinished params', async () => {
  const site = new Site(new Resource(), { logError: () => {} });
  const l = await listenFastCgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  const c = await FcgiClient.open(l.port!);
  try {
    c.send(...Array.from({ length: 16 }, (_, i) => unfinishedRequest(i + 1)));
    await c.until(() => c.closed, 2000);
    const d = await FcgiClient.open(l.port!);
    d.begin(1, cgiParams('GET', '/'));
    d.stdin(1);
    assert.equal((await d.response(1)).status, 404);
    d.close();
  } finally {
    c.close();
    await l.close(100);
  }
});

test('200 FastCGI connections with 16 unfinished 60 KiB params each grow a server by < 64 MiB', async (t) => {
  const port = await freePort();
  const server = await spawnTrellis(['web', '--fastcgi', `tcp:${port}:interface=127.0.0.1`]);
  const sockets: Socket[] = [];
  try {
    const pid = server.proc.pid!;
    const before = vmRssKiB(pid);
    const flood = Buffer.concat(Array.from({ length: 16 }, (_, i) => unfinishedRequest(i + 1)));
    await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<void>((resolve) => {
            const s = connect(port, '127.0.0.1');
            sockets.push(s);
            s.on('error', () => resolve());
            s.on('close', () => resolve());
            s.write(flood, () => resolve());
          }),
      ),
    );
    await sleep(500);
    const grown = (vmRssKiB(pid) - before) / 1024;
    const probe = await FcgiClient.open(port);
    const t0 = Date.now();
    probe.begin(1, cgiParams('GET', '/'));
    probe.stdin(1);
    // Liveness, not speed: on a loaded machine the answer may take a while, but it must come.
    const reply = await probe.response(1, 15_000);
    const answeredIn = Date.now() - t0;
    probe.close();
    t.diagnostic(`RSS +${grown.toFixed(1)} MiB; probe answered in ${answeredIn} ms`);
    assert.ok(reply.status > 0, `the probe is answered (${reply.status} after ${answeredIn} ms)`);
    assert.ok(grown < 64, `RSS grew by ${grown.toFixed(1)} MiB`);
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop('SIGKILL');
  }
});

test('FastCGI closes connections past maxConnections at once and serves the ones it holds', async () => {
  const site = new Site(new Resource(), { logError: () => {} });
  const l = await listenFastCgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' }, { maxConnections: 2 });
  const held = [await FcgiClient.open(l.port!), await FcgiClient.open(l.port!)];
  try {
    await sleep(50);
    const extra = await FcgiClient.open(l.port!);
    await extra.until(() => extra.closed, 2000);
    held[0]!.begin(1, cgiParams('GET', '/'));
    held[0]!.stdin(1);
    assert.equal((await held[0]!.response(1)).status, 404);
  } finally {
    for (const c of held) c.close();
    await l.close(100);
  }
});
