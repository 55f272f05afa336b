// ReverseProxyResource: forwards the rest of the path to one or more HTTP/1.1 backends over pooled
// kept-alive connections, streaming both ways, with forwarding headers and Location rewriting.
import type { Duplex } from 'node:stream';
import { HttpError } from '../errors.js';
import { LAST_CHUNK, writeResponseHead } from '../http/head-writer.js';
import { Resource, type RenderResult } from '../resource.js';
import { NOT_DONE_YET, upgradeOf, type Request } from '../request.js';
import { spliceSockets } from '../util/splice.js';
import { BackendPool, type BackendConnection, type Exchange, type ExchangeError } from './backend-client.js';
import { backendTarget } from './backend-path.js';
import { ProxyError, exchangeFailure, failProxied } from './proxy-error.js';
import { BackendRotation, IDEMPOTENT, sendWithRetry, type AttemptHandler, type Transport } from './retry.js';
import {
  backendRequestFields,
  clientResponseFields,
  requestHead,
  rewriteLocation,
  wantsWebSocket,
  type Backend,
  type ClientRequest,
  type ForwardingOptions,
  type PublicURL,
} from './forwarding.js';
import type { ResponseHead } from './response-parser.js';
import { tcpPeer } from './trusted-proxies.js';

export type { Backend } from './forwarding.js';

/** Options of {@link ReverseProxyResource}. */
export interface ReverseProxyOptions {
  /** More backends, served round-robin with the first; a failed one is skipped for `retryAfter`. */
  backends?: Backend[];
  /** Send the client's Host instead of the backend's (Apache's ProxyPreserveHost). Default false. */
  preserveHost?: boolean;
  /** Add X-Forwarded-For (appended), X-Forwarded-Proto and X-Forwarded-Host. Default true. */
  xForwarded?: boolean;
  /** Also add an RFC 7239 `Forwarded` element. Default false. */
  forwarded?: boolean;
  /** Send `X-Forwarded-Prefix` with the public mount path when the backend path is `/`. Default true. */
  forwardedPrefix?: boolean;
  /** Rewrite `Location`/`Content-Location` naming a backend's origin to the public URL (ProxyPassReverse). Default true. */
  rewriteLocation?: boolean;
  /** Pass WebSocket upgrades through; other Upgrade protocols are always stripped. Default true. */
  websocket?: boolean;
  /** Time allowed for the backend to answer (and the longest silence while it streams), ms. Default 60 s. */
  timeout?: number;
  /** Time allowed to connect, ms. Default 5 s. */
  connectTimeout?: number;
  /** How long a backend that failed to connect is skipped, ms. Default 5 s. */
  retryAfter?: number;
  /** Most connections per backend. Default 256. */
  maxSockets?: number;
  /** Idle kept-alive connections kept per backend. Default 64. */
  maxFreeSockets?: number;
  /** An idle kept-alive connection unused this long is closed, ms. Default 30 s. */
  idleTimeout?: number;
  /** Largest request body forwarded; past it 413. Default: the Site's `maxBodySize` (10 MiB). */
  maxBodySize?: number;
  /**
   * `append` (default): X-Forwarded-For is the client's list plus the TCP peer. `client`: only the
   * client address the Site resolved (after `--trust-proxy`), for a backend that trusts this proxy alone.
   */
  forwardedFor?: 'append' | 'client';
}

/** A UNIX-socket backend address split into its socket and its base path. */
export interface UnixBackendAddress {
  socketPath: string;
  /** The base path on the backend, without a trailing slash (`''` for `/`). */
  path: string;
}

/**
 * Parses a UNIX-socket backend address (nginx's `proxy_pass http://unix:...` spelling):
 *
 * | address                        | socket             | base path |
 * |--------------------------------|--------------------|-----------|
 * | `unix:/run/app.sock`           | `/run/app.sock`    | `''`      |
 * | `unix:/run/app.sock:/base/`    | `/run/app.sock`    | `/base`   |
 * | `unix:run/app.sock`, `unix:`   | RangeError: the socket path must be absolute |
 *
 * The socket path ends at the first `:` followed by `/`, so a socket path holding `:/` cannot be named.
 */
export function parseUnixBackend(address: string): UnixBackendAddress {
  if (!address.startsWith('unix:'))
    throw new RangeError(`A UNIX-socket backend is written unix:/path/to.sock, not "${address}"`);
  const rest = address.slice(5);
  const split = rest.indexOf(':/');
  const socketPath = split === -1 ? rest : rest.slice(0, split);
  const path = split === -1 ? '' : rest.slice(split + 1);
  if (!socketPath.startsWith('/') || /[\0\r\n]/.test(socketPath)) {
    throw new RangeError(
      `A UNIX-socket backend needs an absolute socket path, as in unix:/run/app.sock or unix:/run/app.sock:/base, not "${address}"`,
    );
  }
  if (/[?#\0\r\n]/.test(path))
    throw new RangeError(`The base path of "${address}" must be a plain path, without a query or fragment`);
  return { socketPath, path: path.replace(/\/+$/, '') };
}

/** The public URL pieces of `request`, computed only when read. */
function publicURLOf(request: Request): PublicURL {
  return {
    get mount() {
      return request.prePathURL().replace(/\/$/, '');
    },
    get origin() {
      return request.origin();
    },
  };
}

/**
 * Serves everything below it from a backend: `ReverseProxyResource('127.0.0.1', 8080, '/base')`
 * mounted at `/app` sends `/app/x?q` to `http://127.0.0.1:8080/base/x?q`. The path is forwarded in
 * the normalised form traversal matched on (decoded segments re-encoded, SECURITY.md §6.2), and never
 * leaves the base path: a dot-segment in any spelling (`%2e%2e`, `..%2F`, `..;`), NUL, CR or LF is
 * 400, empty segments are merged (backend-path.ts; test/proxy/confinement.test.ts, nginx behind).
 *
 * - HTTP/1.1 to the backend over a keep-alive pool of its own (`BackendPool`, backend-client.ts);
 *   bodies stream both ways with backpressure. A connection is reused only after a complete
 *   keep-alive response to a completely sent request.
 * - The backend's answer is parsed strictly (response-parser.ts): an oversized head (16 KiB, 100
 *   fields), obs-fold, control characters, two Content-Lengths, Transfer-Encoding with
 *   Content-Length, or a broken chunk is a 502 (or a dropped connection once the answer has started).
 * - An idempotent request without a body whose pooled connection turns out closed before any
 *   byte of an answer (the keep-alive race) is sent once more on a new connection; others get 502.
 * - Hop-by-hop fields and those named in `Connection` are dropped in both directions, and so are
 *   request fields whose name holds `_` (§2.3) and the client's `X-Real-IP`; then
 *   X-Forwarded-For/-Proto/-Host (and `Forwarded` if asked) are added (SECURITY.md §6.5); the body
 *   is re-framed from the parsed request (one Content-Length, or chunked for a body of unknown
 *   length, HTTP/2's included, §3.1).
 * - Redirects are passed through, never followed; a `Location` naming the backend's origin becomes
 *   the public URL (§6.6).
 * - WebSocket upgrades pass through on HTTP/1.1, plain or over TLS; `Upgrade: h2c` and
 *   `HTTP2-Settings` never do (§4.4). The access log gets one line per tunnel when it closes
 *   (status 101, the bytes relayed to the client).
 * - Several backends: round-robin; one that cannot be connected to is skipped and the request
 *   tried on the next. None reachable: 502, or 504 when the last one did not accept within
 *   `connectTimeout`. No answer within `timeout`: 504.
 * - A client that goes away aborts the backend request; its connection is not reused.
 *
 * The policy is pure and lives apart: which fields go where in forwarding.ts, failover and the
 * keep-alive retry in retry.ts (wrapped around this resource's transport), the error codes in
 * proxy-error.ts. Pinned by test/proxy/reverse-proxy.test.ts, forwarding.test.ts, retry.test.ts,
 * proxy-error.test.ts, backend-client.test.ts and response-parser.test.ts.
 *
 * - A backend on a UNIX socket is named `unix:/path/to.sock`, or `unix:/path/to.sock:/base` with a
 *   base path ({@link parseUnixBackend}); it gets `Host: localhost` unless `preserveHost`. A socket
 *   that is missing or that nobody listens on is a 502 at once (test/proxy/unix-backend.test.ts).
 *
 * ```ts
 * root.putChild('app', new ReverseProxyResource('127.0.0.1', 8080, '/', { preserveHost: true }));
 * root.putChild('local', new ReverseProxyResource('unix:/run/app.sock:/base'));
 * ```
 */
export class ReverseProxyResource extends Resource {
  override isLeaf = true;
  readonly host: string;
  readonly port: number;
  /** The first backend's UNIX socket, or null for TCP. */
  readonly socketPath: string | null;
  readonly path: string;
  readonly backends: readonly Backend[];
  readonly options: Readonly<ReverseProxyOptions>;
  /** The connection pool of each backend, in the order of `backends`. */
  readonly pools: readonly BackendPool[];
  #forwarding: ForwardingOptions;
  #rotation: BackendRotation;

  /** A backend on a UNIX socket: `unix:/run/app.sock`, or `unix:/run/app.sock:/base` with a base path. */
  constructor(unixAddress: `unix:${string}`, options?: ReverseProxyOptions);
  /** A backend at `host:port`, with the base path `path` there. */
  constructor(host: string, port: number, path?: string, options?: ReverseProxyOptions);
  constructor(
    hostOrAddress: string,
    portOrOptions?: number | ReverseProxyOptions,
    pathArg = '',
    optionsArg: ReverseProxyOptions = {},
  ) {
    super();
    let first: Backend;
    let path = pathArg;
    let options = optionsArg;
    if (typeof portOrOptions !== 'number' && hostOrAddress.startsWith('unix:')) {
      const unix = parseUnixBackend(hostOrAddress);
      first = { host: 'localhost', port: 80, socketPath: unix.socketPath };
      path = unix.path;
      options = portOrOptions ?? {};
    } else {
      const port = portOrOptions;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
        throw new RangeError(`Invalid backend port ${String(port)}`);
      first = { host: hostOrAddress, port };
    }
    this.host = first.host;
    this.port = first.port;
    this.socketPath = first.socketPath ?? null;
    this.path = path.replace(/\/+$/, '');
    this.backends = [first, ...(options.backends ?? [])];
    this.options = options;
    this.#forwarding = {
      basePath: this.path,
      preserveHost: options.preserveHost ?? false,
      xForwarded: options.xForwarded ?? true,
      forwarded: options.forwarded ?? false,
      forwardedPrefix: options.forwardedPrefix ?? true,
      forwardedFor: options.forwardedFor ?? 'append',
    };
    const poolOptions = {
      maxSockets: options.maxSockets ?? 256,
      maxFreeSockets: options.maxFreeSockets ?? 64,
      connectTimeout: options.connectTimeout ?? 5_000,
      idleTimeout: options.idleTimeout ?? 30_000,
    };
    const retryAfter = options.retryAfter;
    this.#rotation = new BackendRotation(this.backends, retryAfter === undefined ? {} : { retryAfter });
    this.pools = this.backends.map(
      (b) =>
        new BackendPool(
          b.host,
          b.port,
          b.socketPath === undefined ? poolOptions : { ...poolOptions, socketPath: b.socketPath },
        ),
    );
  }

  /** Closes the idle pooled connections (call when the Site shuts down). */
  close(): void {
    for (const pool of this.pools) pool.close();
  }

  /**
   * The backend request-target for `request`: base path, the remaining segments normalised and
   * re-encoded, the query. Throws a 400 HttpError for a path that would leave the base (backend-path.ts).
   */
  backendPath(request: Request): string {
    return backendTarget(this.path, request.postpath, request.queryString);
  }

  /** The header list sent to `backend` for `request` (the policy of forwarding.ts). */
  backendHeaders(request: Request, backend: Backend, websocket: boolean): Array<[string, string]> {
    const peer = tcpPeer(request);
    const client: ClientRequest = {
      method: request.method,
      headers: request.requestHeaders.raw,
      host: request.getHeader('host'),
      contentLength: request.contentLength,
      hasBody: request.hasBody,
      peerIp: peer && peer.type !== 'UNIX' ? peer.host : null,
      clientIp: request.getClientIP(),
      secure: request.isSecure(),
      prepath: request.prepath,
    };
    return backendRequestFields(client, backend, this.#forwarding, websocket);
  }

  /** The public form of a `Location` value: a backend's origin becomes this resource's public URL. */
  rewriteLocation(value: string, request: Request): string {
    return rewriteLocation(value, this.backends, this.path, publicURLOf(request));
  }

  override render(request: Request): RenderResult {
    const limit = this.options.maxBodySize ?? request.limits.maxBodySize;
    if (request.contentLength !== null && request.contentLength > limit) {
      throw new HttpError(413, `The request body is larger than ${limit} bytes.`, {
        code: 'BODY_TOO_LARGE',
        close: true,
      });
    }
    const up = upgradeOf(request);
    const websocket =
      up !== undefined &&
      (this.options.websocket ?? true) &&
      wantsWebSocket(request.method, request.getHeader('upgrade'));
    // Decided before any backend is asked: a path that would leave the base is the client's 400.
    const target = this.backendPath(request);
    const handler = this.#receiver(request, websocket, limit);
    const resendable = IDEMPOTENT.has(request.method) && (websocket || !request.hasBody);
    const transport: Transport = (backend, fresh, h) => this.#send(request, target, websocket, backend, fresh, h);
    sendWithRetry(this.#rotation, transport, handler, { resendable });
    return NOT_DONE_YET;
  }

  /**
   * The transport: sends the request once to `backend` over its pool (a new connection when `fresh`,
   * a tunnel-ready one for a WebSocket) and reports to `handler`.
   */
  #send(
    request: Request,
    target: string,
    websocket: boolean,
    backend: Backend,
    fresh: boolean,
    handler: AttemptHandler,
  ): void {
    let head: string;
    try {
      head = requestHead(request.method, target, this.backendHeaders(request, backend, websocket));
    } catch (err) {
      const message = (err as Error).message;
      handler.onError({ stage: 'request', code: 'BAD_FORWARDED_REQUEST', responded: false, message });
      return;
    }
    const pool = this.pools[this.backends.indexOf(backend)]!;
    const ready = (conn: BackendConnection | null, error: ExchangeError | null) => {
      if (!conn) {
        handler.onError(error!);
        return;
      }
      if (!handler.wanted()) {
        pool.release(conn);
        return;
      }
      const timeout = this.options.timeout ?? 60_000;
      handler.onStart(conn.start(head, handler, { head: request.method === 'HEAD', upgrade: websocket, timeout }));
    };
    if (websocket) pool.acquireTunnel(ready);
    else pool.acquire(fresh, ready);
  }

  /** The receiver of the backend's answer: it relays it to the client (or splices a WebSocket). */
  #receiver(request: Request, websocket: boolean, limit: number): AttemptHandler {
    const hasBody = !websocket && request.hasBody;
    // The exchange the request went out on (the last one, after a retry).
    let exchange: Exchange | null = null;
    // The first body piece waits until the end of its read: if the whole response came in one
    // read it goes out with its head in one write (Request.writeWhole).
    let held: Buffer | null = null;
    // The 101 head is kept for the splice: its fields go to the client as the backend sent them.
    let status101: ResponseHead | null = null;
    // Body pieces are views into the client's shared read buffer: what goes on is a copy.
    const send = (chunk: Buffer) => {
      if (!request.write(Buffer.from(chunk))) {
        const ex = exchange!;
        ex.pause();
        void request.drain().then(() => ex.resume());
      }
    };
    return {
      wanted: () => !request.disconnected && !request.finished,
      onStart: (started) => {
        const first = exchange === null;
        exchange = started;
        if (first) {
          request.whenDone((r) => {
            if (r.disconnected) exchange!.abort();
          });
        }
        if (!hasBody) return;
        started.startBody();
        this.#pumpBody(request, started, limit);
      },
      onHead: (res) => {
        if (request.disconnected || request.finished) {
          exchange!.abort();
          return;
        }
        if (res.status === 101) {
          status101 = res;
          return;
        }
        try {
          request.setResponseCode(res.status, res.reason || undefined);
          this.#responseHeaders(request, res.headers, res.connectionNames);
        } catch (err) {
          exchange!.abort();
          const message = `The backend sent an invalid response: ${(err as Error).message}`;
          failProxied(request, new ProxyError('BAD_RESPONSE', message));
        }
      },
      onBody: (chunk) => {
        if (request.disconnected) return;
        if (held === null) {
          if (!request.startedWriting) {
            held = chunk;
            return;
          }
        } else {
          const first = held;
          held = null;
          send(first);
        }
        send(chunk);
      },
      onFlush: () => {
        if (held === null) return;
        const first = held;
        held = null;
        send(first);
      },
      onEnd: () => {
        if (request.disconnected || request.finished) return;
        if (held !== null) {
          const whole = held;
          held = null;
          request.writeWhole(Buffer.from(whole));
          return;
        }
        request.finish();
      },
      onUpgrade: (socket, rest) => {
        if (!websocket || !status101) {
          socket.destroy();
          return;
        }
        this.#splice(request, status101, socket, rest);
      },
      onError: (error) => {
        held = null;
        failProxied(request, exchangeFailure(error, 'backend'));
      },
    };
  }

  #pumpBody(request: Request, exchange: Exchange, limit: number): void {
    let body;
    try {
      body = request.stream();
    } catch {
      exchange.abort();
      return;
    }
    const chunked = request.contentLength === null;
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        body.destroy();
        exchange.abort();
        const message = `The request body is larger than ${limit} bytes.`;
        failProxied(request, new HttpError(413, message, { code: 'BODY_TOO_LARGE', close: true }));
        return;
      }
      if (!(chunked ? exchange.writeChunk(chunk) : exchange.write(chunk))) {
        body.pause();
        exchange.onDrain(() => body.resume());
      }
    });
    body.once('end', () => exchange.end(chunked ? LAST_CHUNK : undefined));
    body.once('error', () => exchange.abort());
    body.once('close', () => {
      if (!body.readableEnded) exchange.abort();
    });
  }

  /**
   * Copies the backend's fields to the response as forwarding.ts decides: hop-by-hop ones dropped
   * (SECURITY.md §6.5), the Site's Date and Server replaced, Location rewritten (§6.6).
   */
  #responseHeaders(request: Request, flat: readonly string[], connectionNames: boolean): void {
    const location =
      (this.options.rewriteLocation ?? true) ? (value: string) => this.rewriteLocation(value, request) : null;
    const out = clientResponseFields(flat, connectionNames, location);
    // The Site's own Date and Server give way to the backend's (as Twisted does).
    if (out.date) request.removeResponseHeader('date');
    if (out.server) request.removeResponseHeader('server');
    const fields = out.fields;
    for (let i = 0; i < fields.length; i += 2) request.addHeader(fields[i]!, fields[i + 1]!);
  }

  /**
   * Joins the client's raw socket and the backend's after a 101 answer to a WebSocket upgrade. The
   * request is logged once, when the tunnel closes: status 101, with the bytes relayed from the
   * backend to the client as its size (as nginx does).
   */
  #splice(request: Request, res: ResponseHead, backend: Duplex, head: Buffer): void {
    const up = upgradeOf(request);
    if (!up || request.disconnected) {
      backend.destroy();
      return;
    }
    up.take();
    const client = up.socket;
    client.write(writeResponseHead(101, res.reason || 'Switching Protocols', res.headers), 'latin1');
    if (head.length) client.write(head);
    if (up.head.length) backend.write(up.head);
    (client as Duplex & { setTimeout?: (ms: number) => void }).setTimeout?.(0);
    (backend as Duplex & { setTimeout?: (ms: number) => void }).setTimeout?.(0);
    request.setResponseCode(101, res.reason || undefined);
    let relayed = head.length;
    backend.on('data', (chunk: Buffer) => {
      relayed += chunk.length;
    });
    spliceSockets(client, backend, () => {
      if (request.finished) return;
      // The socket is taken: finishing writes nothing, it only completes the request (and logs it).
      request.sentLength = relayed;
      request.finish();
    });
  }
}
