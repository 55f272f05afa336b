// Real Express 5, Koa 3, Fastify 5 and Hono 4 apps mounted in Trellis at / and at /sub/path, over
// HTTP/1.1, HTTPS and HTTP/2: routing, bodies, an upload, redirects, cookies, errors, public URLs,
// a 50 MiB streamed answer in bounded memory, and clients that leave mid-response.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect as h2connect, constants as h2 } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import '../../src/index.js';
import { FRAMEWORKS, appSite, checkRoutes, type Framework } from '../helpers/apps.js';
import { hangUpDuring } from '../helpers/gateway-matrix.js';
import { channelMatrix, type ChannelClient } from '../helpers/matrix.js';
import { findPeer } from '../helpers/peers.js';
import { tempDir } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

const MiB = 1024 * 1024;
let tls: { key: string; cert: string } | null = null;
let tmp: { path: string; cleanup(): void } | null = null;

before(() => {
  const openssl = findPeer('openssl');
  if (!openssl) {
    if (process.env.CI === 'true')
      throw new Error('openssl not installed: apt-get install openssl (required under CI=true)');
    return;
  }
  tmp = tempDir();
  tls = makeCertificate(openssl, tmp.path);
});
after(() => tmp?.cleanup());

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Reads a 50 MiB answer over HTTP/1.1, pausing after the first bytes; returns the bytes and the buffer growth seen while paused. */
function bigOverH1(port: number, path: string): Promise<{ status: number; bytes: number; growth: number }> {
  return new Promise((resolve, reject) => {
    const start = process.memoryUsage().arrayBuffers;
    httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let bytes = 0;
      let growth = 0;
      let paused = false;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (paused) return;
        paused = true;
        res.pause();
        setTimeout(() => {
          growth = process.memoryUsage().arrayBuffers - start;
          res.resume();
        }, 300);
      });
      res.on('end', () => resolve({ status: res.statusCode!, bytes, growth }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

function bigOverH2(port: number, ca: Buffer, path: string): Promise<{ status: number; bytes: number; growth: number }> {
  return new Promise((resolve, reject) => {
    const start = process.memoryUsage().arrayBuffers;
    const session = h2connect(`https://localhost:${port}`, { ca });
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    let status = 0;
    let bytes = 0;
    let growth = 0;
    let paused = false;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: Buffer) => {
      bytes += c.length;
      if (paused) return;
      paused = true;
      stream.pause();
      setTimeout(() => {
        growth = process.memoryUsage().arrayBuffers - start;
        stream.resume();
      }, 300);
    });
    stream.on('end', () => {
      session.close();
      resolve({ status, bytes, growth });
    });
    stream.on('error', reject);
  });
}

/** Starts a GET over HTTP/2, and cancels the stream at its first body bytes. */
function leaveH2(port: number, ca: Buffer, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://localhost:${port}`, { ca });
    session.on('error', () => {});
    const stream = session.request({ ':path': path });
    stream.on('error', () => {});
    stream.once('data', () => {
      stream.close(h2.NGHTTP2_CANCEL);
      setTimeout(() => session.destroy(), 100);
      resolve();
    });
    stream.on('end', () => reject(new Error('the stream ended before the client left')));
  });
}

for (const framework of FRAMEWORKS) {
  for (const base of ['/', '/sub/path']) {
    describe(`${framework} mounted at ${base}`, () => {
      let matrix: Awaited<ReturnType<typeof channelMatrix>> | null = null;
      let ctx: Awaited<ReturnType<typeof appSite>>;
      before(async () => {
        ctx = await appSite(framework as Framework, base);
        if (tls) matrix = await channelMatrix(ctx.site, tls);
      });
      after(() => matrix?.close());

      for (const channel of ['http/1.1', 'https/1.1', 'h2'] as const) {
        test(`${framework} at ${base} over ${channel}: routes, bodies, upload, redirect, cookies, error, public URL`, async (t) => {
          if (!matrix) return void t.skip('openssl not installed: apt-get install openssl');
          const client = matrix.clients.find((c) => c.name === channel)!;
          const origin = `${client.secure ? 'https' : 'http'}://localhost:${client.port}`;
          const send = (
            method: string,
            path: string,
            options: { headers?: Record<string, string>; body?: Buffer | string } = {},
          ) => (client as ChannelClient).request(method, path, options);
          await checkRoutes(send, framework as Framework, base, origin, `${framework} ${channel}`);
          const line = ctx.logged.find(
            (e) => e.uri.endsWith('/hello') && e.protocol === (channel === 'h2' ? 'HTTP/2' : 'HTTP/1.1'),
          );
          assert.ok(line, "the access log has the app's answers");
          assert.equal(line.status, 200);
        });
      }

      test(`${framework} at ${base}: 50 MiB streamed over HTTP/1.1 and HTTP/2 with bounded memory`, async (t) => {
        if (!matrix || !tls) return void t.skip('openssl not installed: apt-get install openssl');
        const mount = base === '/' ? '' : base;
        const plain = matrix.clients.find((c) => c.name === 'http/1.1')!;
        const secure = matrix.clients.find((c) => c.name === 'h2')!;
        const one = await bigOverH1(plain.port, `${mount}/big?mb=50`);
        assert.equal(one.status, 200);
        assert.equal(one.bytes, 50 * MiB);
        assert.ok(
          one.growth < 24 * MiB,
          `buffers grew by ${(one.growth / MiB).toFixed(1)} MiB while the client paused (HTTP/1.1)`,
        );
        const two = await bigOverH2(secure.port, readFileSync(tls.cert), `${mount}/big?mb=50`);
        assert.equal(two.status, 200);
        assert.equal(two.bytes, 50 * MiB);
        assert.ok(
          two.growth < 24 * MiB,
          `buffers grew by ${(two.growth / MiB).toFixed(1)} MiB while the client paused (HTTP/2)`,
        );
      });

      test(`${framework} at ${base}: a client that leaves mid-response is seen by the app and logged aborted`, async (t) => {
        if (!matrix || !tls) return void t.skip('openssl not installed: apt-get install openssl');
        const mount = base === '/' ? '' : base;
        const plain = matrix.clients.find((c) => c.name === 'http/1.1')!;
        const secure = matrix.clients.find((c) => c.name === 'h2')!;
        const before = ctx.left.count;
        await hangUpDuring(plain.port, `${mount}/big?mb=50&leave=h1`);
        await waitFor(() => ctx.left.count >= before + 1, 'the app to see the HTTP/1.1 client leave');
        await leaveH2(secure.port, readFileSync(tls.cert), `${mount}/big?mb=50&leave=h2`);
        await waitFor(() => ctx.left.count >= before + 2, 'the app to see the HTTP/2 client leave');
        await waitFor(
          () => ctx.logged.filter((e) => e.uri.includes('leave=') && e.aborted).length === 2,
          'two aborted log lines',
        );
      });
    });
  }
}
