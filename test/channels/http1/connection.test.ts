// The HTTP/1.1 channel over real loopback sockets, byte for byte: pipelining, request and response
// framing, Expect, keep-alive and close, refusals, timeouts, floods and shutdown.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { AccessLogEntry } from '../../../src/access-log.js';
import { NOT_DONE_YET, type Request } from '../../../src/request.js';
import { Resource } from '../../../src/resource.js';
import { Site, type SiteLimits } from '../../../src/site.js';
import {
  ConnectionClosedError,
  parseResponses,
  rawHttp,
  RawConnection,
  type RawResponse,
} from '../../helpers/raw-http.js';
import { serveSite } from '../../helpers/server.js';

/** Answers `hello <uri>`, so each response names the request it answers. */
class Hello extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    return `hello ${request.uri}`;
  }
}

/** Reads the whole body and answers its length and SHA-256. */
class Echo extends Resource {
  override isLeaf = true;
  renders = 0;
  override async POST(request: Request) {
    this.renders++;
    return digest(await request.readBody());
  }
}

/** Reads the whole body only 200 ms after the request arrived, then answers its length and SHA-256. */
class LateEcho extends Resource {
  override isLeaf = true;
  override async POST(request: Request) {
    await delay(200);
    return digest(await request.readBody());
  }
}

/** Answers at once without reading the request body. */
class Ignore extends Resource {
  override isLeaf = true;
  override GET() {
    return 'ignored';
  }
  override POST() {
    return 'ignored';
  }
}

/** Streams three lines a few milliseconds apart (NOT_DONE_YET, write, finish). */
class Stream extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    const lines = ['one\n', 'two\n', 'three\n'];
    const next = () => {
      if (request.disconnected) return;
      const line = lines.shift();
      if (line === undefined) return request.finish();
      request.write(line);
      setTimeout(next, 5);
    };
    next();
    return NOT_DONE_YET;
  }
}

/** Streams `first\n`, then `last\n` 400 ms later: a response still in progress for a while. */
class Slow extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    request.write('first\n');
    setTimeout(() => {
      request.write('last\n');
      request.finish();
    }, 400);
    return NOT_DONE_YET;
  }
}

/** `/status/204` streams an empty 204 (NOT_DONE_YET, finish); `/status/304` returns a 304 with a body to drop. */
class Status extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    const code = Number(request.postpath[0]);
    request.setResponseCode(code);
    if (code === 204) {
      request.finish();
      return NOT_DONE_YET;
    }
    return 'a body the status forbids';
  }
}

/** `/big/N` answers `N\n` and 16 KiB more, counting how many it rendered. */
class Big extends Resource {
  override isLeaf = true;
  renders = 0;
  override GET(request: Request) {
    this.renders++;
    return `${request.postpath[0]}\n${'x'.repeat(16 * 1024)}`;
  }
}

function digest(body: Buffer | string): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  return `${bytes.length} ${createHash('sha256').update(bytes).digest('hex')}`;
}

/** An HTTP/1.1 GET of `path` with Host, plus `extra` header lines (each ending in CRLF). */
function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
}

/** An HTTP/1.1 POST of `body` to `path` with its Content-Length. */
function post(path: string, body: string, extra = ''): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`;
}

/** Waits until `condition` holds, failing after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** The connection tokens of a response, lower case. */
function connectionTokens(r: RawResponse): string[] {
  return (r.header('connection') ?? '')
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter(Boolean);
}

/** Writes 64 KiB pieces as fast as the client takes them, until the client is gone; records why it stopped. */
class Endless extends Resource {
  override isLeaf = true;
  written = 0;
  lost: Error | null = null;
  override GET(request: Request) {
    const piece = Buffer.alloc(64 * 1024, 0x61);
    request.notifyFinish().catch((err: Error) => {
      this.lost = err;
    });
    const pump = async () => {
      while (!request.disconnected && this.written < 64 * 1024 * 1024) {
        request.write(piece);
        this.written += piece.length;
        await request.drain();
      }
    };
    void pump();
    return NOT_DONE_YET;
  }
}

/** Answers at once, then calls `abortConnection()` 20 ms later, as a buggy resource might. */
class LateAbort extends Resource {
  override isLeaf = true;
  aborts = 0;
  override GET(request: Request) {
    setTimeout(() => {
      this.aborts++;
      request.abortConnection();
    }, 20);
    return 'done';
  }
}

interface Harness {
  port: number;
  /** How many late aborts have run. */
  lateAborts(): number;
  echo: Echo;
  big: Big;
  endless: Endless;
  /** A connection closed when the test ends. */
  open(): Promise<RawConnection>;
  /** The server's graceful close (serveSite's, 1 s of grace). */
  close(): Promise<void>;
}

/** Serves the test site with `limits` for the length of test `t`. */
async function start(t: TestContext, limits: Partial<SiteLimits> = {}): Promise<Harness> {
  const root = new Resource();
  const echo = new Echo();
  const big = new Big();
  const endless = new Endless();
  const lateAbort = new LateAbort();
  root.putChild('endless', endless);
  root.putChild('late-abort', lateAbort);
  root.putChild('hello', new Hello());
  root.putChild('echo', echo);
  root.putChild('late-echo', new LateEcho());
  root.putChild('ignore', new Ignore());
  root.putChild('stream', new Stream());
  root.putChild('slow', new Slow());
  root.putChild('status', new Status());
  root.putChild('big', big);
  const server = await serveSite(new Site(root, { logError: () => {}, limits }));
  const connections: RawConnection[] = [];
  t.after(async () => {
    for (const conn of connections) conn.destroy();
    await server.close();
  });
  return {
    port: server.port!,
    echo,
    big,
    endless,
    lateAborts: () => lateAbort.aborts,
    open: async () => {
      const conn = await RawConnection.open(server.port!);
      connections.push(conn);
      return conn;
    },
    close: server.close,
  };
}

describe('HTTP/1.1 channel: pipelining', () => {
  test('a large head and the pipelined requests behind a slow response, dribbled in small writes, are answered in order', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    const fields = Array.from({ length: 60 }, (_, i) => `X-Field-${i}: ${'v'.repeat(100)}\r\n`).join('');
    // Three requests: a slow one, then a large head and a POST arriving while it is still answered.
    const bytes = Buffer.from(get('/slow') + get('/hello/large', fields) + post('/echo', 'dribbled body'), 'latin1');
    for (let at = 0; at < bytes.length; at += 97) {
      await conn.write(bytes.subarray(at, at + 97));
      if (at % (97 * 8) === 0) await delay(1);
    }
    assert.equal((await conn.readResponse()).text, 'first\nlast\n');
    assert.equal((await conn.readResponse()).text, 'hello /hello/large');
    assert.equal((await conn.readResponse()).text, digest(Buffer.from('dribbled body')));
  });

  test('three GETs in one write are answered in order and the connection stays open', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(get('/hello/1') + get('/hello/2') + get('/hello/3'));
    for (const n of [1, 2, 3]) {
      const r = await conn.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.framing, 'length');
      assert.equal(r.text, `hello /hello/${n}`);
    }
    assert.equal(await conn.stillOpenAfter(50), true);
    assert.equal(conn.buffered, 0, 'nothing after the third response');
  });

  test('a POST with a body between two GETs in one write is answered in order', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(get('/hello/a') + post('/echo', 'hello world') + get('/hello/b'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/a');
    assert.equal((await conn.readResponse()).text, digest('hello world'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/b');
  });

  test('a body whose last bytes arrive while the resource is not reading still lets the next request in', async (t) => {
    // The 64 KiB body fills the body buffer in one piece while the resource waits: reading pauses
    // for it and the body ends paused. The connection must read the next request all the same.
    const h = await start(t);
    const conn = await h.open();
    const body = 'b'.repeat(64 * 1024);
    await conn.write(`POST /late-echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
    await delay(50);
    await conn.write(body);
    assert.equal((await conn.readResponse()).text, digest(body));
    await conn.write(get('/hello/next'));
    assert.equal((await conn.readResponse({ timeoutMs: 2000 })).text, 'hello /hello/next');
  });

  test('a transcript of GET, HEAD, POST and a closing GET holds four responses in order', async (t) => {
    const h = await start(t);
    const text = await rawHttp(
      h.port,
      `${get('/hello/1')}HEAD /hello/2 HTTP/1.1\r\nHost: x\r\n\r\n${post('/echo', 'abc')}${get('/hello/4', 'Connection: close\r\n')}`,
    );
    const responses = parseResponses(text, { methods: ['GET', 'HEAD', 'POST', 'GET'] });
    assert.deepEqual(
      responses.map((r) => [r.status, r.text]),
      [
        [200, 'hello /hello/1'],
        [200, ''],
        [200, digest('abc')],
        [200, 'hello /hello/4'],
      ],
    );
    assert.equal(responses[1]!.header('content-length'), String('hello /hello/2'.length));
  });

  test('a request sent one byte at a time is answered once its last byte arrives', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    const bytes = Buffer.from(post('/echo', 'byte by byte'), 'latin1');
    for (let i = 0; i < bytes.length; i++) {
      if (i === bytes.length - 1) assert.equal(conn.buffered, 0, 'no answer before the last byte');
      await conn.write(bytes.subarray(i, i + 1));
      await delay(1);
    }
    const r = await conn.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.text, digest('byte by byte'));
  });
});

describe('HTTP/1.1 channel: request bodies', () => {
  test('a chunked body with chunk extensions and a trailer is decoded, and the connection reused', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    const body = '5;ext=1\r\nhello\r\n6;a=b;c="d e"\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n';
    await conn.write(
      `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}${get('/hello/after')}`,
    );
    const r = await conn.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.text, digest('hello world'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/after');
  });

  const malformedChunked: Array<[string, string]> = [
    ['a chunk size that is not hex', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['chunk data not followed by CRLF', '5\r\nhelloXX0\r\n\r\n'],
    ['a chunk size too large to represent', 'fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
  ];
  for (const [name, body] of malformedChunked) {
    test(`a chunked body with ${name} is answered 400 and the connection closed`, async (t) => {
      const h = await start(t);
      const text = await rawHttp(
        h.port,
        `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}${get('/hello/after')}`,
      );
      const responses = parseResponses(text);
      assert.deepEqual(
        responses.map((r) => r.status),
        [400],
        'one 400, and nothing after it answered',
      );
      assert.deepEqual(connectionTokens(responses[0]!), ['close']);
    });
  }

  test('a Content-Length body split across writes is read whole once the rest arrives', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello');
    await delay(50);
    assert.equal(conn.buffered, 0, 'no answer before the body is complete');
    await conn.write(' world');
    assert.equal((await conn.readResponse()).text, digest('hello world'));
  });

  const framingRefusals: Array<[string, string]> = [
    [
      'two equal Content-Length fields',
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
    ],
    [
      'Transfer-Encoding with Content-Length',
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    ['Transfer-Encoding: gzip', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n'],
    ['Transfer-Encoding on HTTP/1.0', 'POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ];
  for (const [name, request] of framingRefusals) {
    test(`${name} is answered 400, nothing after it is served, and the connection closes`, async (t) => {
      const h = await start(t);
      const text = await rawHttp(h.port, request + get('/hello/smuggled'));
      const responses = parseResponses(text);
      assert.deepEqual(
        responses.map((r) => r.status),
        [400],
      );
      assert.deepEqual(connectionTokens(responses[0]!), ['close']);
      assert.equal(h.echo.renders, 0, 'the resource never saw the request');
    });
  }
});

describe('HTTP/1.1 channel: Expect', () => {
  test('Expect: 100-continue gets 100 Continue when the resource reads the body, then the answer', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write('POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n');
    const interim = await conn.readResponse();
    assert.equal(interim.status, 100);
    assert.match(interim.raw, /^HTTP\/1\.1 100 Continue\r\n/);
    await conn.write('hello world');
    const r = await conn.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.text, digest('hello world'));
  });

  test('a resource that answers without reading the body sends no 100 Continue', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write('POST /ignore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n');
    const r = await conn.readResponse();
    assert.equal(r.status, 200, `the first response is the final one, not ${r.status}`);
    assert.equal(r.text, 'ignored');
    await delay(100);
    assert.equal(conn.buffered, 0, 'no late 100 Continue either');
  });

  test('an expectation other than 100-continue is answered 417 without reaching the resource', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write('POST /echo HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\nhello');
    const r = await conn.readResponse();
    assert.equal(r.status, 417);
    assert.equal(h.echo.renders, 0);
  });

  test('Expect: 100-continue on HTTP/1.0 is ignored: no 100, just the answer', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write('POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await delay(100);
    assert.equal(conn.buffered, 0, 'nothing sent to an HTTP/1.0 client before its body');
    await conn.write('hello');
    const r = await conn.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.text, digest('hello'));
  });
});

describe('HTTP/1.1 channel: unread request bodies', () => {
  test('a small body the resource did not read is discarded and the next pipelined request served', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(post('/ignore', 'x'.repeat(10)) + get('/hello/next'));
    assert.equal((await conn.readResponse()).text, 'ignored');
    assert.equal((await conn.readResponse()).text, 'hello /hello/next');
    assert.equal(await conn.stillOpenAfter(50), true);
  });

  test('a small body that arrives after the answer is discarded and the connection reused', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write('POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n');
    const first = await conn.readResponse();
    assert.equal(first.text, 'ignored');
    assert.ok(!connectionTokens(first).includes('close'));
    await conn.write('x'.repeat(10) + get('/hello/next'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/next');
  });

  test('a 10 MB declared body the resource did not read gets its answer, then the connection closes', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(
      `POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n${'x'.repeat(1024)}`,
    );
    const r = await conn.readResponse();
    assert.equal(r.text, 'ignored');
    assert.deepEqual(connectionTokens(r), ['close']);
    await conn.waitClosed({ timeoutMs: 2000 });
  });
});

describe('HTTP/1.1 channel: response framing', () => {
  test('a streamed response on HTTP/1.1 is chunked, correctly terminated, and the connection reused', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(get('/stream'));
    const r = await conn.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.framing, 'chunked');
    assert.equal(r.header('transfer-encoding'), 'chunked');
    assert.equal(r.header('content-length'), undefined);
    assert.equal(r.text, 'one\ntwo\nthree\n');
    assert.ok(r.rawBody.toString('latin1').endsWith('0\r\n\r\n'), 'ends with the last-chunk and an empty trailer');
    await conn.write(get('/hello/next'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/next');
  });

  for (const [name, extra] of [
    ['HTTP/1.0', ''],
    ['HTTP/1.0 with Connection: keep-alive', 'Connection: keep-alive\r\n'],
  ] as const) {
    test(`a streamed response on ${name} is not chunked and ends with the connection`, async (t) => {
      const h = await start(t);
      const responses = parseResponses(await rawHttp(h.port, `GET /stream HTTP/1.0\r\n${extra}\r\n`));
      assert.equal(responses.length, 1);
      const r = responses[0]!;
      assert.equal(r.status, 200);
      assert.equal(r.framing, 'close');
      assert.equal(r.header('transfer-encoding'), undefined);
      assert.equal(r.header('content-length'), undefined);
      assert.ok(!connectionTokens(r).includes('keep-alive'), 'does not promise a kept-alive connection');
      assert.equal(r.text, 'one\ntwo\nthree\n');
    });
  }

  test('HTTP/1.0 with Connection: keep-alive and a whole body is kept alive for the next request', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write('GET /hello/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const first = await conn.readResponse();
    assert.equal(first.text, 'hello /hello/1');
    assert.equal(first.framing, 'length');
    assert.deepEqual(connectionTokens(first), ['keep-alive']);
    assert.equal(await conn.stillOpenAfter(100), true);
    await conn.write('GET /hello/2 HTTP/1.0\r\n\r\n');
    const second = await conn.readResponse();
    assert.equal(second.text, 'hello /hello/2');
    await conn.waitClosed();
  });

  test('Connection: close on HTTP/1.1 is echoed, the server closes, and a request after it is not served', async (t) => {
    const h = await start(t);
    const responses = parseResponses(await rawHttp(h.port, get('/hello/1', 'Connection: close\r\n') + get('/hello/2')));
    assert.deepEqual(
      responses.map((r) => r.text),
      ['hello /hello/1'],
    );
    assert.deepEqual(connectionTokens(responses[0]!), ['close']);
  });

  test('HEAD gets the headers GET would, no body, and the connection is reused', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(`HEAD /hello/h HTTP/1.1\r\nHost: x\r\n\r\n${get('/hello/h')}`);
    const head = await conn.readResponse({ head: true });
    const body = await conn.readResponse();
    assert.equal(head.status, 200);
    assert.equal(body.text, 'hello /hello/h');
    assert.equal(head.header('content-length'), String(body.body.length));
    assert.equal(head.header('content-type'), body.header('content-type'));
    assert.equal(await conn.stillOpenAfter(50), true);
    assert.equal(conn.buffered, 0);
  });

  test('HEAD of a streamed resource sends no chunk bytes, and the connection is reused', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(`HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n${get('/hello/after')}`);
    const head = await conn.readResponse({ head: true });
    assert.equal(head.status, 200);
    const next = await conn.readResponse();
    assert.match(next.raw, /^HTTP\/1\.1 200 /, 'the next response starts right after the HEAD head');
    assert.equal(next.text, 'hello /hello/after');
  });

  test('304 and 204 responses have no body and the connection is reused', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(get('/status/304') + get('/status/204') + get('/hello/after'));
    const notModified = await conn.readResponse();
    const noContent = await conn.readResponse();
    assert.equal(notModified.status, 304);
    assert.equal(notModified.header('transfer-encoding'), undefined);
    assert.equal(noContent.status, 204);
    assert.equal(noContent.header('transfer-encoding'), undefined);
    assert.equal(noContent.header('content-length'), undefined);
    const after = await conn.readResponse();
    assert.match(after.raw, /^HTTP\/1\.1 200 /, 'no body bytes between the responses');
    assert.equal(after.text, 'hello /hello/after');
  });
});

describe('HTTP/1.1 channel: refused request heads', () => {
  const limits = { maxUriLength: 256, maxHeaderBytes: 1024, maxHeaderCount: 10 };
  const cases: Array<[string, string, number]> = [
    ['HTTP/2.0 is 505', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['HTTP/3.1 is 505', 'GET / HTTP/3.1\r\nHost: x\r\n\r\n', 505],
    ['a line that is not a request line is 400', 'HELLO THERE\r\n\r\n', 400],
    ['binary garbage is 400', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n', 400],
    ['a target longer than maxUriLength is 414', `GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    [
      'more than maxHeaderCount fields is 431',
      `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 10 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`,
      431,
    ],
    [
      'a header section larger than maxHeaderBytes is 431',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'v'.repeat(2000)}\r\n\r\n`,
      431,
    ],
    ['HTTP/1.1 without Host is 400', 'GET /hello HTTP/1.1\r\n\r\n', 400],
  ];
  for (const [name, request, status] of cases) {
    test(`${name}, with Connection: close, and the connection closes`, async (t) => {
      const h = await start(t, limits);
      const responses = parseResponses(await rawHttp(h.port, request));
      assert.deepEqual(
        responses.map((r) => r.status),
        [status],
      );
      assert.deepEqual(connectionTokens(responses[0]!), ['close']);
    });
  }

  test('a client sending garbage does not disturb another connection mid-request', async (t) => {
    const h = await start(t);
    const busy = await h.open();
    await busy.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello');
    const bad = parseResponses(await rawHttp(h.port, 'HELLO THERE\r\n\r\n'));
    assert.deepEqual(
      bad.map((r) => r.status),
      [400],
    );
    await busy.write(' world');
    assert.equal((await busy.readResponse()).text, digest('hello world'));
    await busy.write(get('/hello/again'));
    assert.equal((await busy.readResponse()).text, 'hello /hello/again');
  });
});

describe("HTTP/1.1 channel: refusals carry the Site's page and headers", () => {
  /** A site with an extra header (`--add-header`), a short header timeout and a recording access log. */
  async function refusing(t: TestContext): Promise<{ port: number; logged: AccessLogEntry[] }> {
    const root = new Resource();
    root.putChild('echo', new Echo());
    const logged: AccessLogEntry[] = [];
    const accessLog = { log: (e: AccessLogEntry) => void logged.push(e), reopen() {}, close: async () => {} };
    const limits = { maxUriLength: 256, maxHeaderBytes: 1024, maxHeaderCount: 10, headerTimeout: 300 };
    const site = new Site(root, { logError: () => {}, headers: [['X-Test', '1']], accessLog, limits });
    const server = await serveSite(site);
    t.after(() => server.close());
    return { port: server.port!, logged };
  }

  /** The marks of a response the Site wrote: Date, Server, the extra header, its HTML page, and Connection: close. */
  function assertSiteRefusal(r: RawResponse, status: number, head = false): void {
    assert.equal(r.status, status);
    assert.ok(!Number.isNaN(Date.parse(r.header('date') ?? '')), `a Date header: ${r.raw}`);
    assert.match(r.header('server') ?? '', /^Trellis\//);
    assert.equal(r.header('x-test'), '1');
    assert.match(r.header('content-type') ?? '', /^text\/html/);
    assert.deepEqual(connectionTokens(r), ['close']);
    if (head) assert.equal(r.body.length, 0);
    else assert.match(r.text, new RegExp(`<title>${status} `));
  }

  const cases: Array<[string, string, number]> = [
    ['400 for a bad request line', 'HELLO THERE\r\n\r\n', 400],
    ['431 for too many header fields', `GET / HTTP/1.1\r\nHost: x\r\n${'X-1: v\r\n'.repeat(10)}\r\n`, 431],
    ['414 for a long target', `GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ['505 for HTTP/2.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    [
      '400 for a malformed chunked body',
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
      400,
    ],
  ];
  for (const [name, request, status] of cases) {
    test(`${name}: Date, Server and the extra headers, logged, then the connection closes`, async (t) => {
      const h = await refusing(t);
      const responses = parseResponses(await rawHttp(h.port, request));
      assert.equal(responses.length, 1);
      assertSiteRefusal(responses[0]!, status);
      await until(() => h.logged.length === 1, 'the access-log entry');
      assert.equal(h.logged[0]!.status, status);
    });
  }

  test('408 for a stalled head: Date, Server and the extra headers, then the connection closes', async (t) => {
    const h = await refusing(t);
    const conn = await RawConnection.open(h.port);
    t.after(() => conn.destroy());
    await conn.write('GET /echo HTTP/1.1\r\nHost: x\r\n');
    assertSiteRefusal(await conn.readResponse(), 408);
    await conn.waitClosed();
    await until(() => h.logged.length === 1, 'the access-log entry');
    assert.equal(h.logged[0]!.status, 408);
  });

  test('a refusal of a request starting HEAD carries the same headers and no content', async (t) => {
    const h = await refusing(t);
    const transcript = await rawHttp(h.port, 'HEAD / HTTP/3.0\r\nHost: x\r\n\r\n');
    const responses = parseResponses(transcript, { methods: ['HEAD'] });
    assert.equal(responses.length, 1);
    assertSiteRefusal(responses[0]!, 505, true);
    assert.ok(Number(responses[0]!.header('content-length')) > 0, 'the length the page would have');
  });
});

describe('HTTP/1.1 channel: a client FIN while its response is pending', () => {
  /** Writes a line every 50 ms until the client leaves (Twisted's "knowing when we're not wanted"). */
  class Ticker extends Resource {
    override isLeaf = true;
    lost: Error | null = null;
    override GET(request: Request) {
      const timer = setInterval(() => request.write('tick\n'), 50);
      request.write('tick\n');
      request.notifyFinish().then(
        () => clearInterval(timer),
        (err: Error) => {
          clearInterval(timer);
          this.lost = err;
        },
      );
      return NOT_DONE_YET;
    }
  }

  /** Never answers until the client leaves (a long poll). */
  class Poll extends Resource {
    override isLeaf = true;
    lost: Error | null = null;
    override GET(request: Request) {
      request.notifyFinish().catch((err: Error) => (this.lost = err));
      return NOT_DONE_YET;
    }
  }

  async function pending(t: TestContext) {
    const root = new Resource();
    const ticker = new Ticker();
    const poll = new Poll();
    root.putChild('ticker', ticker);
    root.putChild('poll', poll);
    root.putChild('hello', new Hello());
    const logged: AccessLogEntry[] = [];
    const accessLog = { log: (e: AccessLogEntry) => void logged.push(e), reopen() {}, close: async () => {} };
    const server = await serveSite(new Site(root, { logError: () => {}, accessLog }));
    const conn = await RawConnection.open(server.port!);
    t.after(async () => {
      conn.destroy();
      await server.close();
    });
    return { ticker, poll, logged, conn };
  }

  test('a streaming response: notifyFinish rejects, the connection closes at once, the log says aborted', async (t) => {
    const { ticker, logged, conn } = await pending(t);
    await conn.write(get('/ticker'));
    await until(() => conn.buffered > 0, 'the first tick');
    conn.end();
    await until(() => ticker.lost !== null, 'notifyFinish rejecting', 2000);
    await conn.waitClosed({ timeoutMs: 2000 });
    await until(() => logged.length === 1, 'the access-log entry');
    assert.equal(logged[0]!.aborted, true);
    assert.equal(logged[0]!.status, 200, 'the status that was sent');
    assert.ok(logged[0]!.bytes > 0);
  });

  test('a response not begun (a long poll): notifyFinish rejects, logged as 499 aborted', async (t) => {
    const { poll, logged, conn } = await pending(t);
    await conn.write(get('/poll'));
    await delay(50);
    conn.end();
    await until(() => poll.lost !== null, 'notifyFinish rejecting', 2000);
    await conn.waitClosed({ timeoutMs: 2000 });
    await until(() => logged.length === 1, 'the access-log entry');
    assert.deepEqual([logged[0]!.status, logged[0]!.aborted], [499, true]);
  });

  test('a FIN after the response was written just closes, and the log line is not an abort', async (t) => {
    const { logged, conn } = await pending(t);
    await conn.write(get('/hello/1'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/1');
    conn.end();
    await conn.waitClosed({ timeoutMs: 2000 });
    assert.deepEqual([logged[0]!.status, logged[0]!.aborted], [200, false]);
  });
});

describe('HTTP/1.1 channel: connection lifetime', () => {
  test('a client that half-closes after requests answered at once still gets every response in full', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(get('/hello/1') + get('/hello/2'));
    conn.end();
    assert.equal((await conn.readResponse()).text, 'hello /hello/1');
    assert.equal((await conn.readResponse()).text, 'hello /hello/2');
    await conn.waitClosed();
  });

  test('an idle kept-alive connection is closed after keepAliveTimeout', async (t) => {
    const h = await start(t, { keepAliveTimeout: 300 });
    const conn = await h.open();
    await conn.write(get('/hello/1'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/1');
    const answered = Date.now();
    assert.equal(await conn.stillOpenAfter(100), true, 'not closed at once');
    await conn.waitClosed({ timeoutMs: 2000 });
    assert.ok(Date.now() - answered >= 250, 'closed by the timeout, not right after the response');
  });

  test('a head still incomplete after headerTimeout is answered 408 and the connection closes', async (t) => {
    const h = await start(t, { headerTimeout: 300 });
    const conn = await h.open();
    const started = Date.now();
    await conn.write('GET /hello HTTP/1.1\r\nHost: x\r\n');
    const r = await conn.readResponse();
    assert.equal(r.status, 408);
    assert.ok(Date.now() - started >= 250, 'not before the timeout');
    assert.deepEqual(connectionTokens(r), ['close']);
    await conn.waitClosed();
  });

  test('a connection that never sends anything is closed after headerTimeout', async (t) => {
    const h = await start(t, { headerTimeout: 300 });
    const conn = await h.open();
    await conn.waitClosed({ timeoutMs: 2500 });
  });

  test('with maxRequestsPerSocket 2 the second response says Connection: close and the server closes', async (t) => {
    const h = await start(t, { maxRequestsPerSocket: 2 });
    const conn = await h.open();
    await conn.write(get('/hello/1'));
    const first = await conn.readResponse();
    assert.ok(!connectionTokens(first).includes('close'));
    await conn.write(get('/hello/2'));
    const second = await conn.readResponse();
    assert.equal(second.text, 'hello /hello/2');
    assert.deepEqual(connectionTokens(second), ['close']);
    await conn.waitClosed();
  });

  test('with maxRequestsPerSocket 2 a third pipelined request is left unanswered', async (t) => {
    const h = await start(t, { maxRequestsPerSocket: 2 });
    const responses = parseResponses(await rawHttp(h.port, get('/hello/1') + get('/hello/2') + get('/hello/3')));
    assert.deepEqual(
      responses.map((r) => r.text),
      ['hello /hello/1', 'hello /hello/2'],
    );
    assert.deepEqual(connectionTokens(responses[1]!), ['close']);
  });

  test('2000 pipelined GETs from a client that does not read are not rendered far ahead, and others are served', async (t) => {
    // maxRequestsPerSocket above the flood, so only backpressure can stop the server.
    const h = await start(t, { maxRequestsPerSocket: 10_000 });
    const flood = await h.open();
    flood.pause();
    const count = 2000;
    await flood.write(Array.from({ length: count }, (_, i) => get(`/big/${i}`)).join(''));
    // Let the server go as far as it will while nothing is read.
    let seen = -1;
    while (seen !== h.big.renders) {
      seen = h.big.renders;
      await delay(200);
    }
    // Socket buffers hold a few hundred 16 KiB responses; a server that keeps parsing past its
    // backed-up output holds the rest in memory.
    assert.ok(
      h.big.renders <= count / 2,
      `the server rendered ${h.big.renders} of ${count} responses (16 KiB each) for a client that read none`,
    );

    const other = await h.open();
    const asked = Date.now();
    await other.write(get('/hello/other'));
    assert.equal((await other.readResponse({ timeoutMs: 1000 })).text, 'hello /hello/other');
    assert.ok(Date.now() - asked < 1000, 'another client is served promptly');

    flood.resume();
    let received = 0;
    for (; received < count; received++) {
      let r: RawResponse;
      try {
        r = await flood.readResponse();
      } catch (err) {
        if (err instanceof ConnectionClosedError) break;
        throw err;
      }
      assert.equal(r.status, 200);
      assert.ok(r.text.startsWith(`${received}\n`), `response ${received} is in order`);
    }
    if (received < count) assert.ok(flood.isClosed, `only ${received} responses, yet the connection is open`);
  });

  test('a client that stops reading a large response is cut off after writeIdleTimeout, and the resource hears it', async (t) => {
    const h = await start(t, { writeIdleTimeout: 300 });
    const stalled = await h.open();
    stalled.pause();
    await stalled.write(get('/endless'));
    await until(() => h.endless.lost !== null, 'the stalled response to be dropped', 3000);
    assert.match(h.endless.lost!.message, /Connection lost/);
    // The socket buffers filled, then nothing moved: far less than the endless body went out.
    assert.ok(h.endless.written < 64 * 1024 * 1024, `${h.endless.written} bytes written`);
    // Reading again, the client finds the connection ended (the close waits behind unread bytes).
    stalled.resume();
    await stalled.waitClosed({ timeoutMs: 1000 });
    const other = await h.open();
    await other.write(get('/hello/other'));
    assert.equal((await other.readResponse()).text, 'hello /hello/other');
  });

  test('a request body that stops arriving is cut off after bodyIdleTimeout', async (t) => {
    const h = await start(t, { bodyIdleTimeout: 300 });
    const conn = await h.open();
    await conn.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part');
    const started = Date.now();
    await conn.waitClosed({ timeoutMs: 2000 });
    assert.ok(Date.now() - started >= 250, 'not before the idle timeout');
  });

  test('a request body trickling at 2 B/s is answered 408 and cut once the 10 s grace is over', async (t) => {
    // Default limits: bodyMinRate 500 B/s, bodyIdleTimeout 30 s; each byte is progress, so only the rate can stop it.
    const h = await start(t);
    const conn = await h.open();
    await conn.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
    const started = Date.now();
    const trickle = setInterval(() => {
      if (!conn.isClosed) void conn.write('a');
    }, 500);
    t.after(() => clearInterval(trickle));
    const r = await conn.readResponse({ timeoutMs: 15_000 });
    const cut = Date.now() - started;
    clearInterval(trickle);
    assert.equal(r.status, 408);
    assert.deepEqual(connectionTokens(r), ['close']);
    assert.ok(cut >= 9_500 && cut < 15_000, `cut after ${cut} ms`);
    await conn.waitClosed({ timeoutMs: 3000 });
    assert.equal(h.echo.renders, 1, 'the resource was reached, and its body read failed');
  });

  test('a request body that stops arriving is answered 408 before the connection closes', async (t) => {
    const h = await start(t, { bodyIdleTimeout: 300 });
    const conn = await h.open();
    await conn.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part');
    const r = await conn.readResponse();
    assert.equal(r.status, 408);
    await conn.waitClosed();
  });

  test('a malformed request pipelined after a good one is answered 400 after the first answer', async (t) => {
    const h = await start(t);
    const responses = parseResponses(await rawHttp(h.port, `${get('/hello/1')}HELLO THERE\r\n\r\n${get('/hello/2')}`));
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 400],
    );
    assert.equal(responses[0]!.text, 'hello /hello/1');
    assert.deepEqual(connectionTokens(responses[1]!), ['close']);
  });

  test('a bad request sent later on a kept-alive connection is answered 400, as on a fresh one', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(get('/hello/1'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/1');
    await conn.write('GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n');
    const r = await conn.readResponse();
    assert.equal(r.status, 400);
    await conn.waitClosed();
  });

  test('a second head incomplete after headerTimeout is answered 408, timed from its first byte', async (t) => {
    const h = await start(t, { headerTimeout: 600, keepAliveTimeout: 5000 });
    const conn = await h.open();
    await conn.write(get('/hello/1'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/1');
    await delay(400);
    const begun = Date.now();
    await conn.write('GET /hello/2 HTTP/1.1\r\nHost: x\r\n');
    const r = await conn.readResponse();
    assert.equal(r.status, 408);
    assert.ok(Date.now() - begun >= 500, `answered ${Date.now() - begun} ms after the head began`);
    assert.deepEqual(connectionTokens(r), ['close']);
    await conn.waitClosed();
  });

  test('an idle kept-alive connection with no byte of a next request closes silently', async (t) => {
    const h = await start(t, { keepAliveTimeout: 300, headerTimeout: 300 });
    const conn = await h.open();
    await conn.write(get('/hello/1'));
    assert.equal((await conn.readResponse()).text, 'hello /hello/1');
    assert.equal(await conn.readUntilClose({ timeoutMs: 2000 }), '', 'no 408 for a request never begun');
  });

  test('a request that aborts after its response is done cannot drop the next exchange on the connection', async (t) => {
    const h = await start(t);
    const conn = await h.open();
    await conn.write(get('/late-abort'));
    assert.equal((await conn.readResponse()).text, 'done');
    // The abort lands while /slow is being answered on the same connection.
    await conn.write(get('/slow'));
    const r = await conn.readResponse();
    assert.equal(r.text, 'first\nlast\n');
    assert.ok(h.lateAborts() > 0, 'the late abort happened');
  });

  test('a graceful close lets a streaming response finish and closes idle kept-alive connections', async (t) => {
    const h = await start(t);
    const streaming = await h.open();
    await streaming.write(get('/slow'));
    await until(() => streaming.buffered > 0, 'the slow response to start');
    const idle = await h.open();
    await idle.write(get('/hello/idle'));
    assert.equal((await idle.readResponse()).text, 'hello /hello/idle');

    const closing = h.close();
    // Well before the 1 s grace period ends, when every connection left is dropped.
    await idle.waitClosed({ timeoutMs: 500 });
    const r = await streaming.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.text, 'first\nlast\n');
    await streaming.waitClosed({ timeoutMs: 1000 });
    await closing;
    await assert.rejects(RawConnection.open(h.port), { code: 'ECONNREFUSED' });
  });
});
