// The HTTP channel: plain HTTP/1.1 on Trellis's own channel, and HTTPS with HTTP/2 (node:http2's
// stream API) negotiated by ALPN and HTTP/1.1 (the same own channel) as the fallback, all with the
// limits and timeouts of SECURITY.md (HTTP/2's own in `h2-session.ts`).
import { readFileSync } from 'node:fs';
import type { Http2SecureServer, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Site } from '../site.js';
import type { Endpoint } from './endpoint.js';
import { guardSession } from './h2-session.js';
import { Http1Server } from './http1/connection.js';
import { serveHttp2Stream } from './http2/stream.js';
import { bindServer, capConnectionsPerIp, ListenError, type ChannelServer, type Listener } from './listen.js';

/**
 * A server for plain HTTP/1.1 on Trellis's own channel (`http1/connection.ts`): half-open
 * connections allowed (a client may send its request and FIN), per-IP connection caps, and
 * `closeIdle()` for graceful shutdown.
 *
 * ```ts
 * const { server } = createHttpServer(site);
 * server.listen(8080);
 * ```
 */
export function createHttpServer(site: Site, options: { unixPath?: string | null } = {}): ChannelServer<NetServer> {
  const http1 = new Http1Server(site, { secure: false, unixPath: options.unixPath ?? null });
  const server = createNetServer({ allowHalfOpen: true }, (socket) => http1.accept(socket));
  capConnectionsPerIp(server, site.limits.maxConnectionsPerIp, (ip) => site.isUncapped(ip));
  return { server, closeIdle: () => http1.closeIdleConnections() };
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
      throw new ListenError(
        `cannot read the TLS ${what} ${path}: ${reason}; pass --certificate and --privkey (PEM files)`,
        'ETLS',
      );
    }
  };
  // The certificate first: without --privkey the key is read from it, and that file is the one named.
  const cert = read(certKey, 'certificate');
  return { key: read(privateKey, 'private key'), cert };
}

/**
 * What {@link createHttpsServer} builds: the TLS listener, and the HTTP/2 server its `h2` connections
 * go to; `closeIdle()` closes idle HTTP/1.1 connections and asks every HTTP/2 session to go away.
 */
export interface HttpsServers extends ChannelServer<TlsServer> {
  /** Listens; answers HTTP/1.1 itself and passes `h2` connections to {@link h2}. */
  readonly server: TlsServer;
  /** Serves the HTTP/2 connections ALPN chose; never listens on its own. */
  h2: Http2SecureServer;
}

/**
 * An HTTPS server serving `site` with HTTP/2 (ALPN `h2`) and HTTP/1.1 (`http/1.1`, or no ALPN):
 * TLS is terminated once, then each connection goes to node:http2 (its streams served by
 * `http2/stream.ts`) or to Trellis's own HTTP/1.1 channel by the protocol it negotiated.
 *
 * A closed connection is noticed (SECURITY.md §3.3): on HTTP/1.1 a FIN after the responses are
 * written closes the connection, and a FIN while one is pending is the client leaving (the channel
 * drops it at once); an `h2` connection ends as soon as the client's FIN arrives. Either way the slot
 * under the per-IP cap is freed at once (test/channels/http2-close.test.ts,
 * test/channels/client-abort.test.ts).
 */
export async function createHttpsServer(site: Site, tls: TlsFiles): Promise<HttpsServers> {
  const [{ createSecureServer }, { createServer: createTlsServer }] = await Promise.all([
    import('node:http2'),
    import('node:tls'),
  ]);
  const limits = site.limits;
  let server: TlsServer;
  try {
    server = createTlsServer({ key: tls.key, cert: tls.cert, ALPNProtocols: ['h2', 'http/1.1'], allowHalfOpen: true });
  } catch (err) {
    throw new ListenError(
      `cannot use the TLS key and certificate: ${(err as Error).message}; check that --privkey and --certificate are a matching PEM pair`,
      'ETLS',
    );
  }
  const h2 = createSecureServer({
    allowHTTP1: false,
    settings: {
      maxConcurrentStreams: limits.h2MaxConcurrentStreams,
      maxHeaderListSize: limits.h2MaxHeaderListSize,
      // RFC 8441: WebSockets over HTTP/2, for resources that take them (NodeAppResource with `ws`).
      enableConnectProtocol: true,
    },
    maxSessionMemory: 10,
    maxHeaderListPairs: limits.maxHeaderCount + 4,
  });
  // The core stream API, not node:http2's compatibility layer (no request listener is given).
  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) =>
    serveHttp2Stream(site, stream, headers, rawHeaders, { secure: true });
  h2.on('stream', onStream as (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => void);
  h2.setTimeout(limits.writeIdleTimeout);
  const sessions = new Set<Http2Session>();
  h2.on('session', (session: Http2Session) => {
    guardSession(session, limits);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const http1 = new Http1Server(site, { secure: true });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol !== 'h2') {
      http1.accept(socket);
      return;
    }
    // node:http2 never reacts to a client's FIN: without this a closed connection would linger
    // (and count against its address's cap) until a timeout. HTTP/1.1 keeps half-close.
    socket.allowHalfOpen = false;
    h2.emit('secureConnection', socket);
  });
  // A failed handshake only concerns its own connection.
  server.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
  capConnectionsPerIp(server, limits.maxConnectionsPerIp, (ip) => site.isUncapped(ip));
  const closeIdle = () => {
    http1.closeIdleConnections();
    // A graceful close: GOAWAY now, the session ends once its open streams are done.
    for (const session of sessions) if (!session.closed) session.close();
  };
  return { server, h2, closeIdle };
}

/** Starts an HTTP or HTTPS listener for `site` on `ep` (tcp, ssl or unix). */
export async function listenHttp(site: Site, ep: Endpoint, tls?: TlsFiles): Promise<Listener> {
  if (ep.type === 'ssl' || tls) {
    const files = tls ?? (ep.type === 'ssl' ? readTlsFiles(ep.privateKey, ep.certKey) : undefined)!;
    return bindServer(await createHttpsServer(site, files), ep, { scheme: 'https' });
  }
  return bindServer(createHttpServer(site, { unixPath: ep.type === 'unix' ? ep.path : null }), ep);
}
