// An HTTP/2 request body without content-length (HTTP/2 never carries Transfer-Encoding) reaches the
// backend whole and framed (chunked), through a real `trellis web --proxy` process over TLS.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { findPeer, needPeer } from '../helpers/peers.js';
import { listenLoopback, spawnTrellis, tempDir, type LoopbackServer, type TrellisProcess } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/2 request with node:http2; `pieces` are written one by one, no content-length unless given. */
async function h2(
  origin: string,
  path: string,
  method: string,
  pieces: string[],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const session = connect(origin, { rejectUnauthorized: false });
  try {
    return await new Promise((resolve, reject) => {
      session.once('error', reject);
      const head = { ':method': method, ':path': path, ...headers };
      const stream = session.request(head, { endStream: pieces.length === 0 });
      let status = 0;
      let body = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (body += d));
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
      void (async () => {
        for (const piece of pieces) {
          stream.write(piece);
          await new Promise((r) => setTimeout(r, 20));
        }
        if (pieces.length) stream.end();
      })();
    });
  } finally {
    session.close();
  }
}

describe('HTTP/2 request bodies through --proxy', () => {
  const dir = tempDir('trellis-h2-upload-');
  const seen: Seen[] = [];
  let backend: LoopbackServer<ReturnType<typeof createServer>>;
  let front: TrellisProcess | null = null;
  let origin = '';
  let cert = '';

  before(async () => {
    backend = await listenLoopback(
      createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
          res.end('stored');
        });
      }),
    );
    const openssl = findPeer('openssl');
    if (!openssl) return;
    mkdirSync(join(dir.path, 'empty'));
    const tls = makeCertificate(openssl, dir.path);
    cert = tls.cert;
    const listen = `ssl:0:interface=127.0.0.1:privateKey=${tls.key}:certKey=${tls.cert}`;
    const proxy = `/app=http://127.0.0.1:${backend.port}/`;
    front = await spawnTrellis(['web', '--listen', listen, '--path', join(dir.path, 'empty'), '--proxy', proxy]);
    origin = new URL(front.url).origin;
  });
  after(async () => {
    await front?.stop();
    await backend.close();
    dir.cleanup();
  });

  test('a node:http2 PUT without content-length reaches the backend whole, chunked', async (t: TestContext) => {
    if (!needPeer(t, 'openssl')) return;
    seen.length = 0;
    const r = await h2(origin, '/app/upload', 'PUT', ['hello ', 'world']);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'stored');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.method, 'PUT');
    assert.equal(seen[0]!.url, '/upload');
    assert.equal(seen[0]!.body, 'hello world');
    assert.equal(seen[0]!.headers['transfer-encoding'], 'chunked');
    assert.equal(seen[0]!.headers['content-length'], undefined);
  });

  test('an HTTP/2 body with content-length keeps it; a GET without a body has no framing', async (t: TestContext) => {
    if (!needPeer(t, 'openssl')) return;
    seen.length = 0;
    await h2(origin, '/app/len', 'POST', ['abc'], { 'content-length': '3' });
    await h2(origin, '/app/get', 'GET', []);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.body, 'abc');
    assert.equal(seen[0]!.headers['content-length'], '3');
    assert.equal(seen[0]!.headers['transfer-encoding'], undefined);
    assert.equal(seen[1]!.method, 'GET');
    assert.equal(seen[1]!.headers['content-length'], undefined);
    assert.equal(seen[1]!.headers['transfer-encoding'], undefined);
  });

  test('curl --http2 -T - (a body from stdin, no length) reaches the backend whole', async (t: TestContext) => {
    const curl = needPeer(t, 'curl');
    if (!curl || !needPeer(t, 'openssl')) return;
    seen.length = 0;
    const port = new URL(origin).port;
    const args = ['-s', '--http2', '--cacert', cert, '--resolve', `localhost:${port}:127.0.0.1`, '-T', '-'];
    const out = await new Promise<string>((resolve, reject) => {
      const url = `https://localhost:${port}/app/upload`;
      const child = execFile(curl, [...args, '-w', ' %{http_version}', url], (err, stdout) => {
        if (err) reject(err);
        else resolve(stdout);
      });
      child.stdin!.end('hello world');
    });
    assert.equal(out, 'stored 2');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.method, 'PUT');
    assert.equal(seen[0]!.body, 'hello world');
  });
});
