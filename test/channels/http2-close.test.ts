// HTTP/2 connections the client closes end at once (SECURITY.md §3.3): they neither linger nor keep
// counting against their address's connection cap.
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { test } from 'node:test';
import { Resource } from '../../src/resource.js';
import { rawH2, withH2Server } from '../helpers/h2.js';

class Hello extends Resource {
  override isLeaf = true;
  override GET() {
    return 'hello';
  }
}

test('HTTP/2: 300 connections opened and closed by the client leave their address able to connect', async (t) => {
  const root = new Resource();
  root.putChild('hello', new Hello());
  await withH2Server(t, root, {}, async (server) => {
    const from = '127.0.0.2';
    // Each client sends its preface and SETTINGS, then a FIN (no GOAWAY), as a dropped client would.
    for (let i = 0; i < 300; i++) {
      const socket = await rawH2(server, from).catch((err: Error) => {
        throw new Error(`connection ${i + 1} from ${from} was refused: ${err.message}`);
      });
      socket.end();
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        // Before the fix the server never answers the FIN; do not wait for it.
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 30).unref();
      });
    }
    const session = connect(server.url, { ca: server.ca, localAddress: from } as Parameters<typeof connect>[1]);
    session.on('error', () => {});
    const status = await new Promise<string>((resolve) => {
      const stream = session.request({ ':path': '/hello' });
      stream.on('response', (h) => resolve(String(h[':status'])));
      stream.on('error', (e: Error) => resolve(`error ${e.message}`));
      stream.on('close', () => resolve(`closed ${stream.rstCode}`));
      setTimeout(() => resolve('no answer in 5 s'), 5000).unref();
      stream.resume();
      stream.end();
    });
    session.destroy();
    assert.equal(status, '200');
  });
});
