// The FastCGI channel: a FastCGI 1.0 responder serving a Site. One connection carries one or more
// requests (FCGI_KEEP_CONN, multiplexing up to 16); each becomes a neutral Request through
// cgi-params.ts, and its response goes back as STDOUT records holding a CGI-style head and body.
import { createServer, type Socket } from 'node:net';
import { isContentLength } from '../../http/syntax.js';
import type { Request, ResponseSink } from '../../request.js';
import type { Site } from '../../site.js';
import { formatCgiHeadText } from '../../http/cgi-head.js';
import { connectionLost } from '../boundary.js';
import { CgiVariables, serveCgiParams } from '../cgi-params.js';
import type { Endpoint } from '../endpoint.js';
import { GatewayBody, parseOnlyPeers, parseTrustedPeers, peerAllowed, type GatewayOptions } from '../gateway.js';
import { bindServer, type ChannelServer, type Listener } from '../listen.js';
import { decodeNameValuePairs, decodeParams, encodeNameValuePairs, type NameValueLimits } from './name-value.js';
import {
  FCGI_NULL_REQUEST_ID,
  FcgiProtocolStatus,
  FcgiRole,
  FcgiType,
  RecordReader,
  decodeBeginRequest,
  encodeEndRequest,
  encodeRecord,
  encodeStdout,
  encodeStream,
  encodeUnknownType,
  type FcgiRecord,
} from './records.js';

const DEFAULT_IDLE_TIMEOUT = 60_000;
const DEFAULT_MAX_CONCURRENT = 16;
const DEFAULT_MAX_CONNECTIONS = 1024;
/** Params of one request: at most this many bytes (SECURITY.md §5.2). */
const MAX_PARAMS_BYTES = 64 * 1024;
/** Params bytes held for all the unfinished requests of one connection together. */
const MAX_PENDING_PARAMS_BYTES = 2 * MAX_PARAMS_BYTES;
/** Bytes of unread management replies (UNKNOWN_TYPE, GET_VALUES_RESULT) tolerated before closing. */
const MAX_UNREAD_REPLIES = 1024 * 1024;

type ConnectionSettings = { idleTimeout: number; maxConcurrent: number; maxConnections: number; mount: string | null };

/**
 * One request on a connection, from BEGIN_REQUEST to END_REQUEST; it is also the Request's response
 * sink, each call passed on to its connection.
 */
class Exchange implements ResponseSink {
  readonly connection: FastCgiConnection;
  readonly id: number;
  readonly keepConn: boolean;
  /** When BEGIN_REQUEST arrived (ms); the params must end within `headerTimeout` of it. */
  readonly begunAt = Date.now();
  /** The params received so far, copied into one buffer grown by doubling (`paramsBytes` of it used). */
  params: Buffer | null = null;
  paramsBytes = 0;
  paramsDone = false;
  /** The decoded params, between the end of the PARAMS stream and the start of the request. */
  vars: CgiVariables | null = null;
  stdinDone = false;
  body: GatewayBody | null = null;
  /** Body bytes still expected per CONTENT_LENGTH; null when unknown (Apache streams chunked bodies). */
  remaining: number | null = null;
  request: Request | null = null;
  /** The response head, held back so it shares a record with the first body bytes. */
  head: string | null = null;
  ended = false;
  closeAfter = false;

  constructor(connection: FastCgiConnection, id: number, keepConn: boolean) {
    this.connection = connection;
    this.id = id;
    this.keepConn = keepConn;
  }

  writeHead(code: number, reason: string, flat: string[]): void {
    this.connection.head(this, code, formatCgiHeadText(code, reason, flat));
  }

  write(chunk: Buffer): boolean {
    return this.connection.stdout(this, chunk);
  }

  end(chunk?: Buffer): void {
    this.connection.finish(this, chunk ?? null);
  }

  endText(text: string): void {
    this.connection.finish(this, text);
  }

  onDrain(listener: () => void): void {
    this.connection.onDrain(listener);
  }

  // A response that fails after its head went out cannot be marked as broken inside FastCGI:
  // dropping the connection is the only signal the front end turns into a cut response.
  abort(): void {
    this.connection.abort();
  }

  closeAfterResponse(): void {
    this.closeAfter = true;
  }

  /** Records of several requests share the connection: what one of them still holds is not known. */
  queuedBytes(): number | null {
    return null;
  }
}

/**
 * One FastCGI connection from a front end.
 *
 * Rules it enforces (SECURITY.md §5.2, pinned in test/channels/fastcgi/server.test.ts):
 * - PARAMS of one request total at most 64 KiB and 1000 pairs, and the unfinished params of all
 *   requests on the connection at most 128 KiB, held as copies (never as views pinning whole socket
 *   reads); a bad version byte, a BEGIN_REQUEST whose body is not 8 bytes or whose id is the null
 *   one, a second BEGIN_REQUEST for an active id, or STDIN before the params end closes the
 *   connection. Nothing a front end sends can throw out of here.
 * - Head deadline: the params of a request end within `headerTimeout` (20 s) of its BEGIN_REQUEST,
 *   however slowly they keep coming, or the connection closes.
 * - At most `maxConcurrent` (16) requests in flight; one more is answered END_REQUEST/OVERLOADED.
 * - Idle timeouts: `idleTimeout` (60 s) between requests, `bodyIdleTimeout` (30 s) while params or
 *   STDIN are arriving, `writeIdleTimeout` (60 s) while the front end does not read.
 */
class FastCgiConnection {
  readonly #socket: Socket;
  readonly #site: Site;
  readonly #options: ConnectionSettings;
  readonly #reader = new RecordReader();
  readonly #exchanges = new Map<number, Exchange>();
  readonly #paused = new Set<Exchange>();
  readonly #nvLimits: NameValueLimits;
  #drainWaiters: Array<() => void> = [];
  /** Exchanges whose params ended in the chunk being read. */
  #starting: Exchange[] = [];
  #closed = false;
  #closeWhenIdle = false;
  #timeoutMs = -1;
  /** Armed while some request's params are unfinished: the head deadline of the oldest one. */
  #headTimer: NodeJS.Timeout | null = null;
  /** Params bytes held by the requests whose params are unfinished. */
  #pendingParamsBytes = 0;

  constructor(socket: Socket, site: Site, options: ConnectionSettings) {
    this.#socket = socket;
    this.#site = site;
    this.#options = options;
    this.#nvLimits = { maxBytes: MAX_PARAMS_BYTES, maxPairs: Math.min(1000, site.limits.maxFields) };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
      this.#updateTimer();
    });
    // The front end closing its side ends every request on the connection.
    socket.on('end', () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#onClose());
    socket.on('timeout', () => socket.destroy());
    this.#updateTimer();
  }

  /** Stops taking new requests: closes now when idle, else after the requests in flight. */
  drain(): void {
    this.#closeWhenIdle = true;
    if (this.#exchanges.size === 0) this.#socket.end();
  }

  #fail(reason: string): void {
    if (this.#closed) return;
    this.#site.logError(`FastCGI connection from ${this.#socket.remoteAddress ?? 'a UNIX socket'} closed: ${reason}`);
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    const { records, error } = this.#reader.push(chunk);
    for (const record of records) {
      if (this.#closed || this.#socket.destroyed) return;
      this.#onRecord(record);
    }
    if (error) return this.#fail(error);
    // Requests start once the records that came with their params are read: a body that is already
    // complete (nginx sends a GET's empty STDIN with its params) then needs no stream at all.
    const starting = this.#starting;
    if (starting.length) {
      this.#starting = [];
      for (const ex of starting) {
        if (this.#closed || this.#socket.destroyed) return;
        if (!ex.ended && this.#exchanges.get(ex.id) === ex) this.#start(ex);
      }
    }
    this.#updateTimer();
  }

  #onRecord(record: FcgiRecord): void {
    const { type, requestId: id } = record;
    const management = type > FcgiType.UNKNOWN_TYPE || type === 0 || id === FCGI_NULL_REQUEST_ID;
    // Replies to management records pile up when the peer sends them without reading: bounded.
    if (management && this.#socket.writableLength > MAX_UNREAD_REPLIES)
      return this.#fail('the front end does not read the replies to its management records');
    if (type > FcgiType.UNKNOWN_TYPE || type === 0) {
      this.#socket.write(encodeUnknownType(type));
      return;
    }
    if (type === FcgiType.BEGIN_REQUEST && id === FCGI_NULL_REQUEST_ID) {
      return this.#fail('BEGIN_REQUEST for the null request id');
    }
    if (id === FCGI_NULL_REQUEST_ID) {
      if (type === FcgiType.GET_VALUES) this.#getValues(record.content);
      else this.#socket.write(encodeUnknownType(type));
      return;
    }
    switch (type) {
      case FcgiType.BEGIN_REQUEST:
        this.#begin(id, record.content);
        return;
      case FcgiType.ABORT_REQUEST:
        this.#abort(id);
        return;
      case FcgiType.PARAMS:
        this.#params(id, record.content);
        return;
      case FcgiType.STDIN:
        this.#stdin(id, record.content);
        return;
      default:
        // DATA (a Filter's stream) and records only an application sends: nothing to do for a responder.
        return;
    }
  }

  /** GET_VALUES → GET_VALUES_RESULT with the variables we know (spec §4.1). */
  #getValues(content: Buffer): void {
    const decoded = decodeNameValuePairs(content, this.#nvLimits);
    if (!decoded.ok) return this.#fail(`bad GET_VALUES: ${decoded.reason}`);
    const known: Record<string, string> = {
      FCGI_MAX_CONNS: String(this.#options.maxConnections),
      FCGI_MAX_REQS: String(this.#options.maxConcurrent),
      FCGI_MPXS_CONNS: this.#options.maxConcurrent > 1 ? '1' : '0',
    };
    const answer: Array<[string, string]> = [];
    for (const [name] of decoded.pairs) if (Object.hasOwn(known, name)) answer.push([name, known[name]!]);
    const body = encodeNameValuePairs(answer);
    if (body.length > 65535) return this.#fail('GET_VALUES asked for too much');
    this.#socket.write(encodeRecord(FcgiType.GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, body));
  }

  #begin(id: number, content: Buffer): void {
    const begin = decodeBeginRequest(content);
    if (!begin) return this.#fail('BEGIN_REQUEST body is not 8 bytes');
    if (this.#exchanges.has(id)) return this.#fail(`BEGIN_REQUEST for request ${id}, which is already active`);
    if (begin.role !== FcgiRole.RESPONDER) {
      this.#socket.write(encodeEndRequest(id, 0, FcgiProtocolStatus.UNKNOWN_ROLE));
      if (!begin.keepConn && this.#exchanges.size === 0) this.#socket.end();
      return;
    }
    if (this.#exchanges.size >= this.#options.maxConcurrent || this.#closeWhenIdle) {
      this.#socket.write(encodeEndRequest(id, 0, FcgiProtocolStatus.OVERLOADED));
      return;
    }
    this.#exchanges.set(id, new Exchange(this, id, begin.keepConn));
    if (!this.#headTimer) this.#armHeadTimer(this.#site.limits.headerTimeout);
  }

  /** Closes the connection when a request's params are still unfinished past its head deadline. */
  #checkHeads = (): void => {
    this.#headTimer = null;
    if (this.#closed) return;
    const limit = this.#site.limits.headerTimeout;
    const now = Date.now();
    let next = Infinity;
    for (const ex of this.#exchanges.values()) {
      if (ex.paramsDone) continue;
      const due = ex.begunAt + limit;
      if (due <= now) return this.#fail(`the params of request ${ex.id} did not end within ${limit} ms`);
      next = Math.min(next, due);
    }
    if (next !== Infinity) this.#armHeadTimer(next - now);
  };

  #armHeadTimer(ms: number): void {
    this.#headTimer = setTimeout(this.#checkHeads, ms);
    this.#headTimer.unref();
  }

  /** Copies a PARAMS piece into the exchange's buffer; false when a params limit is passed. */
  #addParams(ex: Exchange, content: Buffer): boolean {
    const used = ex.paramsBytes + content.length;
    const held = ex.params?.length ?? 0;
    if (used > held) {
      const size = Math.min(Math.max(held * 2, used, 1024), MAX_PARAMS_BYTES);
      if (this.#pendingParamsBytes - held + size > MAX_PENDING_PARAMS_BYTES) return false;
      const grown = Buffer.allocUnsafe(size);
      ex.params?.copy(grown, 0, 0, ex.paramsBytes);
      this.#pendingParamsBytes += size - held;
      ex.params = grown;
    }
    content.copy(ex.params!, ex.paramsBytes);
    ex.paramsBytes = used;
    return true;
  }

  /** Lets go of an exchange's params buffer. */
  #dropParams(ex: Exchange): void {
    this.#pendingParamsBytes -= ex.params?.length ?? 0;
    ex.params = null;
  }

  /** ABORT_REQUEST: the client went away. The Request sees connectionLost; the front end gets END_REQUEST. */
  #abort(id: number): void {
    const ex = this.#exchanges.get(id);
    if (!ex) return;
    ex.ended = true;
    ex.body?.destroy(new Error('The request was aborted by the front end'));
    if (ex.request) connectionLost(ex.request, new Error('The front end aborted the request'));
    this.#socket.write(encodeEndRequest(id, 0, FcgiProtocolStatus.REQUEST_COMPLETE));
    this.#forget(ex);
  }

  #params(id: number, content: Buffer): void {
    const ex = this.#exchanges.get(id);
    if (!ex) return;
    if (ex.paramsDone) return this.#fail(`PARAMS after the end of the params of request ${id}`);
    if (content.length > 0) {
      if (ex.paramsBytes + content.length > MAX_PARAMS_BYTES) {
        return this.#fail(`params of request ${id} exceed ${MAX_PARAMS_BYTES} bytes`);
      }
      if (!this.#addParams(ex, content)) {
        return this.#fail(`unfinished params on the connection exceed ${MAX_PENDING_PARAMS_BYTES} bytes`);
      }
      return;
    }
    ex.paramsDone = true;
    const whole = ex.params === null ? Buffer.alloc(0) : ex.params.subarray(0, ex.paramsBytes);
    this.#dropParams(ex);
    const decoded = decodeParams(whole, this.#nvLimits, new CgiVariables());
    if (!decoded.ok) return this.#fail(`bad params in request ${id}: ${decoded.reason}`);
    const cl = decoded.params.contentLength;
    ex.remaining = cl && isContentLength(cl) ? Number(cl) : null;
    ex.vars = decoded.params;
    this.#starting.push(ex);
  }

  #start(ex: Exchange): void {
    const vars = ex.vars!;
    ex.vars = null;
    // No stream for a body known to be empty; one for a body still to come.
    if (!ex.body && !ex.stdinDone && ex.remaining !== 0) ex.body = this.#newBody(ex);
    // The exchange is the sink and holds the Request: a 5xx answered at once still names it on STDERR.
    const mount = this.#options.mount !== null ? { mount: this.#options.mount } : {};
    const options = { body: ex.body, sink: ex, channel: 'fastcgi', ...mount };
    serveCgiParams(this.#site, vars, options, ex);
  }

  #newBody(ex: Exchange): GatewayBody {
    return new GatewayBody(() => this.#unpause(ex));
  }

  #stdin(id: number, content: Buffer): void {
    const ex = this.#exchanges.get(id);
    if (!ex || ex.stdinDone) return;
    if (!ex.paramsDone) return this.#fail(`STDIN before the end of the params of request ${id}`);
    if (content.length === 0) {
      ex.stdinDone = true;
      if (ex.remaining !== null && ex.remaining > 0) {
        // Even when nothing came before the request starts: it must see a broken body, not an empty one.
        if (!ex.body && !ex.request) ex.body = this.#newBody(ex);
        ex.body?.destroy(new Error('The request body was cut short'));
      } else ex.body?.close();
      this.#unpause(ex);
      return;
    }
    if (ex.remaining !== null) {
      if (content.length > ex.remaining) return this.#fail(`request ${id} sent more STDIN than its CONTENT_LENGTH`);
      ex.remaining -= content.length;
    }
    // Body bytes that arrive before the request starts go into its stream, made here.
    if (!ex.body && !ex.request) ex.body = this.#newBody(ex);
    if (!ex.body || ex.body.destroyed) return;
    if (!ex.body.feed(Buffer.from(content))) {
      this.#paused.add(ex);
      this.#socket.pause();
    }
  }

  #unpause(ex: Exchange): void {
    if (!this.#paused.delete(ex)) return;
    if (this.#paused.size === 0 && !this.#closed) this.#socket.resume();
  }

  #write(ex: Exchange, type: number, data: Buffer): boolean {
    if (this.#closed || ex.ended) return false;
    const socket = this.#socket;
    const buffers = encodeStream(type, ex.id, data);
    // Small pieces go out as one buffer; big ones uncopied, gathered into one writev by cork().
    if (data.length < 16 * 1024) return socket.write(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers));
    socket.cork();
    for (const b of buffers) socket.write(b);
    socket.uncork();
    return !socket.writableNeedDrain;
  }

  // What an Exchange passes on as the Request's response sink.

  /** Keeps the response head until the first body bytes; a 5xx also leaves a line on STDERR. */
  head(ex: Exchange, code: number, head: string): void {
    ex.head = head;
    if (code >= 500 && ex.request) {
      // Lands in the front end's error log (nginx: "FastCGI sent in stderr"), pointing at ours.
      this.#write(
        ex,
        FcgiType.STDERR,
        Buffer.from(`Trellis answered ${code} to ${ex.request.method} ${ex.request.uri}; see the Trellis log`),
      );
    }
  }

  /** Body bytes as STDOUT, the held-back head in the same record when they fit one. */
  stdout(ex: Exchange, chunk: Buffer): boolean {
    if (this.#closed || ex.ended) return false;
    const head = ex.head;
    let ok: boolean;
    if (head !== null) {
      ex.head = null;
      const record = encodeStdout(ex.id, head, chunk, false);
      if (record) ok = this.#socket.write(record);
      else {
        this.#socket.cork();
        this.#write(ex, FcgiType.STDOUT, Buffer.from(head, 'latin1'));
        ok = this.#write(ex, FcgiType.STDOUT, chunk);
        this.#socket.uncork();
      }
    } else {
      ok = chunk.length ? this.#write(ex, FcgiType.STDOUT, chunk) : !this.#socket.writableNeedDrain;
    }
    if (!ok) this.#updateTimer();
    return ok;
  }

  /**
   * Ends the response: the last body bytes, the empty STDOUT and END_REQUEST leave in one write (one
   * buffer when they fit a record). A front end that sees the body complete before END_REQUEST
   * (HAProxy) would otherwise open a new connection for the client's next request instead of
   * reusing this one.
   */
  finish(ex: Exchange, body: Buffer | string | null): void {
    if (this.#closed || ex.ended) return;
    const head = ex.head ?? '';
    ex.head = null;
    const socket = this.#socket;
    const whole = encodeStdout(ex.id, head, body, true);
    if (whole) socket.write(whole);
    else {
      // Too big for one record: the head, then the body uncopied in records, then the end.
      socket.cork();
      if (head) this.#write(ex, FcgiType.STDOUT, Buffer.from(head, 'latin1'));
      if (body !== null) this.#write(ex, FcgiType.STDOUT, typeof body === 'string' ? Buffer.from(body) : body);
      socket.write(encodeStdout(ex.id, '', null, true)!);
      socket.uncork();
    }
    ex.ended = true;
    this.#forget(ex);
  }

  onDrain(listener: () => void): void {
    if (this.#closed) return;
    this.#drainWaiters.push(listener);
  }

  abort(): void {
    this.#socket.destroy();
  }

  /** Removes a finished exchange; unread STDIN for it is discarded from now on. */
  #forget(ex: Exchange): void {
    this.#exchanges.delete(ex.id);
    this.#dropParams(ex);
    if (ex.body && !ex.body.readableEnded && !ex.body.destroyed) ex.body.destroy();
    this.#unpause(ex);
    if (!ex.keepConn || ex.closeAfter) this.#closeWhenIdle = true;
    if (this.#closeWhenIdle && this.#exchanges.size === 0) this.#socket.end();
    else this.#updateTimer();
  }

  #updateTimer(): void {
    if (this.#closed) return;
    let ms = 0;
    if (this.#exchanges.size === 0) {
      ms = this.#options.idleTimeout;
    } else {
      let receiving = false;
      for (const ex of this.#exchanges.values()) {
        if (!ex.stdinDone && !this.#paused.has(ex)) receiving = true;
      }
      if (receiving) ms = this.#site.limits.bodyIdleTimeout;
      else if (this.#socket.writableNeedDrain) ms = this.#site.limits.writeIdleTimeout;
    }
    if (ms !== this.#timeoutMs) {
      this.#timeoutMs = ms;
      this.#socket.setTimeout(ms);
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#headTimer) clearTimeout(this.#headTimer);
    this.#headTimer = null;
    for (const ex of this.#exchanges.values()) {
      ex.ended = true;
      ex.body?.destroy(new Error('The front end closed the connection'));
      if (ex.request) connectionLost(ex.request, new Error('The front end closed the connection'));
    }
    this.#exchanges.clear();
    this.#paused.clear();
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * A server (a net.Server and its `closeIdle`) that speaks FastCGI (responder role) for `site`. TCP peers other than loopback are
 * dropped on accept unless listed in `trustedPeers` (SECURITY.md §5.1); at most `maxConnections`
 * (1024) connections are open at once, no per-IP cap (a front end is one address for every client,
 * SECURITY.md §3.3); with `webServerAddrs`
 * (FCGI_WEB_SERVER_ADDRS), only the TCP peers it lists are accepted. Pinned in
 * test/channels/fastcgi/spawned.test.ts.
 *
 * ```ts
 * createFastCgiServer(site).server.listen('/run/trellis.fcgi');
 * ```
 */
export function createFastCgiServer(site: Site, options: GatewayOptions = {}): ChannelServer {
  const trusted = options.trustedPeers?.length ? parseTrustedPeers(options.trustedPeers) : null;
  const only = options.webServerAddrs ? parseOnlyPeers(options.webServerAddrs) : null;
  const connections = new Set<FastCgiConnection>();
  const settings = {
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    maxConcurrent: options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    mount: options.mount ?? null,
  };
  const server = createServer((socket) => {
    if (!peerAllowed(socket, trusted, only)) {
      site.logError(
        `FastCGI connection from ${socket.remoteAddress} refused: not a trusted peer (${only ? 'FCGI_WEB_SERVER_ADDRS' : '--gateway-trusted-peers'})`,
      );
      socket.destroy();
      return;
    }
    const connection = new FastCgiConnection(socket, site, settings);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  // Past the cap Node closes new connections at once: memory stays bounded by connections × limits.
  server.maxConnections = settings.maxConnections;
  return {
    server,
    // Each connection closes once its requests are answered (FCGI_KEEP_CONN or not).
    closeIdle: () => {
      for (const c of connections) c.drain();
    },
  };
}

/**
 * Starts a FastCGI listener for `site` on `ep`: tcp, unix, or `fd:0`, the listening socket a front
 * end hands the process it spawns (FCGI_LISTENSOCK_FILENO). Its url reads `fastcgi://host:port/`.
 */
export async function listenFastCgi(site: Site, ep: Endpoint, options: GatewayOptions = {}): Promise<Listener> {
  const server = createFastCgiServer(site, options);
  return bindServer(server, ep, { scheme: 'fastcgi' });
}
