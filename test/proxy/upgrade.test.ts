// WebSocket pass-through of the reverse proxy over the TLS listener, and the access-log line of a tunnel.
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { test, type TestContext } from 'node:test';
import type { Duplex } from 'node:stream';
import { listenHttp } from '../../src/channels/http.js';
import type { AccessLog, AccessLogEntry } from '../../src/access-log.js';
import { ReverseProxyResource } from '../../src/proxy/reverse-proxy.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { needPeer } from '../helpers/peers.js';
import { listenLoopback, serveSite, tempDir } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

/** A backend that accepts WebSocket upgrades on any path and echoes what it receives, prefixed. */
async function echoBackend(): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((_q, s) => s.end('no upgrade'));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Path: ${req.url}\r\n\r\n`,
    );
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  return listenLoopback(server);
}

const UPGRADE =
  'GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** Sends the upgrade on `sock`, waits for the 101, sends `ping`, returns all it read once the echo came. */
async function pingThroughTunnel(sock: Socket): Promise<string> {
  let got = '';
  let closed = false;
  let wake: () => void = () => {};
  sock.on('data', (d: Buffer) => {
    got += d.toString('latin1');
    wake();
  });
  sock.on('close', () => {
    closed = true;
    wake();
  });
  const until = async (done: () => boolean) => {
    while (!done()) {
      if (closed) throw new Error(`the connection closed; read ${JSON.stringify(got)}`);
      await new Promise<void>((r) => (wake = r));
    }
  };
  sock.write(UPGRADE);
  await until(() => got.includes('\r\n\r\n'));
  sock.write('ping');
  await until(() => got.includes('echo:ping'));
  return got;
}

class MemoryLog implements AccessLog {
  entries: AccessLogEntry[] = [];
  #waiters: Array<() => void> = [];
  log(entry: AccessLogEntry): void {
    this.entries.push(entry);
    for (const w of this.#waiters.splice(0)) w();
  }
  reopen(): void {}
  async close(): Promise<void> {}
  async next(): Promise<AccessLogEntry> {
    const n = this.entries.length;
    while (this.entries.length === n) await new Promise<void>((r) => this.#waiters.push(r));
    return this.entries[n]!;
  }
}

test('a WebSocket upgrade passes through the reverse proxy when the client connects over TLS', async (t: TestContext) => {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const dir = tempDir();
  const tls = makeCertificate(openssl, dir.path);
  const be = await echoBackend();
  const root = new Resource();
  const p = new ReverseProxyResource('127.0.0.1', be.port, '');
  root.putChild('ws', p);
  const listener = await listenHttp(new Site(root, { logError: () => {} }), {
    type: 'ssl',
    port: 0,
    interface: '127.0.0.1',
    privateKey: tls.key,
    certKey: tls.cert,
  });
  try {
    const sock = tlsConnect({
      host: '127.0.0.1',
      port: listener.port!,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    const got = await pingThroughTunnel(sock);
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.match(got, /X-Path: \/chat\r\n/);
    assert.ok(got.includes('echo:ping'));
    sock.destroy();
  } finally {
    p.close();
    await listener.close(1000);
    await be.close();
    dir.cleanup();
  }
});

test('a proxied upgrade is logged once, when the tunnel closes, with status 101 and the bytes relayed', async () => {
  const be = await echoBackend();
  const root = new Resource();
  const p = new ReverseProxyResource('127.0.0.1', be.port, '');
  root.putChild('ws', p);
  const log = new MemoryLog();
  const front = await serveSite(new Site(root, { logError: () => {}, accessLog: log }));
  try {
    const sock = tcpConnect(front.port!, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    await pingThroughTunnel(sock);
    assert.equal(log.entries.length, 0);
    const logged = log.next();
    sock.end();
    const entry = await logged;
    assert.equal(entry.status, 101);
    assert.equal(entry.method, 'GET');
    assert.equal(entry.uri, '/ws/chat');
    assert.equal(entry.bytes, 'echo:ping'.length);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(log.entries.length, 1);
  } finally {
    p.close();
    await front.close();
    await be.close();
  }
});
