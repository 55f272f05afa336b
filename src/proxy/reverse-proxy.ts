// ReverseProxyResource: forwards the rest of the path to one or more HTTP/1.1 backends over pooled
// kept-alive connections, streaming both ways, with forwarding headers and Location rewriting.
import type { Duplex } from 'node:stream';
import { HttpError } from '../errors.js';
import { LAST_CHUNK, writeRequestHead, writeResponseHead } from '../http/head-writer.js';
import { hasControlChars } from '../http/syntax.js';
import { Resource, type RenderResult } from '../resource.js';
import { NOT_DONE_YET, encodePathSegment, upgradeOf, type Request } from '../request.js';
import { spliceSockets } from '../util/splice.js';
import { BackendPool, CONNECT_TIMED_OUT, type BackendConnection, type Exchange, type ExchangeError, type ExchangeHandler } from './backend-client.js';
import { backendTarget } from './backend-path.js';
import { HOP_BY_HOP, connectionListed, stripHopByHop } from './hop-by-hop.js';
import type { ResponseHead } from './response-parser.js';
import { tcpPeer } from './trusted-proxies.js';

/** One backend server. */
export interface Backend {
  host: string;
  port: number;
}

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
}

/**
 * Request fields dropped from the client's before forwarding: those the proxy sets itself, `Proxy`
 * (httpoxy, SECURITY.md §2.4), and `X-Real-IP`, which backends take as the client's address and the
 * proxy does not vouch for.
 */
const OWN_FIELDS: ReadonlySet<string> = new Set([
  'host', 'content-length', 'expect',
  'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix', 'x-forwarded-port',
  'proxy', 'x-real-ip',
]);
/** Name lengths of the response fields {@link ReverseProxyResource} looks at: hop-by-hop ones, Date, Server, (Content-)Location. */
const HANDLED_LENGTHS: Uint8Array = (() => {
  const lengths = new Uint8Array(64);
  for (const name of [...HOP_BY_HOP, 'date', 'server', 'location', 'content-location']) lengths[name.length] = 1;
  return lengths;
})();
/** Methods safe to send again after the keep-alive race (RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

class BadGateway extends HttpError {
  constructor(message: string, status = 502) {
    super(status, message, { expose: true, code: status === 504 ? 'GATEWAY_TIMEOUT' : 'BAD_GATEWAY' });
  }
}

function wantsWebSocket(request: Request): boolean {
  const upgrade = request.getHeader('upgrade');
  return request.method === 'GET' && upgrade !== undefined && upgrade.split(',').some((t) => t.trim().toLowerCase() === 'websocket');
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
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
 * Pinned by test/proxy/reverse-proxy.test.ts, backend-client.test.ts and response-parser.test.ts.
 *
 * ```ts
 * root.putChild('app', new ReverseProxyResource('127.0.0.1', 8080, '/', { preserveHost: true }));
 * ```
 */
export class ReverseProxyResource extends Resource {
  override isLeaf = true;
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly backends: readonly Backend[];
  readonly options: Readonly<ReverseProxyOptions>;
  /** The connection pool of each backend, in the order of `backends`. */
  readonly pools: readonly BackendPool[];
  #next = 0;
  #downUntil = new Map<Backend, number>();

  constructor(host: string, port: number, path = '', options: ReverseProxyOptions = {}) {
    super();
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`Invalid backend port ${port}`);
    this.host = host;
    this.port = port;
    this.path = path.replace(/\/+$/, '');
    this.backends = [{ host, port }, ...(options.backends ?? [])];
    this.options = options;
    const poolOptions = {
      maxSockets: options.maxSockets ?? 256,
      maxFreeSockets: options.maxFreeSockets ?? 64,
      connectTimeout: options.connectTimeout ?? 5_000,
      idleTimeout: options.idleTimeout ?? 30_000,
    };
    this.pools = this.backends.map((b) => new BackendPool(b.host, b.port, poolOptions));
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

  #pick(skip: ReadonlySet<Backend>): Backend | null {
    const n = this.backends.length;
    const now = Date.now();
    let fallback: Backend | null = null;
    for (let i = 0; i < n; i++) {
      const b = this.backends[(this.#next + i) % n]!;
      if (skip.has(b)) continue;
      if ((this.#downUntil.get(b) ?? 0) > now) {
        fallback ??= b;
        continue;
      }
      this.#next = (this.#next + i + 1) % n;
      return b;
    }
    return fallback;
  }

  /** The header list sent to `backend` for `request`. */
  backendHeaders(request: Request, backend: Backend, websocket: boolean): Array<[string, string]> {
    const o = this.options;
    const headers = stripHopByHop(request.requestHeaders.raw, { keepUpgrade: websocket, drop: OWN_FIELDS });
    const publicHost = request.getHeader('host');
    const host = o.preserveHost ? (publicHost ?? bracket(backend.host)) : backend.port === 80 ? bracket(backend.host) : `${bracket(backend.host)}:${backend.port}`;
    const xff: string[] = [];
    const out: Array<[string, string]> = [['Host', host]];
    for (const pair of headers) {
      const name = pair[0];
      // CGI- and WSGI-style backends map `-` to `_`, so `Transfer_Encoding` would be read there as the
      // real field: a name with `_` is dropped (SECURITY.md §2.3).
      if (name.includes('_')) continue;
      if (name.length === 15 && name.toLowerCase() === 'x-forwarded-for') xff.push(pair[1]);
      else out.push(pair);
    }
    // Re-framed from the parsed request (SECURITY.md §3.1): one Content-Length, or chunked for a body
    // of unknown length whatever the method (node:http would send a GET body unframed) and whatever
    // carried it (an HTTP/2 body without content-length has no Transfer-Encoding to go by).
    if (request.contentLength !== null) out.push(['Content-Length', String(request.contentLength)]);
    else if (request.hasBody && !websocket) out.push(['Transfer-Encoding', 'chunked']);
    const peer = tcpPeer(request);
    const peerIp = peer && peer.type !== 'UNIX' ? peer.host : null;
    const proto = request.isSecure() ? 'https' : 'http';
    if (o.xForwarded ?? true) {
      if (peerIp) xff.push(peerIp);
      if (xff.length) out.push(['X-Forwarded-For', xff.join(', ')]);
      out.push(['X-Forwarded-Proto', proto]);
      if (publicHost) out.push(['X-Forwarded-Host', publicHost]);
      if ((o.forwardedPrefix ?? true) && this.path === '' && request.prepath.length) {
        out.push(['X-Forwarded-Prefix', `/${request.prepath.map(encodePathSegment).join('/')}`]);
      }
    } else if (xff.length) {
      out.push(['X-Forwarded-For', xff.join(', ')]);
    }
    if (o.forwarded) {
      const node = peerIp ? (peerIp.includes(':') ? `"[${peerIp}]"` : peerIp) : 'unknown';
      const element = `for=${node};proto=${proto}${publicHost ? `;host="${publicHost}"` : ''}`;
      const prior = request.requestHeaders.getAll('forwarded');
      out.push(['Forwarded', [...prior, element].join(', ')]);
    }
    return out;
  }

  /** The public form of a `Location` value: a backend's origin becomes this resource's public URL. */
  rewriteLocation(value: string, request: Request): string {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return value;
    }
    if (url.protocol !== 'http:') return value;
    const port = url.port ? Number(url.port) : 80;
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (!this.backends.some((b) => b.host.toLowerCase() === host && b.port === port)) return value;
    const tail = url.search + url.hash;
    if (url.pathname === this.path || url.pathname.startsWith(`${this.path}/`)) {
      const mount = request.prePathURL().replace(/\/$/, '');
      return mount + url.pathname.slice(this.path.length) + tail;
    }
    return request.origin() + url.pathname + tail;
  }

  override render(request: Request): RenderResult {
    const limit = this.options.maxBodySize ?? request.limits.maxBodySize;
    if (request.contentLength !== null && request.contentLength > limit) {
      throw new HttpError(413, `The request body is larger than ${limit} bytes.`, { code: 'BODY_TOO_LARGE', close: true });
    }
    const up = upgradeOf(request);
    const websocket = up !== undefined && (this.options.websocket ?? true) && wantsWebSocket(request);
    // Decided before any backend is asked: a path that would leave the base is the client's 400.
    const target = this.backendPath(request);
    this.#attempt(request, target, new Set(), websocket, limit);
    return NOT_DONE_YET;
  }

  #fail(request: Request, error: HttpError): void {
    if (request.finished || request.disconnected) return;
    if (request.startedWriting) {
      request.abortConnection();
      return;
    }
    const site = request.site;
    if (site) site.processingFailed(request, error);
    else request.abortConnection();
  }

  #attempt(
    request: Request,
    target: string,
    tried: Set<Backend>,
    websocket: boolean,
    limit: number,
    fresh = false,
  ): void {
    const backend = this.#pick(tried);
    if (!backend) {
      this.#fail(request, new BadGateway('No backend could be reached.'));
      return;
    }
    tried.add(backend);
    let head: string;
    try {
      head = this.#requestHead(request, target, backend, websocket);
    } catch (err) {
      this.#fail(request, new BadGateway(`Could not build the backend request: ${(err as Error).message}`));
      return;
    }
    const pool = this.pools[this.backends.indexOf(backend)]!;
    const ready = (conn: BackendConnection | null, error: ExchangeError | null) => {
      if (!conn) {
        if (request.disconnected || request.finished) return;
        this.#downUntil.set(backend, Date.now() + (this.options.retryAfter ?? 5_000));
        if (tried.size < this.backends.length) {
          this.#attempt(request, target, tried, websocket, limit);
          return;
        }
        // As nginx's proxy_connect_timeout: a backend that never accepts is a timeout (504), one that
        // refuses is a bad gateway (502).
        if (error!.message === CONNECT_TIMED_OUT) this.#fail(request, new BadGateway('The backend did not accept a connection in time.', 504));
        else this.#fail(request, new BadGateway(`Could not connect to the backend (${error!.message}).`));
        return;
      }
      if (request.disconnected || request.finished) {
        pool.release(conn);
        return;
      }
      this.#exchange(request, conn, head, { target, tried, websocket, limit, backend });
    };
    if (websocket) pool.acquireTunnel(ready);
    else pool.acquire(fresh, ready);
  }

  /** The request line and header fields sent to `backend`, CRLF CRLF included. */
  #requestHead(request: Request, target: string, backend: Backend, websocket: boolean): string {
    const headers = this.backendHeaders(request, backend, websocket);
    // Every value is checked for controls (SECURITY.md §6.7), all in one test of them joined.
    let values = '';
    for (const pair of headers) values += pair[1];
    if (hasControlChars(values)) throw new TypeError('a forwarded field holds a control character');
    return writeRequestHead(request.method, target, headers);
  }

  #exchange(request: Request, conn: BackendConnection, head: string, attempt: { target: string; tried: Set<Backend>; websocket: boolean; limit: number; backend: Backend }): void {
    const { websocket, limit } = attempt;
    const hasBody = !websocket && request.hasBody;
    let bodyStarted = false;
    // The first body piece waits until the end of its read: if the whole response came in one
    // read it goes out with its head in one write (Request.writeWhole).
    let held: Buffer | null = null;
    // The 101 head is kept for the splice: its fields go to the client as the backend sent them.
    let status101: ResponseHead | null = null;
    const method = request.method;
    // Body pieces are views into the client's shared read buffer: what goes on is a copy.
    const send = (chunk: Buffer) => {
      if (!request.write(Buffer.from(chunk))) {
        exchange.pause();
        void request.drain().then(() => exchange.resume());
      }
    };
    const handler: ExchangeHandler = {
      onHead: (res) => {
        if (request.disconnected || request.finished) {
          exchange.abort();
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
          exchange.abort();
          request.resetResponse();
          this.#fail(request, new BadGateway(`The backend sent an invalid response: ${(err as Error).message}`));
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
        if (request.disconnected || request.finished) return;
        if (error.stage === 'stale' && !bodyStarted && IDEMPOTENT.has(method)) {
          // The keep-alive race: the backend closed the idle connection as the request went out.
          attempt.tried.delete(attempt.backend);
          this.#attempt(request, attempt.target, attempt.tried, websocket, limit, true);
          return;
        }
        if (request.startedWriting) {
          request.abortConnection();
          return;
        }
        request.resetResponse();
        if (error.stage === 'timeout') this.#fail(request, new BadGateway('The backend did not answer in time.', 504));
        else if (error.stage === 'protocol') this.#fail(request, new BadGateway(`The backend sent an invalid response: ${error.message}.`));
        else this.#fail(request, new BadGateway(`The backend connection failed (${error.message}).`));
      },
    };
    const exchange = conn.start(head, handler, { head: method === 'HEAD', upgrade: websocket, timeout: this.options.timeout ?? 60_000 });
    request.whenDone((r) => {
      if (r.disconnected) exchange.abort();
    });
    if (!hasBody) return;
    exchange.startBody();
    bodyStarted = true;
    this.#pumpBody(request, exchange, limit);
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
        if (!request.startedWriting) {
          request.closeConnection();
          request.resetResponse();
          this.#fail(request, new HttpError(413, `The request body is larger than ${limit} bytes.`, { code: 'BODY_TOO_LARGE', close: true }));
        }
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
   * Copies the backend's fields to the response: hop-by-hop ones and those named in `Connection`
   * dropped (SECURITY.md §6.5), the Site's Date and Server replaced, Location rewritten (§6.6).
   */
  #responseHeaders(request: Request, flat: readonly string[], connectionNames: boolean): void {
    const listed = connectionNames ? connectionListed(flat) : null;
    const rewrite = this.options.rewriteLocation ?? true;
    let replacedDate = false;
    let replacedServer = false;
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!;
      let value = flat[i + 1]!;
      const n = name.length;
      // Only names of these lengths can be hop-by-hop or need handling here; the rest pass as they are.
      if (HANDLED_LENGTHS[n] === 1 || listed) {
        const key = name.toLowerCase();
        if (HOP_BY_HOP.has(key) || listed?.has(key)) continue;
        // The Site's own Date and Server give way to the backend's (as Twisted does).
        if (key === 'date' && !replacedDate) {
          replacedDate = true;
          request.removeResponseHeader(key);
        } else if (key === 'server' && !replacedServer) {
          replacedServer = true;
          request.removeResponseHeader(key);
        } else if (rewrite && (key === 'location' || key === 'content-location')) {
          value = this.rewriteLocation(value, request);
          if (hasControlChars(value)) continue;
        }
      }
      request.addHeader(name, value);
    }
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
