// The AJP13 channel over real sockets: requests, bodies pushed and pulled, reuse, CPING, the secret,
// the attribute allow-list, malformed and oversized packets, disconnects, and listen refusals.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ajpEndpoint, listenAjp } from '../../../src/channels/ajp/server.js';
import {
  bodyPacket,
  forwardRequestPayload,
  readContainerFrame,
  serverPacket,
} from '../../../src/channels/ajp/packets.js';
import type { Listener } from '../../../src/channels/listen.js';
import { NOT_DONE_YET, type Request } from '../../../src/request.js';
import { Resource } from '../../../src/resource.js';
import { Site } from '../../../src/site.js';
import { redirectTo } from '../../../src/util/redirect.js';

let lost = 0;
class Echo extends Resource {
  override isLeaf = true;
  override async POST(request: Request): Promise<string> {
    const body = await request.readBody();
    return `${body.length} ${body.subarray(0, 5).toString()} ${body.subarray(-5).toString()}`;
  }
}
class Info extends Resource {
  override isLeaf = true;
  override GET(request: Request): string {
    return JSON.stringify({
      url: request.prePathURL(),
      postpath: request.postpath,
      args: request.arg('x'),
      client: request.getClientAddress(),
      secure: request.isSecure(),
      test: request.getHeader('x-test'),
    });
  }
}
class Go extends Resource {
  override isLeaf = true;
  override GET(request: Request): string {
    return redirectTo(new URL('info', request.prePathURL()).href, request);
  }
}
class Endless extends Resource {
  override isLeaf = true;
  override GET(request: Request): typeof NOT_DONE_YET {
    request.notifyFinish().catch(() => lost++);
    const timer = setInterval(() => request.write('x'.repeat(1000)), 5);
    request.notifyFinish().then(
      () => clearInterval(timer),
      () => clearInterval(timer),
    );
    return NOT_DONE_YET;
  }
}
class BigHeaders extends Resource {
  override isLeaf = true;
  override GET(request: Request): string {
    request.setHeader('X-Big', 'a'.repeat(9000));
    return 'never fits';
  }
}
class Unread extends Resource {
  override isLeaf = true;
  override POST(): Promise<string> {
    return new Promise((resolve) => setTimeout(() => resolve('ignored the body'), 100));
  }
}
function site(): Site {
  const root = new Resource();
  root.putChild('unread', new Unread());
  root.putChild('big', new BigHeaders());
  root.putChild('echo', new Echo());
  root.putChild('info', new Info());
  root.putChild('go', new Go());
  root.putChild('endless', new Endless());
  return new Site(root, { serverHeader: null, logError: () => {} });
}

interface Answer {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: Buffer;
  reuse: boolean | null;
  closed: boolean;
}

/** A tiny web-server side: sends packets, answers GET_BODY_CHUNK from `chunks`, collects the answer. */
class Peer {
  socket: Socket;
  buf = Buffer.alloc(0);
  waiters: Array<() => void> = [];
  closed = false;
  constructor(path: string | number) {
    this.socket = typeof path === 'number' ? connect(path, '127.0.0.1') : connect(path);
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('error', () => {});
  }
  send(...packets: Buffer[]): void {
    this.socket.write(Buffer.concat(packets));
  }
  async packet(): Promise<Buffer | null> {
    for (;;) {
      const f = readContainerFrame(this.buf, 0);
      if (f) {
        this.buf = this.buf.subarray(f.next);
        return Buffer.from(f.payload);
      }
      if (this.closed) return null;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  async answer(chunks: Buffer[] = []): Promise<Answer> {
    const a: Answer = { status: 0, reason: '', headers: [], body: Buffer.alloc(0), reuse: null, closed: false };
    for (;;) {
      const p = await this.packet();
      if (!p) {
        a.closed = true;
        return a;
      }
      if (p[0] === 4) {
        a.status = p.readUInt16BE(1);
        let pos = 3;
        const str = () => {
          const n = p.readUInt16BE(pos);
          const s = p.toString('utf8', pos + 2, pos + 2 + n);
          pos += n + 3;
          return s;
        };
        a.reason = str();
        const count = p.readUInt16BE(pos);
        pos += 2;
        const codes = [
          '',
          'Content-Type',
          'Content-Language',
          'Content-Length',
          'Date',
          'Last-Modified',
          'Location',
          'Set-Cookie',
          'Set-Cookie2',
          'Servlet-Engine',
          'Status',
          'WWW-Authenticate',
        ];
        for (let i = 0; i < count; i++) {
          let name: string;
          if (p[pos] === 0xa0) {
            name = codes[p[pos + 1]!]!;
            pos += 2;
          } else name = str();
          a.headers.push([name, str()]);
        }
      } else if (p[0] === 3) {
        const n = p.readUInt16BE(1);
        assert.equal(p[3 + n], 0, 'SEND_BODY_CHUNK ends with a NUL');
        a.body = Buffer.concat([a.body, p.subarray(3, 3 + n)]);
      } else if (p[0] === 6) {
        const chunk = chunks.shift() ?? Buffer.alloc(0);
        assert.ok(chunk.length <= p.readUInt16BE(1));
        this.send(bodyPacket(chunk));
      } else if (p[0] === 5) {
        a.reuse = p[1] === 1;
        return a;
      } else {
        throw new Error(`unexpected packet ${p[0]}`);
      }
    }
  }
  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }
  close(): void {
    this.socket.destroy();
  }
}

const header = (a: Answer, name: string) => a.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
const get = (reqUri: string, extra: Partial<Parameters<typeof forwardRequestPayload>[0]> = {}) =>
  serverPacket(
    forwardRequestPayload({
      method: 'GET',
      reqUri,
      serverName: '127.0.0.1',
      serverPort: 8080,
      headers: [['Host', 'example.org:8080']],
      ...extra,
    }),
  );

describe('AJP channel', () => {
  let listener: Listener;
  let secretListener: Listener;
  before(async () => {
    listener = await listenAjp(site(), { type: 'tcp', port: 0 }, { mount: '/app' });
    secretListener = await listenAjp(site(), { type: 'tcp', port: 0 }, { secret: 's3cret' });
  });
  after(async () => {
    await listener.close(100);
    await secretListener.close(100);
  });

  it('binds to 127.0.0.1 when the endpoint names no interface', () => {
    assert.match(listener.url, /^ajp:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('serves a request under the mount, reuses the connection, answers CPING between requests', async () => {
    const peer = new Peer(listener.port!);
    peer.send(
      get('/app/info', {
        remoteAddr: '10.0.0.9',
        attributes: [
          [0x05, 'x=1'],
          [0x0a, 'AJP_REMOTE_PORT', '4444'],
          [0x0a, 'AJP_LOCAL_ADDR', '127.0.0.1'],
        ],
        headers: [
          ['Host', 'example.org:8080'],
          ['X-Test', 'yes'],
        ],
      }),
    );
    const a = await peer.answer();
    assert.equal(a.status, 200);
    assert.equal(a.reuse, true);
    const info = JSON.parse(a.body.toString());
    assert.equal(info.url, 'http://example.org:8080/app/info');
    assert.deepEqual(info.postpath, []);
    assert.equal(info.args, '1');
    assert.deepEqual(info.client, { type: 'INET', host: '10.0.0.9', port: 4444 });
    assert.equal(info.test, 'yes');
    peer.send(serverPacket(Buffer.from([10])));
    assert.deepEqual([...(await peer.packet())!], [9]);
    peer.send(get('/app/info', { isSsl: true, serverPort: 443, headers: [], serverName: 'secure.example' }));
    const b = await peer.answer();
    assert.equal(JSON.parse(b.body.toString()).url, 'https://secure.example/app/info');
    assert.equal(JSON.parse(b.body.toString()).secure, true);
    peer.close();
  });

  it('builds a redirect Location from the public host and mount', async () => {
    const peer = new Peer(listener.port!);
    peer.send(get('/app/go'));
    const a = await peer.answer();
    assert.equal(a.status, 302);
    assert.equal(header(a, 'location'), 'http://example.org:8080/app/info');
    peer.close();
  });

  it('reads a Content-Length body: first chunk pushed, the rest pulled with GET_BODY_CHUNK', async () => {
    const body = Buffer.alloc(1024 * 1024, 'b');
    body.write('start', 0);
    body.write('-end-', body.length - 5);
    const chunks: Buffer[] = [];
    for (let i = 0; i < body.length; i += 8186) chunks.push(body.subarray(i, i + 8186));
    const peer = new Peer(listener.port!);
    peer.send(
      serverPacket(
        forwardRequestPayload({
          method: 'POST',
          reqUri: '/app/echo',
          headers: [
            ['Content-Length', String(body.length)],
            ['Host', 'h'],
          ],
        }),
      ),
      bodyPacket(chunks.shift()!),
    );
    const a = await peer.answer(chunks);
    assert.equal(a.body.toString(), `${body.length} start -end-`);
    assert.equal(a.reuse, true);
    peer.send(get('/app/info'));
    assert.equal((await peer.answer()).status, 200, 'the connection serves the next request');
    peer.close();
  });

  it('pulls a chunked body (nothing pushed) until the empty packet', async () => {
    const peer = new Peer(listener.port!);
    peer.send(
      serverPacket(
        forwardRequestPayload({
          method: 'POST',
          reqUri: '/app/echo',
          headers: [
            ['Transfer-Encoding', 'chunked'],
            ['Host', 'h'],
          ],
        }),
      ),
    );
    const a = await peer.answer([Buffer.from('hello '), Buffer.from('world'), Buffer.alloc(0)]);
    assert.equal(a.body.toString(), '11 hello world');
    peer.close();
  });

  it('does not reuse a connection whose body the resource left unread', async () => {
    const peer = new Peer(listener.port!);
    peer.send(
      serverPacket(
        forwardRequestPayload({
          method: 'POST',
          reqUri: '/app/info',
          headers: [
            ['Content-Length', '20000'],
            ['Host', 'h'],
          ],
        }),
      ),
      bodyPacket(Buffer.alloc(8186)),
    );
    const a = await peer.answer();
    assert.equal(a.status, 405);
    assert.equal(a.reuse, false);
    await peer.waitClosed();
  });

  it('survives a body cut short that the resource never reads', async () => {
    const peer = new Peer(listener.port!);
    peer.send(
      serverPacket(
        forwardRequestPayload({
          method: 'POST',
          reqUri: '/app/unread',
          headers: [
            ['Content-Length', '100'],
            ['Host', 'h'],
          ],
        }),
      ),
      bodyPacket(Buffer.alloc(0)),
    );
    const a = await peer.answer();
    assert.equal(a.body.toString(), 'ignored the body');
    assert.equal(a.reuse, false);
  });

  it('stops the response and rejects notifyFinish when the web server drops the connection', async () => {
    const before = lost;
    const peer = new Peer(listener.port!);
    peer.send(get('/app/endless'));
    await peer.packet();
    await peer.packet();
    peer.close();
    for (let i = 0; i < 100 && lost === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(lost, before + 1);
  });

  const broken: Array<[string, Buffer]> = [
    ['HTTP spoken to the AJP port', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['an oversized packet', Buffer.from([0x12, 0x34, 0xff, 0xf0])],
    ['a malformed FORWARD_REQUEST', serverPacket(Buffer.from([2, 2, 0, 5]))],
    [
      'an unknown attribute code',
      serverPacket(
        Buffer.concat([
          forwardRequestPayload({ method: 'GET', reqUri: '/' }).subarray(0, -1),
          Buffer.from([0x20, 0, 1, 0x41, 0, 0xff]),
        ]),
      ),
    ],
    ['SHUTDOWN', serverPacket(Buffer.from([7]))],
    ['a container packet', Buffer.from([0x41, 0x42, 0, 1, 9])],
  ];
  for (const [name, bytes] of broken) {
    it(`closes the connection on ${name}, and the next connection works`, async () => {
      const peer = new Peer(listener.port!);
      peer.send(bytes);
      await peer.waitClosed();
      assert.equal(peer.buf.length, 0, 'nothing is answered');
      const next = new Peer(listener.port!);
      next.send(get('/app/info'));
      assert.equal((await next.answer()).status, 200);
      next.close();
    });
  }

  it('refuses req_attribute names outside the allow-list with 403 (Ghostcat)', async () => {
    const peer = new Peer(listener.port!);
    peer.send(get('/app/info', { attributes: [[0x0a, 'javax.servlet.include.request_uri', '/WEB-INF/web.xml']] }));
    const a = await peer.answer();
    assert.equal(a.status, 403);
    assert.equal(a.reuse, false);
    await peer.waitClosed();
  });

  it('drops the connection when the response headers do not fit one packet, and keeps serving', async () => {
    const peer = new Peer(listener.port!);
    peer.send(get('/app/big'));
    const a = await peer.answer();
    assert.equal(a.closed, true);
    assert.equal(a.status, 0, 'no partial SEND_HEADERS');
    const next = new Peer(listener.port!);
    next.send(get('/app/info'));
    assert.equal((await next.answer()).status, 200);
    next.close();
  });

  it('refuses control characters in headers with 400', async () => {
    const peer = new Peer(listener.port!);
    peer.send(get('/app/info', { headers: [['X-A', 'a\r\nb']] }));
    assert.equal((await peer.answer()).status, 400);
    peer.close();
  });

  it('with a secret: refuses requests without it or with a wrong one (403), serves the right one', async () => {
    for (const attributes of [[], [[0x0c, 'wrong']]] as Array<Array<[number, string]>>) {
      const peer = new Peer(secretListener.port!);
      peer.send(get('/info', { attributes }));
      const a = await peer.answer();
      assert.equal(a.status, 403);
      await peer.waitClosed();
    }
    const peer = new Peer(secretListener.port!);
    peer.send(get('/info', { attributes: [[0x0c, 's3cret']] }));
    assert.equal((await peer.answer()).status, 200);
    peer.close();
  });
});

describe('ajpEndpoint', () => {
  it('refuses a non-loopback interface without a secret, with a message that says what to do', () => {
    assert.throws(
      () => ajpEndpoint({ type: 'tcp', port: 8009, interface: '0.0.0.0' }, null),
      /refusing to serve AJP on 0\.0\.0\.0:8009 without a secret; bind to 127\.0\.0\.1/,
    );
    assert.deepEqual(ajpEndpoint({ type: 'tcp', port: 8009, interface: '0.0.0.0' }, 's'), {
      type: 'tcp',
      port: 8009,
      interface: '0.0.0.0',
    });
    assert.deepEqual(ajpEndpoint({ type: 'tcp', port: 8009 }, null), {
      type: 'tcp',
      port: 8009,
      interface: '127.0.0.1',
    });
    assert.deepEqual(ajpEndpoint({ type: 'tcp', port: 8009, interface: '::1' }, null), {
      type: 'tcp',
      port: 8009,
      interface: '::1',
    });
    assert.deepEqual(ajpEndpoint({ type: 'unix', path: '/tmp/x' }, null), { type: 'unix', path: '/tmp/x' });
  });
});

describe('AJP channel under random input', () => {
  it('closes connections fed random or truncated packets and keeps serving', async () => {
    const fc = (await import('fast-check')).default;
    const listener = await listenAjp(site(), { type: 'tcp', port: 0 });
    try {
      const valid = get('/info');
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
            fc.uint8Array({ maxLength: 200 }).map((b) => serverPacket(Buffer.from(b))),
            fc.integer({ min: 0, max: valid.length - 1 }).map((n) => valid.subarray(0, n)),
            fc
              .tuple(fc.integer({ min: 4, max: valid.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 20 }))
              .map(([n, junk]) => {
                const b = Buffer.from(valid);
                b.set(junk.subarray(0, b.length - n), n);
                return b;
              }),
          ),
          async (bytes) => {
            const peer = new Peer(listener.port!);
            peer.send(bytes);
            await new Promise((r) => setTimeout(r, 5));
            peer.close();
          },
        ),
        { numRuns: 150 },
      );
      const peer = new Peer(listener.port!);
      peer.send(get('/info'));
      assert.equal((await peer.answer()).status, 200);
      peer.close();
    } finally {
      await listener.close(100);
    }
  });
});

describe('AJP channel and lighttpd', () => {
  it('ignores the empty body packet lighttpd sends after a Content-Length: 0 request, even mid-response', async () => {
    const listener = await listenAjp(site(), { type: 'tcp', port: 0 });
    try {
      const peer = new Peer(listener.port!);
      peer.send(
        serverPacket(
          forwardRequestPayload({
            method: 'POST',
            reqUri: '/echo',
            headers: [
              ['Content-Length', '0'],
              ['Host', 'h'],
            ],
          }),
        ),
        serverPacket(Buffer.alloc(0)),
      );
      const a = await peer.answer();
      assert.equal(a.body.toString(), '0  ');
      assert.equal(a.reuse, true);
      peer.close();
    } finally {
      await listener.close(100);
    }
  });

  it("reads lighttpd's raw body packets (no inner length)", async () => {
    const listener = await listenAjp(site(), { type: 'tcp', port: 0 });
    try {
      const peer = new Peer(listener.port!);
      peer.send(
        serverPacket(
          forwardRequestPayload({
            method: 'POST',
            reqUri: '/echo',
            headers: [
              ['Content-Length', '11'],
              ['Host', 'h'],
            ],
          }),
        ),
        serverPacket(Buffer.from('hello world')),
      );
      assert.equal((await peer.answer()).body.toString(), '11 hello world');
      peer.close();
    } finally {
      await listener.close(100);
    }
  });
});

/** Sends a secret-bearing GET from `localAddress` and resolves with the status, or null when the server hangs up. */
function statusFrom(port: number, host: string, localAddress: string): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = connect({ port, host, localAddress });
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('close', () => resolve(null));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.includes(Buffer.from([0x41, 0x42, 0, 2, 5]))) {
        resolve(buf.readUInt16BE(5));
        sock.destroy();
      }
    });
    sock.write(get('/info', { attributes: [[0x0c, 's']] }));
  });
}

describe('AJP trusted peers', () => {
  it('disconnects peers outside --gateway-trusted-peers, serves loopback and listed ones', async (t) => {
    const { networkInterfaces } = await import('node:os');
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!external) {
      t.skip('no non-loopback IPv4 address on this machine');
      return;
    }
    const others = await listenAjp(
      site(),
      { type: 'tcp', port: 0, interface: '0.0.0.0' },
      { secret: 's', trustedPeers: ['192.0.2.1'] },
    );
    const listed = await listenAjp(
      site(),
      { type: 'tcp', port: 0, interface: '0.0.0.0' },
      { secret: 's', trustedPeers: [external] },
    );
    try {
      assert.equal(await statusFrom(others.port!, external, external), null, 'an unlisted peer is hung up on');
      assert.equal(await statusFrom(others.port!, '127.0.0.1', '127.0.0.1'), 200, 'loopback is always allowed');
      assert.equal(await statusFrom(listed.port!, external, external), 200, 'a listed peer is served');
    } finally {
      await others.close(100);
      await listed.close(100);
    }
  });
});

describe('AJP head deadline', () => {
  it('closes a connection whose packet, however slow, is not whole within headerTimeout', async () => {
    const slowSite = new Site(new Resource(), { limits: { headerTimeout: 400 }, logError: () => {} });
    const l = await listenAjp(slowSite, { type: 'tcp', port: 0, interface: '127.0.0.1' });
    const socket = connect(l.port!, '127.0.0.1');
    let closed = false;
    socket.on('error', () => {});
    socket.on('close', () => (closed = true));
    try {
      const t0 = Date.now();
      // A packet header announcing 4000 bytes, then one byte every 100 ms: never idle, never whole.
      socket.write(Buffer.from([0x12, 0x34, 0x0f, 0xa0]));
      for (let i = 0; i < 25 && !closed; i++) {
        socket.write(Buffer.from([2]));
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(closed, 'closed by the head deadline');
      const took = Date.now() - t0;
      assert.ok(took >= 350, `closed after ${took} ms, not before the deadline`);
    } finally {
      socket.destroy();
      await l.close(100);
    }
  });
});
