// The same site behind every real front end that speaks FastCGI or SCGI, from the documented recipes:
// a static file, a dynamic page, a 1 MiB upload, a redirect to the public URL, the /app mount, and a
// client hanging up mid-response (the next request still works).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { listenFastCgi } from '../../src/channels/fastcgi/server.js';
import { listenScgi } from '../../src/channels/scgi/server.js';
import { startLighttpd } from '../helpers/daemon.js';
import { FRONT_ENDS, openFrontEnd, recipe } from '../helpers/gateway-matrix.js';
import { gatewaySite } from '../helpers/gateway-site.js';
import { needPeer } from '../helpers/peers.js';
import { freePort, tempDir } from '../helpers/server.js';
import { STATIC_TEXT } from '../helpers/gateway-site.js';

const upload = Buffer.alloc(1024 * 1024);
for (let i = 0; i < upload.length; i++) upload[i] = (i * 31 + 7) & 0xff;
const uploadAnswer = `${upload.length} ${createHash('sha256').update(upload).digest('hex')}`;

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

for (const fe of FRONT_ENDS) {
  test(`behind ${fe.name}`, async (t) => {
    const opened = await openFrontEnd(t, fe);
    if (!opened) return;
    const { client, events, daemon, accepted } = opened;
    const log = () => daemon?.output() ?? '';

    await t.test('a static file (File resource) under /app', async () => {
      const r = await client.request('GET', '/app/files/static.txt');
      assert.equal(r.status, 200, log());
      assert.equal(r.body.toString(), STATIC_TEXT);
      assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
      assert.ok(r.headers['last-modified']);
    });

    await t.test('a dynamic page sees the mount as prepath and the public URL', async () => {
      const r = await client.request('GET', '/app/info/a%20b?x=1', { headers: { Proxy: 'http://evil.example/' } });
      assert.equal(r.status, 200, log());
      const info = JSON.parse(r.body.toString());
      assert.deepEqual(info.prepath, ['app', 'info']);
      assert.deepEqual(info.postpath, ['a b']);
      assert.equal(info.prePathURL, `${client.origin}/app/info`);
      assert.equal(info.arg, '1');
      assert.equal(info.proxy, null, 'the Proxy header never reaches the site (httpoxy)');
      assert.equal(info.channel, fe.protocol);
    });

    await t.test('the bare mount /app is the site root', async () => {
      const r = await client.request('GET', '/app/');
      assert.equal(r.status, 200, log());
      assert.equal(r.body.toString(), 'gateway root\n');
    });

    await t.test('a POST of 1 MiB arrives whole', async () => {
      const r = await client.request('POST', '/app/upload', {
        body: upload,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(upload.length) },
      });
      assert.equal(r.status, 200, log());
      assert.equal(r.body.toString(), uploadAnswer);
    });

    if (fe.chunked !== undefined) {
      await t.test(
        `a chunked 1 MiB upload: ${fe.chunked === 'ok' ? 'arrives whole' : `the front end refuses it (${fe.chunked})`}`,
        async () => {
          const sent = client.request('POST', '/app/upload', {
            body: upload,
            chunked: true,
            headers: { 'Content-Type': 'application/octet-stream' },
          });
          if (fe.chunked === 'ok') {
            const r = await sent;
            assert.equal(r.status, 200, log());
            assert.equal(r.body.toString(), uploadAnswer);
            return;
          }
          // A front end that refuses answers from the head alone and closes: the client may still be
          // writing the body then, and see the close (EPIPE, ECONNRESET) before it reads the answer.
          const r = await sent.catch((err: NodeJS.ErrnoException) => {
            assert.ok(err.code === 'EPIPE' || err.code === 'ECONNRESET', String(err));
            return null;
          });
          if (r) assert.equal(r.status, fe.chunked);
        },
      );
    }

    await t.test('HEAD answers the headers without a body', async () => {
      const r = await client.request('HEAD', '/app/files/static.txt');
      assert.equal(r.status, 200, log());
      assert.equal(r.body.length, 0);
      // Apache drops Content-Length on proxied HEAD answers; the others pass ours on.
      if (!fe.name.startsWith('Apache')) assert.equal(r.headers['content-length'], String(STATIC_TEXT.length));
    });

    await t.test('a 1 MiB POST to a resource that never reads it is answered, and the next request works', async () => {
      const r = await client.request('POST', '/app/files/static.txt', {
        body: upload,
        headers: { 'Content-Length': String(upload.length) },
      });
      assert.equal(r.status, 405, log());
      assert.equal((await client.request('GET', '/app/files/static.txt')).status, 200);
    });

    await t.test('a redirect points at the public URL under /app', async () => {
      const r = await client.request('GET', '/app/go');
      assert.equal(r.status, 302, log());
      assert.equal(r.headers.location, `${client.origin}/app/info`);
    });

    if (fe.reuses) {
      await t.test('backend connections are kept and reused (FCGI_KEEP_CONN)', async () => {
        const before = accepted();
        for (let i = 0; i < 6; i++)
          assert.equal((await client.request('GET', '/app/info', { keepAlive: true })).status, 200);
        assert.ok(accepted() - before <= 1, `${accepted() - before} new connections for 6 requests`);
      });
    }

    if (fe.multiplexes) {
      await t.test('concurrent requests share backend connections (multiplexing)', async () => {
        const before = accepted();
        const replies = await Promise.all(Array.from({ length: 8 }, () => client.request('GET', '/app/slow')));
        for (const r of replies) assert.equal(r.body.toString(), 'slow\n', log());
        // Without multiplexing this takes 7 or 8 new connections; HAProxy 2.6 opens about 4 (per thread).
        assert.ok(accepted() - before <= 5, `${accepted() - before} new connections for 8 concurrent requests`);
      });
    }

    await t.test('a client hanging up mid-response: notifyFinish rejects, the next request works', async () => {
      const lost = events.waitLost();
      await client.hangUpDuring('/app/stream');
      await within(lost, 8000, 'notifyFinish rejecting');
      const r = await client.request('GET', '/app/files/static.txt');
      assert.equal(r.status, 200);
    });
  });
}

test('behind lighttpd mounted at the root (fix-root-scriptname)', async (t) => {
  const lighttpd = needPeer(t, 'lighttpd');
  if (!lighttpd) return;
  const dir = tempDir('trellis-gw-');
  t.after(() => dir.cleanup());
  const { site } = gatewaySite();
  const listener = await listenFastCgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  t.after(() => listener.close(200));
  const port = await freePort();
  const daemon = await startLighttpd(
    lighttpd,
    dir.path,
    port,
    recipe('lighttpd-fastcgi-root.conf', { DIR: dir.path, FASTCGI_PORT: listener.port! }),
  );
  t.after(() => daemon.stop());
  const r = await fetch(`http://127.0.0.1:${port}/info/x?x=1`);
  assert.equal(r.status, 200);
  const info = (await r.json()) as { prepath: string[]; postpath: string[]; prePathURL: string };
  assert.deepEqual(info.prepath, ['info']);
  assert.deepEqual(info.postpath, ['x']);
  assert.equal(info.prePathURL, `http://127.0.0.1:${port}/info`);
});

test('behind lighttpd over SCGI with the key "/" and no fix-root-scriptname (the tutorial config as written)', async (t) => {
  const lighttpd = needPeer(t, 'lighttpd');
  if (!lighttpd) return;
  const dir = tempDir('trellis-gw-');
  t.after(() => dir.cleanup());
  const { site } = gatewaySite();
  const listener = await listenScgi(site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
  t.after(() => listener.close(200));
  const port = await freePort();
  // lighttpd reports SCRIPT_NAME /info for /info/x here, exactly as it would for a site mounted at /info.
  const config = `server.modules += ( "mod_access", "mod_scgi", "mod_rewrite", "mod_staticfile" )
server.document-root = "${dir.path}"
$HTTP["url"] !~ "^/static/" {
  scgi.server = (
                  "/" =>
                    ( "127.0.0.1" =>
                      (
                        "host" => "127.0.0.1",
                        "port" => ${listener.port!},
                        "check-local" => "disable"
                      )
                    )
                )
}`;
  const daemon = await startLighttpd(lighttpd, dir.path, port, config);
  t.after(() => daemon.stop());
  const info = async (path: string) =>
    (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as {
      prepath: string[];
      postpath: string[];
      prePathURL: string;
    };
  const deep = await info('/info/x/y?x=1');
  assert.deepEqual([deep.prepath, deep.postpath], [['info'], ['x', 'y']]);
  assert.equal(deep.prePathURL, `http://127.0.0.1:${port}/info`);
  assert.deepEqual((await info('/info')).postpath, []);
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'gateway root\n');
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/static.txt`)).text(), STATIC_TEXT);
});
