// Upgrade and CONNECT requests on the HTTP/1.1 channel: the channel hands these over with their raw
// socket, so they get a Request whose response is written straight to the socket, and the socket is
// kept for a resource (the reverse proxy's WebSocket pass-through, the forward proxy's CONNECT) to take.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { RequestHeaders } from '../http/headers.js';
import { fieldSet, statusLine, writeHead } from '../http/head-writer.js';
import type { ResponseSink } from '../request.js';
import type { Site } from '../site.js';
import { socketAddress } from './address.js';
import { connectionLost, serveParts } from './boundary.js';

/** The connection closes after the response: a resource's Connection field gives way to `close`. */
const CONNECTION = fieldSet(['connection']);

/** A sink that writes an HTTP/1.1 response straight to `socket` and closes it afterwards. */
function rawSink(socket: Duplex, taken: () => boolean): ResponseSink {
  return {
    writeHead(code, reason, flat) {
      if (taken()) return;
      socket.write(writeHead(statusLine(code, reason), flat, CONNECTION, 'Connection: close\r\n'), 'latin1');
    },
    write: (chunk) => (taken() ? true : socket.write(chunk)),
    end: (chunk) => {
      if (taken()) return;
      if (chunk) socket.end(chunk);
      else socket.end();
      // Read and drop whatever else the client sends, so the close completes.
      socket.resume();
    },
    endText(text) {
      this.end(Buffer.from(text));
    },
    onDrain: (listener) => void socket.once('drain', listener),
    abort: () => socket.destroy(),
    // The connection closes after this response in any case.
    closeAfterResponse: () => {},
    queuedBytes: () => null,
  };
}

/** The request line and header fields of an Upgrade or CONNECT request, as the HTTP/1.1 channel parsed them. */
export interface UpgradeHead {
  method: string;
  uri: string;
  /** `1.1` or `1.0`. */
  httpVersion: string;
  /** Header fields, flat: name, value, name, value, ... */
  rawHeaders: string[];
}

/**
 * Sends an Upgrade or CONNECT request through the Site like any other, with its raw socket kept for
 * a resource to take. Resources that do not take the socket answer normally and the connection
 * closes (ignoring an Upgrade is allowed, RFC 9110 §7.8). The head was checked by the channel's
 * parser; `rest` holds the bytes that followed it.
 */
export function serveUpgrade(
  site: Site,
  head: UpgradeHead,
  socket: Socket,
  rest: Buffer,
  options: { secure: boolean; unixPath?: string | null },
): void {
  const unixPath = options.unixPath ?? null;
  socket.on('error', () => socket.destroy());
  let taken = false;
  const parts = {
    method: head.method,
    uri: head.uri,
    clientproto: `HTTP/${head.httpVersion}`,
    headers: RequestHeaders.fromFlat(head.rawHeaders),
    body: null,
    client: socketAddress(socket.remoteAddress, socket.remoteFamily, socket.remotePort, unixPath),
    local: socketAddress(socket.localAddress, socket.remoteFamily, socket.localPort, unixPath),
    secure: options.secure,
    channel: 'http/1.1',
    contentLength: null,
    upgrade: {
      socket,
      head: rest,
      take: () => {
        taken = true;
      },
    },
  };
  const request = serveParts(
    site,
    parts,
    rawSink(socket, () => taken),
  );
  socket.once('close', () => {
    if (!taken) connectionLost(request);
  });
}
