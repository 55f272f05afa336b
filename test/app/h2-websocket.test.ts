// WebSockets over HTTP/2 (RFC 8441 extended CONNECT) to a mounted `ws` app: the server announces
// SETTINGS_ENABLE_CONNECT_PROTOCOL, the stream is answered 200 and carries WebSocket frames both
// ways; a resource that takes no WebSocket answers the CONNECT with 405.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';
import { WebSocketServer } from 'ws';
import { NodeAppResource } from '../../src/app/node-app.js';
import { Resource } from '../../src/resource.js';
import { withH2Server } from '../helpers/h2.js';

/** A client WebSocket frame (masked, RFC 6455 §5.2) of a short text or close payload. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

/** The first server frame (unmasked, short) in `data`: opcode and payload. */
function serverFrame(data: Buffer): { opcode: number; payload: Buffer } | null {
  if (data.length < 2) return null;
  const length = data[1]! & 0x7f;
  if (data.length < 2 + length) return null;
  return { opcode: data[0]! & 0x0f, payload: data.subarray(2, 2 + length) };
}

function settled(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) =>
    session.remoteSettings.enableConnectProtocol ? resolve() : session.once('remoteSettings', () => resolve()),
  );
}

function open(
  session: ClientHttp2Session,
  path: string,
  server: { port: number },
): { stream: ClientHttp2Stream; response: Promise<IncomingHttpHeaders> } {
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': path,
    ':authority': `localhost:${server.port}`,
    'sec-websocket-version': '13',
    origin: `https://localhost:${server.port}`,
  });
  return {
    stream,
    response: new Promise((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    }),
  };
}

test('HTTP/2: a ws app mounted with NodeAppResource takes an RFC 8441 WebSocket, frames go both ways', async (t) => {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const seen: string[] = [];
  wss.on('connection', (socket, req) => {
    seen.push(`${req.url} ${req.headers.host}`);
    socket.on('message', (data) => socket.send(`echo: ${data.toString()}`));
  });
  const root = new Resource();
  root.putChild('ws', new NodeAppResource(http));
  root.putChild('plain', new Resource({ GET: () => 'plain' }));
  await withH2Server(t, root, {}, async (server) => {
    const session = connect(server.url, { ca: server.ca });
    try {
      await settled(session);
      assert.equal(session.remoteSettings.enableConnectProtocol, true, 'the server announces extended CONNECT');
      const { stream, response } = open(session, '/ws/chat?room=1', server);
      const head = await response;
      assert.equal(head[':status'], 200);
      assert.equal(head['sec-websocket-accept'], undefined, 'no HTTP/1.1 handshake fields on HTTP/2');
      let data = Buffer.alloc(0);
      const frame = new Promise<{ opcode: number; payload: Buffer }>((resolve) => {
        stream.on('data', (chunk: Buffer) => {
          data = Buffer.concat([data, chunk]);
          const f = serverFrame(data);
          if (f) resolve(f);
        });
      });
      stream.write(clientFrame(0x1, Buffer.from('hello over h2')));
      const reply = await frame;
      assert.equal(reply.opcode, 0x1);
      assert.equal(reply.payload.toString(), 'echo: hello over h2');
      assert.deepEqual(seen, [`/chat?room=1 localhost:${server.port}`]);
      // A close frame: the app answers with its own and ends the stream; the client ends its side.
      const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
      stream.once('end', () => stream.end());
      stream.write(clientFrame(0x8, Buffer.from([0x03, 0xe8])));
      await closed;
      assert.equal(serverFrame(data.subarray(2 + reply.payload.length))?.opcode, 0x8, 'the app answered the close');

      const refused = open(session, '/plain', server);
      assert.equal((await refused.response)[':status'], 405);
      refused.stream.destroy();
    } finally {
      session.close();
      wss.close();
    }
  });
});
