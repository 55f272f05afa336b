// HTTP/2 over TLS for tests: a Site served on an ssl endpoint in this process, and raw h2 connections
// that write frames by hand (for what node:http2's client will not send, like an unfinished header block).
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { TestContext } from 'node:test';
import { listenHttp } from '../../src/channels/http.js';
import type { Listener } from '../../src/channels/listen.js';
import type { Resource } from '../../src/resource.js';
import { Site, type SiteLimits } from '../../src/site.js';
import { needPeer } from './peers.js';
import { tempDir } from './server.js';
import { makeCertificate } from './tls.js';

/** A Site on `ssl:0` (HTTP/2 and HTTP/1.1 by ALPN) with a throwaway certificate. */
export interface H2Server {
  url: string;
  port: number;
  ca: Buffer;
  listener: Listener;
}

/**
 * Serves `root` over TLS on 127.0.0.1 for the length of `fn`, with `limits` over the defaults.
 * Skips the test when openssl (for the certificate) is missing.
 */
export async function withH2Server(
  t: TestContext,
  root: Resource,
  limits: Partial<SiteLimits>,
  fn: (server: H2Server) => Promise<void>,
): Promise<void> {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const dir = tempDir();
  const tls = makeCertificate(openssl, dir.path);
  const site = new Site(root, { limits });
  const endpoint = { type: 'ssl', port: 0, interface: '127.0.0.1', privateKey: tls.key, certKey: tls.cert } as const;
  const listener = await listenHttp(site, endpoint);
  try {
    await fn({ url: `https://localhost:${listener.port}`, port: listener.port!, ca: readFileSync(tls.cert), listener });
  } finally {
    await listener.close(200);
    dir.cleanup();
  }
}

/** HTTP/2 frame types and flags (RFC 9113 §6). */
export const H2 = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  GOAWAY: 0x7,
  CONTINUATION: 0x9,
  END_STREAM: 0x1,
  END_HEADERS: 0x4,
  /** The client connection preface (RFC 9113 §3.4). */
  PREFACE: Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
} as const;

/** One frame: 9-byte header then payload. */
export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal header field without indexing, new name (RFC 7541 §6.2.2); names and values < 127 bytes. */
export function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

/** HPACK for `:method GET`, `:scheme https`, `:path /` from the static table (RFC 7541 Appendix A). */
export const HPACK_GET_ROOT = Buffer.from([0x82, 0x87, 0x84]);

/** A TLS connection that negotiated `h2`, its preface and an empty SETTINGS frame already sent. */
export async function rawH2(server: H2Server, localAddress?: string): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port: server.port,
    ca: server.ca,
    servername: 'localhost',
    ALPNProtocols: ['h2'],
    ...(localAddress ? { localAddress } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN chose ${socket.alpnProtocol}, not h2`);
  socket.on('error', () => {});
  socket.resume();
  socket.write(Buffer.concat([H2.PREFACE, h2Frame(H2.SETTINGS, 0, 0)]));
  return socket;
}

/** Resolves with the ms until `socket` closes, or null if it is still open after `limitMs`. */
export function closedWithin(socket: TLSSocket, limitMs: number): Promise<number | null> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => resolve(null), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}
