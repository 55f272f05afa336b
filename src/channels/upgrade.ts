// Upgrade and CONNECT requests on the HTTP/1.1 channel: node:http hands these over as a raw socket,
// so they get a Request whose response is written straight to the socket, and the socket is kept
// for a resource (the reverse proxy's WebSocket pass-through, the forward proxy's CONNECT) to take.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { RequestHeaders } from '../http/headers.js';
import { Request, type ResponseSink } from '../request.js';
import type { Site } from '../site.js';
import { checkRequestHead, socketAddress } from './node-listener.js';

/** The raw connection behind an Upgrade or CONNECT request. */
export interface UpgradeSocket {
  socket: Duplex;
  /** Bytes the client sent after the request head (the first bytes of the new protocol). */
  head: Buffer;
  /** Marks the socket as taken: the Request's response will not be written to it. */
  take(): void;
}

const upgrades = new WeakMap<Request, UpgradeSocket>();

/** The raw connection of an Upgrade or CONNECT request, or undefined for an ordinary request. */
export function upgradeOf(request: Request): UpgradeSocket | undefined {
  return upgrades.get(request);
}

/** A sink that writes an HTTP/1.1 response straight to `socket` and closes it afterwards. */
function rawSink(socket: Duplex, taken: () => boolean): ResponseSink {
  return {
    writeHead(code, reason, headers) {
      if (taken()) return;
      let head = `HTTP/1.1 ${code} ${reason}\r\n`;
      for (const [name, value] of headers) {
        if (name.toLowerCase() === 'connection') continue;
        head += `${name}: ${value}\r\n`;
      }
      socket.write(`${head}Connection: close\r\n\r\n`);
    },
    write: (chunk) => (taken() ? true : socket.write(chunk)),
    end: (chunk) => {
      if (taken()) return;
      if (chunk) socket.end(chunk);
      else socket.end();
    },
    onDrain: (listener) => void socket.once('drain', listener),
    abort: () => socket.destroy(),
  };
}

/**
 * A listener for node:http's `upgrade` and `connect` events that sends the request through the Site
 * like any other. Resources that do not take the socket answer normally and the connection closes
 * (ignoring an Upgrade is allowed, RFC 9110 §7.8).
 */
export function upgradeListener(site: Site, options: { secure: boolean; unixPath?: string | null }): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const unixPath = options.unixPath ?? null;
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    let taken = false;
    const s = socket as Duplex & { remoteAddress?: string; remoteFamily?: string; remotePort?: number; localAddress?: string; localPort?: number };
    const request = new Request({
      method: req.method!,
      uri: req.url!,
      clientproto: `HTTP/${req.httpVersion}`,
      headers: RequestHeaders.fromFlat(req.rawHeaders),
      body: null,
      client: socketAddress(s.remoteAddress, s.remoteFamily, s.remotePort, unixPath),
      local: socketAddress(s.localAddress, s.remoteFamily, s.localPort, unixPath),
      secure: options.secure || Boolean((socket as { encrypted?: boolean }).encrypted),
      sink: rawSink(socket, () => taken),
      channel: 'http/1.1',
      contentLength: null,
    });
    upgrades.set(request, {
      socket,
      head,
      take: () => {
        taken = true;
      },
    });
    socket.once('close', () => {
      if (!taken) request.connectionLost(new Error('Connection lost'));
    });
    const refusal = checkRequestHead(req.url!, req.httpVersion, req.rawHeaders, site.limits);
    if (refusal) {
      site.refuse(request, refusal.status, refusal.detail);
      return;
    }
    site.handle(request);
  };
}

/**
 * Joins two raw sockets both ways (a CONNECT tunnel, a WebSocket after its 101): bytes flow with
 * backpressure until either side ends or fails, then both are destroyed and `onClose` runs once.
 */
export function spliceSockets(a: Duplex, b: Duplex, onClose?: () => void): void {
  let closed = false;
  const closeBoth = () => {
    a.destroy();
    b.destroy();
    if (closed) return;
    closed = true;
    onClose?.();
  };
  a.on('error', closeBoth);
  b.on('error', closeBoth);
  a.once('close', closeBoth);
  b.once('close', closeBoth);
  b.pipe(a);
  a.pipe(b);
}
