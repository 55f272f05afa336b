// Trailer fields end to end (RFC 9110 §6.5): request trailers shown to resources and mounted apps,
// response trailers from `request.setTrailer()` and `res.addTrailers()` sent on HTTP/1.1 (chunked)
// and HTTP/2 (a trailing HEADERS frame), gRPC-style trailers over h2, forbidden fields refused, and
// channels without trailers (HTTP/1.0, the Fetch channel) dropping them. Real sockets, with curl,
// nghttp and node's own clients.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { connect as h2Connect, type IncomingHttpHeaders } from 'node:http2';
import { connect } from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { NodeAppResource } from '../../src/app/node-app.js';
import { NOT_DONE_YET, type Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/index.js';
import { encodeScgiHeader } from '../../src/channels/scgi/netstring.js';
import { listenScgi } from '../../src/channels/scgi/server.js';
import { cgiParams, parseCgiReply } from '../helpers/fastcgi-client.js';
import { withH2Server, type H2Server } from '../helpers/h2.js';
import { needPeer } from '../helpers/peers.js';
import { listenLoopback, serveSite } from '../helpers/server.js';
import { toNodeListener } from '../../src/channels/node-listener.js';

const run = promisify(execFile);

/** Declares its trailer before the body (returned whole): `X-Checksum: abc`. */
class Declared extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    request.setTrailer('X-Checksum', 'abc');
    return 'hello';
  }
}

/** Streams a body, then sets a trailer it never declared. */
class Late extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    request.write('part one, ');
    setImmediate(() => {
      request.write('part two');
      request.setTrailer('X-Late', 'yes');
      request.finish();
    });
    return NOT_DONE_YET;
  }
}

/** Reads the body, answers with it and the trailers the client sent. */
class EchoTrailers extends Resource {
  override isLeaf = true;
  override async POST(request: Request) {
    const before = request.trailers.raw.length;
    const body = await request.readBody();
    return request.json({
      body: body.toString(),
      before,
      trailers: request.trailers.raw,
      sum: request.trailers.get('x-sum') ?? null,
    });
  }
}

/** Tries each forbidden field and reports the errors. */
class Forbidden extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    const refused: string[] = [];
    for (const name of [
      'Content-Length',
      'Transfer-Encoding',
      'Host',
      'Authorization',
      'Set-Cookie',
      'Content-Type',
      'Cache-Control',
      'Trailer',
    ]) {
      try {
        request.setTrailer(name, '1');
      } catch (err) {
        refused.push((err as Error).message);
      }
    }
    let badValue = '';
    try {
      request.setTrailer('X-Ok', 'a\r\nInjected: 1');
    } catch (err) {
      badValue = (err as Error).message;
    }
    request.setTrailer('Content-Digest', 'sha-256=:x:');
    return request.json({ refused, badValue, kept: request.responseTrailerPairs() });
  }
}

/** A gRPC-style answer: the status goes in the trailers, after a streamed message. */
class Grpc extends Resource {
  override isLeaf = true;
  override async POST(request: Request) {
    await request.readBody();
    request.setHeader('Content-Type', 'application/grpc');
    request.write(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
    setImmediate(() => {
      request.setTrailer('grpc-status', '0');
      request.setTrailer('grpc-message', 'OK');
      request.finish();
    });
    return NOT_DONE_YET;
  }
}

/** gRPC's trailers-only answer: no message, the error in the trailers; a trailer after finish() is an Error. */
class GrpcError extends Resource {
  override isLeaf = true;
  lateError = '';
  override POST(request: Request) {
    request.setHeader('Content-Type', 'application/grpc');
    request.setTrailer('grpc-status', '5');
    request.setTrailer('grpc-message', 'not found');
    request.writeWhole('');
    try {
      request.setTrailer('x-too-late', '1');
    } catch (err) {
      this.lateError = (err as Error).message;
    }
    return NOT_DONE_YET;
  }
}
const grpcError = new GrpcError();

/** A (req, res) app: echoes `req.trailers`, answers with `res.addTrailers`. */
const nodeApp = new NodeAppResource((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-App-Sum' });
    res.write(`body=${Buffer.concat(chunks).toString()} trailers=${JSON.stringify(req.trailers)}`);
    res.addTrailers({ 'X-App-Sum': '42', 'Set-Cookie': 'no=1' });
    res.end();
  });
});

function tree(): Resource {
  const root = new Resource();
  root.putChild('declared', new Declared());
  root.putChild('late', new Late());
  root.putChild('echo', new EchoTrailers());
  root.putChild('forbidden', new Forbidden());
  root.putChild('grpc', new Grpc());
  root.putChild('grpc-error', grpcError);
  root.putChild('accepts', new Resource({ GET: (request) => String(request.acceptsTrailers) }));
  root.putChild('app', nodeApp);
  return root;
}

/** Sends raw bytes, collects the answer until the server closes. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let seen = '';
    socket.on('data', (d) => (seen += d.toString('latin1')));
    socket.on('close', () => resolve(seen));
    socket.on('error', reject);
  });
}

/** A GET or POST with node:http, returning body and trailers. */
function nodeGet(
  port: number,
  path: string,
  options: { method?: string; trailers?: Record<string, string>; body?: string } = {},
): Promise<{
  status: number;
  headers: Record<string, unknown>;
  body: string;
  trailers: Record<string, string | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.trailers ? { Trailer: Object.keys(options.trailers).join(', ') } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, trailers: res.trailers }));
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) {
      req.setHeader('Transfer-Encoding', 'chunked');
      req.write(options.body);
      if (options.trailers) req.addTrailers(options.trailers);
    }
    req.end();
  });
}

test('HTTP/1.1: trailers declared before the body go out on a chunked answer (node:http, curl, raw)', async (t) => {
  const server = await serveSite(new Site(tree()));
  try {
    const got = await nodeGet(server.port!, '/declared');
    assert.equal(got.body, 'hello');
    assert.equal(got.headers.trailer, 'X-Checksum');
    assert.equal(got.headers['content-length'], undefined, 'a declared trailer makes the body chunked');
    assert.deepEqual(got.trailers, { 'x-checksum': 'abc' });

    const wire = await raw(server.port!, 'GET /declared HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(wire, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.ok(wire.endsWith('\r\n0\r\nX-Checksum: abc\r\n\r\n'), wire);

    const asked = await raw(
      server.port!,
      'GET /accepts HTTP/1.1\r\nHost: x\r\nTE: gzip, trailers\r\nConnection: close\r\n\r\n',
    );
    assert.ok(asked.endsWith('\r\n\r\ntrue'), asked);
    assert.equal((await nodeGet(server.port!, '/accepts')).body, 'false');

    const curl = needPeer(t, 'curl');
    if (curl) {
      // curl hands trailers to its header output after the body.
      const { stdout } = await run(curl, [
        '-sS',
        '-D',
        '-',
        '-o',
        '/dev/null',
        '-H',
        'TE: trailers',
        `${server.base}/declared`,
      ]);
      assert.match(stdout, /^X-Checksum: abc\r?$/m);
    }
  } finally {
    await server.close();
  }
});

test('HTTP/1.1: an empty answer with declared trailers is chunked and carries them', async () => {
  const server = await serveSite(new Site(tree()));
  try {
    const wire = await raw(
      server.port!,
      'POST /grpc-error HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    assert.match(wire, /\r\nTrailer: grpc-status, grpc-message\r\n/);
    assert.doesNotMatch(wire, /Content-Length/i);
    assert.ok(wire.endsWith('\r\n\r\n0\r\ngrpc-status: 5\r\ngrpc-message: not found\r\n\r\n'), wire);
  } finally {
    await server.close();
  }
});

test('HTTP/1.1: a trailer set after the body began still goes out; HTTP/1.0 (no chunking) drops it', async () => {
  const server = await serveSite(new Site(tree()));
  try {
    const got = await nodeGet(server.port!, '/late');
    assert.equal(got.body, 'part one, part two');
    assert.deepEqual(got.trailers, { 'x-late': 'yes' });

    const old = await raw(server.port!, 'GET /late HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.match(old, /^HTTP\/1\.1 200/);
    assert.ok(old.endsWith('\r\n\r\npart one, part two'), old);
    assert.doesNotMatch(old, /X-Late/);
    const declared = await raw(server.port!, 'GET /declared HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.ok(declared.endsWith('\r\n\r\nhello'), declared);
  } finally {
    await server.close();
  }
});

test('HTTP/1.1: request trailers reach `request.trailers` once the body is read, forbidden ones left out', async () => {
  const server = await serveSite(new Site(tree()));
  try {
    const wire = await raw(
      server.port!,
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: close\r\n\r\n' +
        '5\r\nhello\r\n0\r\nX-Sum:  5 \r\nAuthorization: Basic eDp5\r\nContent-Type: text/evil\r\nX-Two: a\r\nX-Two: b\r\n\r\n',
    );
    const json = JSON.parse(wire.slice(wire.indexOf('\r\n\r\n') + 4));
    assert.equal(json.body, 'hello');
    assert.equal(json.before, 0, 'nothing before the body is read');
    assert.deepEqual(json.trailers, [
      ['X-Sum', '5'],
      ['X-Two', 'a'],
      ['X-Two', 'b'],
    ]);
    assert.equal(json.sum, '5');

    const viaNode = await nodeGet(server.port!, '/echo', { method: 'POST', body: 'abc', trailers: { 'X-Sum': '3' } });
    assert.deepEqual(JSON.parse(viaNode.body).trailers, [['X-Sum', '3']]);
  } finally {
    await server.close();
  }
});

test('forbidden trailer fields and control characters are refused with one-line TypeErrors', async () => {
  const server = await serveSite(new Site(tree()));
  try {
    const got = await nodeGet(server.port!, '/forbidden');
    const json = JSON.parse(got.body);
    assert.equal(json.refused.length, 8, json.refused.join('\n'));
    for (const message of json.refused) {
      assert.match(message, /cannot be sent as a trailer \(RFC 9110 §6\.5\.1\): set it as a header before the body$/);
      assert.doesNotMatch(message, /\n/);
    }
    assert.match(json.badValue, /^Invalid value for trailer X-Ok: control characters/);
    assert.deepEqual(json.kept, [['Content-Digest', 'sha-256=:x:']]);
    assert.deepEqual(got.trailers, { 'content-digest': 'sha-256=:x:' });
  } finally {
    await server.close();
  }
});

test('NodeAppResource over HTTP/1.1: `req.trailers` filled, `res.addTrailers` sent, a forbidden one dropped and logged', async () => {
  const errors: string[] = [];
  const server = await serveSite(new Site(tree(), { logError: (m) => void errors.push(m) }));
  try {
    const got = await nodeGet(server.port!, '/app/', { method: 'POST', body: 'xyz', trailers: { 'X-Client': 'c1' } });
    assert.equal(got.body, 'body=xyz trailers={"x-client":"c1"}');
    assert.equal(got.headers.trailer, 'X-App-Sum');
    assert.deepEqual(got.trailers, { 'x-app-sum': '42' });
    assert.ok(
      errors.some((e) => e.includes('Set-Cookie') && e.includes('dropped')),
      errors.join('\n'),
    );
  } finally {
    await server.close();
  }
});

/** One request over a node:http2 client; trailers sent with the body when given. */
async function h2Request(
  server: H2Server,
  headers: Record<string, string>,
  body?: string,
  trailers?: Record<string, string>,
): Promise<{ headers: IncomingHttpHeaders; body: string; trailers: IncomingHttpHeaders | null }> {
  const session = h2Connect(server.url, { ca: server.ca });
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request(headers, {
        endStream: body === undefined,
        waitForTrailers: trailers !== undefined,
      });
      if (trailers) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      let head: IncomingHttpHeaders = {};
      let got: IncomingHttpHeaders | null = null;
      let text = '';
      stream.on('response', (h) => (head = h));
      stream.on('trailers', (h) => (got = h));
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (text += d));
      stream.on('end', () => resolve({ headers: head, body: text, trailers: got }));
      stream.on('error', reject);
      if (body !== undefined) stream.end(body);
    });
  } finally {
    session.close();
  }
}

test('HTTP/2: response trailers in a trailing HEADERS frame, request trailers shown, node app both ways', async (t) => {
  await withH2Server(t, tree(), {}, async (server) => {
    const declared = await h2Request(server, { ':path': '/declared' });
    assert.equal(declared.body, 'hello');
    assert.equal(declared.trailers?.['x-checksum'], 'abc');

    // Not declared: only a client that said `TE: trailers` gets a trailer set late.
    const late = await h2Request(server, { ':path': '/late', te: 'trailers' });
    assert.equal(late.body, 'part one, part two');
    assert.equal(late.trailers?.['x-late'], 'yes');
    const lateDropped = await h2Request(server, { ':path': '/late' });
    assert.equal(lateDropped.body, 'part one, part two');
    assert.equal(lateDropped.trailers?.['x-late'], undefined);

    const echo = await h2Request(server, { ':path': '/echo', ':method': 'POST' }, 'hello', {
      'x-sum': '5',
      authorization: 'Basic eDp5',
    });
    const json = JSON.parse(echo.body);
    assert.equal(json.body, 'hello');
    assert.deepEqual(json.trailers, [['x-sum', '5']]);

    const app = await h2Request(server, { ':path': '/app/', ':method': 'POST' }, 'xyz', { 'x-client': 'c2' });
    assert.equal(app.body, 'body=xyz trailers={"x-client":"c2"}');
    assert.equal(app.trailers?.['x-app-sum'], '42');
    assert.equal(app.trailers?.['set-cookie'], undefined);
  });
});

test('HTTP/2: a gRPC-style call gets grpc-status in the trailers (node:http2 client and nghttp)', async (t) => {
  await withH2Server(t, tree(), {}, async (server) => {
    const message = Buffer.from([0, 0, 0, 0, 0]).toString('latin1');
    const call = await h2Request(
      server,
      { ':path': '/grpc', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' },
      message,
    );
    assert.equal(call.headers['content-type'], 'application/grpc');
    assert.equal(call.headers[':status'], 200);
    assert.equal(call.trailers?.['grpc-status'], '0');
    assert.equal(call.trailers?.['grpc-message'], 'OK');

    const failed = await h2Request(
      server,
      { ':path': '/grpc-error', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' },
      '',
    );
    assert.equal(failed.body, '');
    assert.equal(failed.trailers?.['grpc-status'], '5');
    assert.equal(failed.trailers?.['grpc-message'], 'not found');
    assert.match(grpcError.lateError, /^setTrailer\("x-too-late"\) after finish\(\)/);

    const nghttp = needPeer(t, 'nghttp');
    if (!nghttp) return;
    // nghttp -v prints every frame: the trailing HEADERS frame ends the stream after the DATA.
    const { stdout } = await run(nghttp, ['-v', '-n', '-H', 'te: trailers', `${server.url}/declared`]);
    const afterData = stdout.slice(stdout.lastIndexOf('recv DATA frame'));
    assert.match(afterData, /recv \(stream_id=\d+\) x-checksum: abc/);
    assert.match(afterData, /recv HEADERS frame <length=\d+, flags=0x05/);
  });
});

test('the Fetch channel (site.fetch) has no trailers: the body arrives whole without them', async () => {
  const site = new Site(tree());
  const res = await site.fetch(new globalThis.Request('http://x/late'));
  assert.equal(await res.text(), 'part one, part two');
  const declared = await site.fetch(new globalThis.Request('http://x/declared'));
  assert.equal(await declared.text(), 'hello');
});

test('a gateway (SCGI) cannot carry trailers: the answer is whole, without them', async () => {
  const listener = await listenScgi(new Site(tree()), { type: 'tcp', port: 0, interface: '127.0.0.1' });
  try {
    for (const path of ['/late', '/declared']) {
      const wire = await new Promise<Buffer>((resolve, reject) => {
        const socket = connect(listener.port!, '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('close', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
        socket.write(
          encodeScgiHeader([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...Object.entries(cgiParams('GET', path))]),
        );
      });
      const reply = parseCgiReply(wire);
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), path === '/late' ? 'part one, part two' : 'hello');
      assert.doesNotMatch(wire.toString('latin1'), /X-Late|abc\r\n$/);
    }
  } finally {
    await listener.close(100);
  }
});

test('toNodeListener(site) on a node:http server: request trailers shown, response trailers sent on chunked answers', async () => {
  const server = await listenLoopback(createServer(toNodeListener(new Site(tree()))));
  try {
    const late = await nodeGet(server.port, '/late');
    assert.equal(late.body, 'part one, part two');
    assert.deepEqual(late.trailers, { 'x-late': 'yes' });
    const echo = await nodeGet(server.port, '/echo', {
      method: 'POST',
      body: 'abc',
      trailers: { 'X-Sum': '3', Cookie: 'a=b' },
    });
    assert.deepEqual(JSON.parse(echo.body).trailers, [['X-Sum', '3']]);
  } finally {
    await server.close();
  }
});
