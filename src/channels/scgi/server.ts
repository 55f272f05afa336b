// The SCGI channel: one request per connection. The netstring header becomes a neutral Request
// through cgi-params.ts, exactly CONTENT_LENGTH body bytes stream into it, and the response goes back
// as a CGI-style head and body; closing the connection ends the response.
import { createServer, type Socket } from 'node:net';
import type { Request, ResponseSink } from '../../request.js';
import type { Site } from '../../site.js';
import { formatCgiHeadText } from '../../http/cgi-head.js';
import { connectionLost } from '../boundary.js';
import { CgiVariables, serveCgiParams } from '../cgi-params.js';
import type { Endpoint } from '../endpoint.js';
import { GatewayBody, paramsToMap, parseTrustedPeers, peerAllowed, type GatewayOptions } from '../gateway.js';
import { bindServer, type ChannelServer, type Listener } from '../listen.js';
import { parseScgiHeader, type ScgiHeaderLimits } from './netstring.js';

const DEFAULT_MAX_CONNECTIONS = 1024;

/**
 * Serves one SCGI connection.
 *
 * Rules it enforces (SECURITY.md §5.2, pinned in test/channels/scgi/server.test.ts): the header is at
 * most 64 KiB and 1000 pairs, strictly a netstring with CONTENT_LENGTH first and SCGI=1, else the
 * connection closes without an answer; the whole header must arrive within `headerTimeout` (20 s)
 * of the connection, however slowly it keeps coming, and the body must keep arriving
 * (`bodyIdleTimeout`); a front end that stops reading the response is dropped after
 * `writeIdleTimeout`. Nothing a front end sends can throw out of here.
 */
function serveScgiConnection(socket: Socket, site: Site, mount: string | null): void {
  const limits: ScgiHeaderLimits = { maxBytes: 64 * 1024, maxPairs: Math.min(1000, site.limits.maxFields) };
  let head: Buffer[] = [];
  let headBytes = 0;
  let body: GatewayBody | null = null;
  let remaining = 0;
  let request: Request | null = null;
  let paused = false;
  let finished = false;

  const fail = (reason: string) => {
    site.logError(`SCGI connection from ${socket.remoteAddress ?? 'a UNIX socket'} closed: ${reason}`);
    socket.destroy();
  };

  const feedBody = (chunk: Buffer) => {
    if (chunk.length === 0 || remaining === 0) return;
    const piece = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
    remaining -= piece.length;
    if (body && !body.destroyed && !body.feed(piece)) {
      paused = true;
      socket.pause();
    }
    if (remaining === 0) {
      body?.close();
      socket.setTimeout(site.limits.writeIdleTimeout);
    }
  };

  const sink: ResponseSink = {
    writeHead(code, reason, flat) {
      // Held back by cork() so the head and the first body bytes leave in one write.
      socket.cork();
      socket.write(formatCgiHeadText(code, reason, flat), 'latin1');
      process.nextTick(() => socket.uncork());
    },
    write: (chunk) => (socket.destroyed ? false : socket.write(chunk)),
    end(chunk) {
      finished = true;
      if (socket.destroyed) return;
      if (chunk) socket.write(chunk);
      socket.end();
      socket.uncork();
    },
    endText(text) {
      this.end(Buffer.from(text));
    },
    onDrain: (listener) => socket.once('drain', listener),
    abort: () => socket.destroy(),
    // An SCGI connection carries one request and closes after its answer.
    closeAfterResponse: () => {},
    queuedBytes: () => socket.writableLength,
  };

  const headDeadline = setTimeout(() => {
    if (!request) fail(`the header did not arrive within ${site.limits.headerTimeout} ms`);
  }, site.limits.headerTimeout);
  headDeadline.unref();

  const start = (chunk: Buffer) => {
    const parsed = parseScgiHeader(chunk, limits);
    if (parsed.kind === 'incomplete') return false;
    clearTimeout(headDeadline);
    if (parsed.kind === 'error') {
      fail(parsed.reason);
      return true;
    }
    const { pairs, contentLength, bodyOffset } = parsed.header;
    remaining = contentLength;
    if (contentLength > 0) {
      body = new GatewayBody(() => {
        if (paused && !socket.destroyed) {
          paused = false;
          socket.resume();
        }
      });
      socket.setTimeout(site.limits.bodyIdleTimeout);
    } else {
      socket.setTimeout(site.limits.writeIdleTimeout);
    }
    feedBody(chunk.subarray(bodyOffset));
    const options = { body, sink, channel: 'scgi', contentLength, ...(mount !== null ? { mount } : {}) };
    request = serveCgiParams(site, paramsToMap(pairs, new CgiVariables()), options);
    return true;
  };

  socket.on('data', (chunk: Buffer) => {
    if (request) {
      feedBody(chunk);
      return;
    }
    head.push(chunk);
    headBytes += chunk.length;
    const whole = head.length === 1 ? chunk : Buffer.concat(head, headBytes);
    head = [whole];
    if (start(whole)) head = [];
    else if (headBytes > limits.maxBytes + 16) fail('the header is too large');
  });
  // A front end may half-close after sending the request; that is not a disconnect. A missing body is.
  socket.on('end', () => {
    if (!request || remaining > 0) socket.destroy();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    clearTimeout(headDeadline);
    if (remaining > 0) body?.destroy(new Error('The front end closed the connection before the whole body'));
    if (!finished && request) connectionLost(request, new Error('The front end closed the connection'));
  });
  socket.on('timeout', () => {
    if (request && remaining === 0 && !socket.writableNeedDrain) return;
    socket.destroy();
  });
  socket.setTimeout(site.limits.headerTimeout);
}

/**
 * A server (a net.Server and its `closeIdle`) that speaks SCGI for `site`. TCP peers other than loopback are dropped on accept
 * unless listed in `trustedPeers` (SECURITY.md §5.1); at most `maxConnections` (1024) are open at once.
 *
 * ```ts
 * createScgiServer(site).server.listen('/run/trellis.scgi');
 * ```
 */
export function createScgiServer(site: Site, options: GatewayOptions = {}): ChannelServer {
  const trusted = options.trustedPeers?.length ? parseTrustedPeers(options.trustedPeers) : null;
  const mount = options.mount ?? null;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    if (!peerAllowed(socket, trusted)) {
      site.logError(
        `SCGI connection from ${socket.remoteAddress} refused: not a trusted peer (--gateway-trusted-peers)`,
      );
      socket.destroy();
      return;
    }
    serveScgiConnection(socket, site, mount);
  });
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // An SCGI connection carries one request and closes after its answer: none sits idle.
  return { server, closeIdle: () => {} };
}

/** Starts an SCGI listener for `site` on `ep` (tcp or unix); its url reads `scgi://host:port/`. */
export async function listenScgi(site: Site, ep: Endpoint, options: GatewayOptions = {}): Promise<Listener> {
  return bindServer(createScgiServer(site, options), ep, { scheme: 'scgi' });
}
