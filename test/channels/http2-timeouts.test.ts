// HTTP/2 deadlines (SECURITY.md §3.3, §4.2): slow request bodies, unfinished header blocks and
// connections that never send a request, each against a real TLS listener.
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { test } from 'node:test';
import { NOT_DONE_YET, type Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { closedWithin, h2Frame, H2, HPACK_GET_ROOT, hpackLiteral, rawH2, withH2Server } from '../helpers/h2.js';

class Upload extends Resource {
  override isLeaf = true;
  override async POST(request: Request) {
    const body = await request.readBody();
    return `got ${body.length}`;
  }
}

class Never extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    request.notifyFinish().catch(() => {});
    return NOT_DONE_YET;
  }
}

function uploadRoot(): Resource {
  const root = new Resource();
  root.putChild('upload', new Upload());
  return root;
}

/** How a stream ended: a status, or the reset code it was closed with. */
function streamOutcome(stream: import('node:http2').ClientHttp2Stream): Promise<string> {
  return new Promise((resolve) => {
    stream.on('response', (h) => resolve(`status ${h[':status']}`));
    stream.on('error', () => {});
    stream.on('close', () => resolve(`reset ${stream.rstCode}`));
  });
}

test('HTTP/2: a request body at 2 B/s is cut within 15 s (minimum rate after the 10 s grace)', async (t) => {
  await withH2Server(t, uploadRoot(), {}, async ({ url, ca }) => {
    const session = connect(url, { ca });
    session.on('error', () => {});
    const started = Date.now();
    const stream = session.request({ ':method': 'POST', ':path': '/upload' });
    const outcome = streamOutcome(stream);
    const drip = setInterval(() => {
      if (!stream.destroyed) stream.write('x');
    }, 500);
    const result = await Promise.race([outcome, new Promise<string>((r) => setTimeout(() => r('still open'), 15_000))]);
    clearInterval(drip);
    const elapsed = Date.now() - started;
    session.destroy();
    assert.notEqual(result, 'still open', 'a 2 B/s body was still being accepted after 15 s');
    assert.equal(result, 'reset 8', 'the stream is reset with CANCEL');
    assert.ok(elapsed >= 9_000, `cut after ${elapsed} ms, before the 10 s grace`);
  });
});

test('HTTP/2: a request body that stops arriving is cut after bodyIdleTimeout', async (t) => {
  await withH2Server(t, uploadRoot(), { bodyIdleTimeout: 1500 }, async ({ url, ca }) => {
    const session = connect(url, { ca });
    session.on('error', () => {});
    const stream = session.request({ ':method': 'POST', ':path': '/upload' });
    const outcome = streamOutcome(stream);
    stream.write('x');
    const result = await Promise.race([outcome, new Promise<string>((r) => setTimeout(() => r('still open'), 5_000))]);
    session.destroy();
    assert.notEqual(result, 'still open', 'an idle body was still open after 5 s');
    assert.doesNotMatch(result, /status 200/);
  });
});

// nghttp2 closes a connection on its ninth CONTINUATION frame; a frame a second stays under that.
test('HTTP/2: a header block left unfinished (a CONTINUATION a second) is closed by the header deadline', async (t) => {
  await withH2Server(t, new Resource(), { headerTimeout: 1500 }, async (server) => {
    const socket = await rawH2(server);
    socket.write(h2Frame(H2.HEADERS, H2.END_STREAM, 1, HPACK_GET_ROOT));
    let n = 0;
    const feed = setInterval(() => {
      if (!socket.destroyed) socket.write(h2Frame(H2.CONTINUATION, 0, 1, hpackLiteral(`x-${n++}`, 'v')));
    }, 1000);
    const closedAfter = await closedWithin(socket, 6_000);
    clearInterval(feed);
    socket.destroy();
    assert.notEqual(closedAfter, null, 'an unfinished header block kept its connection open for 6 s');
  });
});

test('HTTP/2: an unfinished header block beside an open stream is still closed by the header deadline', async (t) => {
  const root = new Resource();
  root.putChild('never', new Never());
  await withH2Server(t, root, { headerTimeout: 1500 }, async (server) => {
    const socket = await rawH2(server);
    // Stream 1: a request whose answer never ends, so the connection is never idle.
    const never = Buffer.concat([Buffer.from([0x82, 0x87]), hpackLiteral(':path', '/never')]);
    socket.write(h2Frame(H2.HEADERS, H2.END_STREAM | H2.END_HEADERS, 1, never));
    // Stream 3: a header block that never ends.
    socket.write(h2Frame(H2.HEADERS, H2.END_STREAM, 3, HPACK_GET_ROOT));
    let n = 0;
    const feed = setInterval(() => {
      if (!socket.destroyed) socket.write(h2Frame(H2.CONTINUATION, 0, 3, hpackLiteral(`x-${n++}`, 'v')));
    }, 1000);
    const closedAfter = await closedWithin(socket, 6_000);
    clearInterval(feed);
    socket.destroy();
    assert.notEqual(closedAfter, null, 'an unfinished header block kept its connection open for 6 s');
  });
});

test('HTTP/2: a connection that never sends a request is closed after headerTimeout', async (t) => {
  await withH2Server(t, new Resource(), { headerTimeout: 1500 }, async (server) => {
    const socket = await rawH2(server);
    const closedAfter = await closedWithin(socket, 6_000);
    socket.destroy();
    assert.notEqual(closedAfter, null, 'a connection with no request stayed open for 6 s');
    assert.ok(closedAfter! >= 1000, `closed after ${closedAfter} ms, before headerTimeout`);
  });
});

test('HTTP/2: a connection idle after its requests is closed after keepAliveTimeout', async (t) => {
  const root = new Resource();
  root.putChild('upload', new Upload());
  await withH2Server(t, root, { keepAliveTimeout: 1000 }, async ({ url, ca }) => {
    const session = connect(url, { ca });
    session.on('error', () => {});
    const stream = session.request({ ':method': 'POST', ':path': '/upload' });
    stream.resume();
    stream.end('abc');
    const status = await streamOutcome(stream);
    assert.equal(status, 'status 200');
    const started = Date.now();
    const closed = await Promise.race([
      new Promise<number>((r) => session.once('close', () => r(Date.now() - started))),
      new Promise<null>((r) => setTimeout(() => r(null), 5_000)),
    ]);
    session.destroy();
    assert.notEqual(closed, null, 'an idle HTTP/2 connection stayed open for 5 s');
  });
});
