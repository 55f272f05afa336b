// The reverse proxy against a raw TCP backend that misbehaves on purpose: every bad answer becomes a
// 502 (or a dropped connection once the answer started), and the proxy keeps serving afterwards.
import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo, type Server, type Socket, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ReverseProxyResource } from '../../src/proxy/reverse-proxy.js';
import { Site } from '../../src/site.js';
import { serveSite } from '../helpers/server.js';
import { fetchRaw } from './http-client.js';

/** What the raw backend does with one request (by its path): writes bytes, then maybe closes. */
type Script = (socket: Socket, path: string, requestNumber: number) => void;

const GOOD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';

/** A backend that reads request heads off raw sockets and runs the script of the path asked for. */
async function rawBackend(
  scripts: Record<string, Script>,
): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    let n = 0;
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const path = head.split(' ')[1] ?? '/';
        const script = scripts[path] ?? ((s: Socket) => s.write(GOOD));
        script(socket, path, ++n);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Sends one request over a raw socket and returns everything read until the connection closes. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => resolve(got));
    sock.write(request);
  });
}

describe('ReverseProxyResource against a misbehaving backend', () => {
  let be: Awaited<ReturnType<typeof rawBackend>>;
  let front: Awaited<ReturnType<typeof serveSite>>;
  let proxy: ReverseProxyResource;

  before(async () => {
    be = await rawBackend({
      '/garbage': (s) => s.write('HELLO THERE\r\n\r\n'),
      '/huge-head': (s) => s.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`),
      '/many-fields': (s) => s.write(`HTTP/1.1 200 OK\r\n${'X-F: v\r\n'.repeat(150)}Content-Length: 0\r\n\r\n`),
      '/obs-fold': (s) => s.write('HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n'),
      '/two-lengths': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'),
      '/te-and-cl': (s) =>
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n'),
      '/bad-chunk': (s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nok\r\n0\r\n\r\n'),
      '/close-before-answer': (s) => s.destroy(),
      '/close-mid-head': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Le'),
      '/close-mid-body-early': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part'),
      '/close-mid-body-late': (s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nfirst part ');
        setTimeout(() => s.end('second part'), 100);
      },
      '/bad-chunk-late': (s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n');
        setTimeout(() => s.write('5\r\nsecondXX\r\n'), 100);
      },
      '/continue': (s) => s.write(`HTTP/1.1 100 Continue\r\n\r\n${GOOD}`),
      '/chunked': (s) =>
        s.write(
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3;ext=1\r\ndef\r\n0\r\nX-Trailer: t\r\n\r\n',
        ),
      '/until-close': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread until close'),
      '/head': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n'),
    });
    proxy = new ReverseProxyResource('127.0.0.1', be.port, '', { timeout: 5_000 });
    front = await serveSite(new Site(proxy, { logError: () => {} }));
  });
  after(async () => {
    proxy.close();
    await front.close();
    await be.close();
  });

  for (const path of [
    '/garbage',
    '/huge-head',
    '/many-fields',
    '/obs-fold',
    '/two-lengths',
    '/te-and-cl',
    '/bad-chunk',
    '/close-mid-head',
  ]) {
    test(`a backend answer like ${path} gives 502 and the proxy keeps serving`, async () => {
      const r = await fetchRaw(`${front.base}${path}`);
      assert.equal(r.status, 502);
      const ok = await fetchRaw(`${front.base}/fine`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'ok');
    });
  }

  test('a backend that closes before answering a fresh connection gives 502', async () => {
    const r = await fetchRaw(`${front.base}/close-before-answer`);
    assert.equal(r.status, 502);
    assert.equal((await fetchRaw(`${front.base}/fine`)).status, 200);
  });

  /** The body of a raw answer, and whether it was complete by its own framing. */
  function framedBody(got: string): { status: number; body: string; complete: boolean } {
    const status = Number(got.slice(9, 12));
    const headEnd = got.indexOf('\r\n\r\n');
    const head = got.slice(0, headEnd).toLowerCase();
    const body = got.slice(headEnd + 4);
    const length = /\r\ncontent-length: (\d+)/.exec(head);
    if (length) return { status, body, complete: body.length >= Number(length[1]) };
    return { status, body, complete: body.endsWith('\r\n0\r\n\r\n') };
  }

  test('a backend closing mid-body: 502 if nothing was sent yet, else a dropped connection with a short body', async () => {
    const got = await rawExchange(front.port!, 'GET /close-mid-body-early HTTP/1.1\r\nHost: x\r\n\r\n');
    const answer = framedBody(got);
    if (answer.status !== 502) {
      assert.equal(answer.status, 200);
      assert.equal(answer.complete, false);
    }
    assert.equal((await fetchRaw(`${front.base}/fine`)).status, 200);
  });

  for (const path of ['/close-mid-body-late', '/bad-chunk-late']) {
    test(`a backend failing at ${path} after the answer started: the client connection is dropped, the body short`, async () => {
      const got = await rawExchange(front.port!, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const answer = framedBody(got);
      assert.equal(answer.status, 200);
      assert.ok(answer.body.includes('first'), JSON.stringify(got));
      assert.equal(answer.complete, false);
      assert.equal((await fetchRaw(`${front.base}/fine`)).status, 200);
    });
  }

  test('skips 100 Continue, reads chunked bodies (trailers dropped) and bodies read until close', async () => {
    assert.equal((await fetchRaw(`${front.base}/continue`)).body, 'ok');
    const chunked = await fetchRaw(`${front.base}/chunked`);
    assert.equal(chunked.body, 'abcdef');
    assert.equal(chunked.headers['x-trailer'], undefined);
    assert.equal((await fetchRaw(`${front.base}/until-close`)).body, 'read until close');
  });

  test('HEAD answers carry no body and leave the connection reusable', async () => {
    const r = await fetchRaw(`${front.base}/head`, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '1234');
    assert.equal((await fetchRaw(`${front.base}/fine`)).body, 'ok');
  });
});

describe('ReverseProxyResource and the keep-alive race', () => {
  /** A backend that answers the first request of each connection, then drops the connection at the second. */
  const dropSecond: Script = (s, _path, n) => {
    if (n === 1) s.write(GOOD);
    else s.destroy();
  };

  test('an idempotent request on a pooled connection the backend dropped is retried once on a new one', async () => {
    const be = await rawBackend({ '/a': dropSecond, '/b': dropSecond });
    const p = new ReverseProxyResource('127.0.0.1', be.port, '');
    const front = await serveSite(new Site(p, { logError: () => {} }));
    try {
      assert.equal((await fetchRaw(`${front.base}/a`)).status, 200);
      assert.equal(p.pools[0]!.idleCount, 1);
      const r = await fetchRaw(`${front.base}/b`);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
      assert.equal(be.connections(), 2);
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('a POST on a pooled connection the backend dropped is not sent again: 502', async () => {
    const be = await rawBackend({ '/a': dropSecond, '/b': dropSecond });
    const p = new ReverseProxyResource('127.0.0.1', be.port, '');
    const front = await serveSite(new Site(p, { logError: () => {} }));
    try {
      assert.equal((await fetchRaw(`${front.base}/a`)).status, 200);
      const r = await fetchRaw(`${front.base}/b`, { method: 'POST', body: 'x=1' });
      assert.equal(r.status, 502);
      assert.equal(be.connections(), 1);
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('a response with bytes after its end does not go back to the pool', async () => {
    const be = await rawBackend({ '/extra': (s) => s.write(`${GOOD}HTTP/1.1 200 OK\r\n`) });
    const p = new ReverseProxyResource('127.0.0.1', be.port, '');
    const front = await serveSite(new Site(p, { logError: () => {} }));
    try {
      assert.equal((await fetchRaw(`${front.base}/extra`)).body, 'ok');
      assert.equal(p.pools[0]!.idleCount, 0);
      assert.equal((await fetchRaw(`${front.base}/fine`)).body, 'ok');
      assert.equal(be.connections(), 2);
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });
});

describe('BackendPool limits', () => {
  test('with maxSockets 1, concurrent requests wait for the one connection and all succeed', async () => {
    const be = await rawBackend({ '/slow': (s) => setTimeout(() => s.write(GOOD), 30) });
    const p = new ReverseProxyResource('127.0.0.1', be.port, '', { maxSockets: 1 });
    const front = await serveSite(new Site(p, { logError: () => {} }));
    try {
      const answers = await Promise.all([1, 2, 3, 4].map(() => fetchRaw(`${front.base}/slow`)));
      assert.deepEqual(
        answers.map((a) => a.body),
        ['ok', 'ok', 'ok', 'ok'],
      );
      assert.equal(be.connections(), 1);
      assert.equal(p.pools[0]!.openCount, 1);
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });

  test('an answer that comes before the request body was sent: the connection is closed, the client still gets it', async () => {
    const be = await rawBackend({
      '/early': (s) => s.write('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nno'),
    });
    const p = new ReverseProxyResource('127.0.0.1', be.port, '');
    const front = await serveSite(new Site(p, { logError: () => {} }));
    try {
      async function* slowBody() {
        yield Buffer.from('a'.repeat(1000));
        await new Promise((r) => setTimeout(r, 50));
        yield Buffer.from('b'.repeat(1000));
      }
      const r = await fetchRaw(`${front.base}/early`, { method: 'POST', body: slowBody() });
      assert.equal(r.status, 403);
      assert.equal(r.body, 'no');
      assert.equal(p.pools[0]!.idleCount, 0);
      assert.equal((await fetchRaw(`${front.base}/fine`)).body, 'ok');
    } finally {
      p.close();
      await front.close();
      await be.close();
    }
  });
});

describe('ReverseProxyResource backpressure', () => {
  test('a client that does not read stalls the backend: the proxy holds a bounded amount, then relays it all', async () => {
    const total = 256 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'z');
    let written = 0;
    const server: Server = createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${total}\r\n\r\n`);
        const pump = () => {
          while (written < total) {
            written += chunk.length;
            if (!socket.write(chunk)) {
              socket.once('drain', pump);
              return;
            }
          }
        };
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const p = new ReverseProxyResource('127.0.0.1', (server.address() as AddressInfo).port, '');
    const front = await serveSite(new Site(p, { logError: () => {} }));
    const sock = connect(front.port!, '127.0.0.1');
    try {
      sock.pause();
      sock.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      // Wait until the backend stops being able to write (every buffer on the way is full).
      let last = -1;
      while (written !== last) {
        last = written;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(written < 64 * 1024 * 1024, `the backend got ${written} bytes out while the client read nothing`);
      // Reading now drains everything.
      let received = 0;
      await new Promise<void>((resolve) => {
        sock.on('data', (d: Buffer) => {
          received += d.length;
          if (received >= total) resolve();
        });
        sock.resume();
      });
      assert.ok(received >= total);
    } finally {
      sock.destroy();
      p.close();
      await front.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
