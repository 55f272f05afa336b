// The HTTP channel: HTTP/1.1 over node:http, and HTTPS over node:http2 with HTTP/2 negotiated by ALPN
// and HTTP/1.1 as the fallback, all with the limits and timeouts of SECURITY.md.
import { readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { Http2SecureServer, Http2Session, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { reasonPhrase } from '../http/status.js';
import type { Site, SiteLimits } from '../site.js';
import type { Endpoint } from './endpoint.js';
import { bindServer, capConnectionsPerIp, ListenError, type Listener } from './listen.js';
import { nodeRequestListener } from './node-listener.js';
import { upgradeListener } from './upgrade.js';

/** HTTP/2 error code ENHANCE_YOUR_CALM (RFC 9113 §7). */
const H2_ENHANCE_YOUR_CALM = 0x0b;
/** HTTP/2 error code CANCEL (RFC 9113 §7): what a client's early reset carries. */
const H2_CANCEL = 0x08;
/** Streams reset by the client before an answer, per second, before the connection is told to calm down. */
const H2_MAX_EARLY_RESETS_PER_SECOND = 50;
/** Past this many streams, early resets above this share of all streams also count as a flood (SECURITY.md §4.1). */
const H2_EARLY_RESET_RATIO = 0.25;
const H2_RATIO_MIN_STREAMS = 200;
/** Requests served on one HTTP/2 connection before it is asked to go away (SECURITY.md §4.1). */
const H2_MAX_STREAMS_PER_SESSION = 10_000;

/**
 * Answers what Node's parser rejects before a Request exists, then closes (SECURITY.md §3.1): an
 * overlong request line is 414, overlong headers 431, a header timeout 408, anything else 400.
 */
function clientErrorHandler(limits: SiteLimits) {
  return (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => onClientError(err, socket, limits);
}

function onClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket, limits: SiteLimits): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  let status = 400;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    const raw = err.rawPacket;
    const lineEnd = raw ? raw.indexOf('\n') : -1;
    status = !raw || lineEnd === -1 || lineEnd > limits.maxUriLength ? 414 : 431;
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADER_TIMEOUT') {
    status = 408;
  }
  const body = `${status} ${reasonPhrase(status)}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  socket.destroySoon();
}

type Http1Settings = {
  keepAliveTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  maxHeadersCount: number | null;
  maxRequestsPerSocket: number | null;
  timeout: number;
};

/** Applies the HTTP/1 limits to a node:http server (or the HTTP/1 fallback of an http2 server). */
function applyHttp1Limits(server: Partial<Http1Settings>, limits: SiteLimits): void {
  server.keepAliveTimeout = limits.keepAliveTimeout;
  server.headersTimeout = limits.headerTimeout;
  // Slow bodies are handled by the body watchdog, not by a whole-request deadline.
  server.requestTimeout = 0;
  // One more than allowed, so the listener can tell "too many" (431) from "exactly the cap".
  server.maxHeadersCount = limits.maxHeaderCount + 1;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.timeout = limits.writeIdleTimeout;
}

/** A node:http server serving `site` over plain HTTP/1.1. */
export function createHttpServer(site: Site, options: { unixPath?: string | null } = {}): HttpServer {
  const limits = site.limits;
  const server = createServer(
    {
      // Node's own cap covers request line and headers together; the listener then applies the
      // separate 414 and 431 limits exactly.
      maxHeaderSize: limits.maxUriLength + limits.maxHeaderBytes + 1024,
      connectionsCheckingInterval: 1000,
      joinDuplicateHeaders: false,
    },
    nodeRequestListener(site, { secure: false, unixPath: options.unixPath ?? null }),
  );
  applyHttp1Limits(server as unknown as Partial<Http1Settings>, limits);
  server.on('clientError', clientErrorHandler(limits));
  // Upgrade (WebSocket) and CONNECT requests reach the resource tree too, with their raw socket.
  const onUpgrade = upgradeListener(site, { secure: false, unixPath: options.unixPath ?? null });
  server.on('upgrade', onUpgrade);
  server.on('connect', onUpgrade);
  capConnectionsPerIp(server, limits.maxConnectionsPerIp);
  return server;
}

/** TLS material for {@link createHttpsServer}: PEM text. */
export interface TlsFiles {
  key: string | Buffer;
  cert: string | Buffer;
}

/** Reads a key and certificate, with errors that say which file and what to do. */
export function readTlsFiles(privateKey: string, certKey: string): TlsFiles {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new ListenError(`cannot read the TLS ${what} ${path}: ${reason}; pass --certificate and --privkey (PEM files)`, 'ETLS');
    }
  };
  return { key: read(privateKey, 'private key'), cert: read(certKey, 'certificate') };
}

/** Protects each HTTP/2 session against Rapid Reset and endless connections (SECURITY.md §4.1). */
function guardSession(session: Http2Session): void {
  let windowStart = Date.now();
  let resets = 0;
  let totalResets = 0;
  let streams = 0;
  session.on('stream', (stream: ServerHttp2Stream) => {
    if (++streams > H2_MAX_STREAMS_PER_SESSION) {
      session.goaway(0);
      return;
    }
    stream.once('close', () => {
      if (stream.rstCode !== H2_CANCEL || stream.headersSent) return;
      const now = Date.now();
      if (now - windowStart > 1000) {
        windowStart = now;
        resets = 0;
      }
      totalResets++;
      const flood = ++resets > H2_MAX_EARLY_RESETS_PER_SECOND || (streams >= H2_RATIO_MIN_STREAMS && totalResets / streams > H2_EARLY_RESET_RATIO);
      if (flood && !session.destroyed) {
        session.goaway(H2_ENHANCE_YOUR_CALM);
        // Give the GOAWAY frame a moment to leave before the connection is torn down.
        setTimeout(() => session.destroy(), 50).unref();
      }
    });
  });
}

/** An HTTPS server serving `site` with HTTP/2 (ALPN `h2`) and HTTP/1.1 (`http/1.1`). */
export async function createHttpsServer(site: Site, tls: TlsFiles): Promise<Http2SecureServer> {
  const { createSecureServer } = await import('node:http2');
  const limits = site.limits;
  let server: Http2SecureServer;
  try {
    server = createSecureServer(
      {
        key: tls.key,
        cert: tls.cert,
        allowHTTP1: true,
        settings: {
          maxConcurrentStreams: limits.h2MaxConcurrentStreams,
          maxHeaderListSize: limits.h2MaxHeaderListSize,
        },
        maxSessionMemory: 10,
        maxHeaderListPairs: limits.maxHeaderCount + 4,
      },
      nodeRequestListener(site, { secure: true }),
    );
  } catch (err) {
    throw new ListenError(`cannot use the TLS key and certificate: ${(err as Error).message}; check that --privkey and --certificate are a matching PEM pair`, 'ETLS');
  }
  applyHttp1Limits(server as unknown as Partial<Http1Settings>, limits);
  server.setTimeout(limits.writeIdleTimeout);
  server.on('clientError', clientErrorHandler(limits));
  server.on('session', guardSession);
  // HTTP/1.1 Upgrade requests over TLS (WebSocket through the reverse proxy) reach the resource tree
  // as on the plain channel; HTTP/2 has no Upgrade.
  server.on('upgrade', upgradeListener(site, { secure: true }));
  capConnectionsPerIp(server, limits.maxConnectionsPerIp);
  return server;
}

/** Starts an HTTP or HTTPS listener for `site` on `ep` (tcp, ssl or unix). */
export async function listenHttp(site: Site, ep: Endpoint, tls?: TlsFiles): Promise<Listener> {
  if (ep.type === 'ssl' || tls) {
    const files = tls ?? (ep.type === 'ssl' ? readTlsFiles(ep.privateKey, ep.certKey) : undefined)!;
    const server = await createHttpsServer(site, files);
    const sessions = new Set<Http2Session>();
    server.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    return bindServer(server, ep, {
      scheme: 'https',
      beforeClose: () => {
        for (const session of sessions) session.close();
      },
    });
  }
  const server = createHttpServer(site, { unixPath: ep.type === 'unix' ? ep.path : null });
  return bindServer(server, ep);
}
