// The FastCGI channel: a FastCGI 1.0 responder serving a Site. One connection carries one or more
// requests (FCGI_KEEP_CONN, multiplexing up to 16); each becomes a neutral Request through
// cgi-params.ts, and its response goes back as STDOUT records holding a CGI-style head and body.
import { createServer, type Server, type Socket } from 'node:net';
import type { Request, ResponseSink } from '../../request.js';
import type { Site } from '../../site.js';
import { formatCgiHead } from '../cgi-head.js';
import { requestFromCgiParams } from '../cgi-params.js';
import type { Endpoint } from '../endpoint.js';
import { GatewayBody, parseTrustedPeers, peerAllowed, type GatewayOptions } from '../gateway.js';
import { bindServer, type Listener } from '../listen.js';
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
  encodeStream,
  encodeUnknownType,
  type FcgiRecord,
} from './records.js';

const DEFAULT_IDLE_TIMEOUT = 60_000;
const DEFAULT_MAX_CONCURRENT = 16;
/** Bytes of unread management replies (UNKNOWN_TYPE, GET_VALUES_RESULT) tolerated before closing. */
const MAX_UNREAD_REPLIES = 1024 * 1024;

type ConnectionSettings = { idleTimeout: number; maxConcurrent: number; mount: string | null };

/** One request on a connection, from BEGIN_REQUEST to END_REQUEST. */
interface Exchange {
  id: number;
  keepConn: boolean;
  params: Buffer[];
  paramsBytes: number;
  paramsDone: boolean;
  stdinDone: boolean;
  body: GatewayBody | null;
  /** Body bytes still expected per CONTENT_LENGTH; null when unknown (Apache streams chunked bodies). */
  remaining: number | null;
  request: Request | null;
  /** The response head, held back so it shares a record with the first body bytes. */
  head: Buffer | null;
  ended: boolean;
  closeAfter: boolean;
}

/**
 * One FastCGI connection from a front end.
 *
 * Rules it enforces (SECURITY.md §5.2, pinned in test/channels/fastcgi/server.test.ts):
 * - PARAMS of one request total at most 64 KiB and 1000 pairs; a bad version byte, a malformed
 *   BEGIN_REQUEST, a second BEGIN_REQUEST for an active id, or STDIN before the params end closes
 *   the connection. Nothing a front end sends can throw out of here.
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
  #closed = false;
  #closeWhenIdle = false;
  #timeoutMs = -1;

  constructor(socket: Socket, site: Site, options: ConnectionSettings) {
    this.#socket = socket;
    this.#site = site;
    this.#options = options;
    this.#nvLimits = { maxBytes: 64 * 1024, maxPairs: Math.min(1000, site.limits.maxFields) };
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
    if (error) this.#fail(error);
    else this.#updateTimer();
  }

  #onRecord(record: FcgiRecord): void {
    const { type, requestId: id } = record;
    const management = type > FcgiType.UNKNOWN_TYPE || type === 0 || id === FCGI_NULL_REQUEST_ID;
    // Replies to management records pile up when the peer sends them without reading: bounded.
    if (management && this.#socket.writableLength > MAX_UNREAD_REPLIES) return this.#fail('the front end does not read the replies to its management records');
    if (type > FcgiType.UNKNOWN_TYPE || type === 0) {
      this.#socket.write(encodeUnknownType(type));
      return;
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
    // FCGI_MAX_CONNS is left unanswered: Trellis sets no connection cap of its own for a front end.
    const known: Record<string, string> = {
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
    this.#exchanges.set(id, {
      id,
      keepConn: begin.keepConn,
      params: [],
      paramsBytes: 0,
      paramsDone: false,
      stdinDone: false,
      body: null,
      remaining: null,
      request: null,
      head: null,
      ended: false,
      closeAfter: false,
    });
  }

  /** ABORT_REQUEST: the client went away. The Request sees connectionLost; the front end gets END_REQUEST. */
  #abort(id: number): void {
    const ex = this.#exchanges.get(id);
    if (!ex) return;
    ex.ended = true;
    ex.body?.destroy(new Error('The request was aborted by the front end'));
    ex.request?.connectionLost(new Error('The front end aborted the request'));
    this.#socket.write(encodeEndRequest(id, 0, FcgiProtocolStatus.REQUEST_COMPLETE));
    this.#forget(ex);
  }

  #params(id: number, content: Buffer): void {
    const ex = this.#exchanges.get(id);
    if (!ex) return;
    if (ex.paramsDone) return this.#fail(`PARAMS after the end of the params of request ${id}`);
    if (content.length > 0) {
      ex.paramsBytes += content.length;
      if (ex.paramsBytes > this.#nvLimits.maxBytes) return this.#fail(`params of request ${id} exceed ${this.#nvLimits.maxBytes} bytes`);
      // Kept as views of the received chunk (bounded by the 64 KiB limit), decoded once complete.
      ex.params.push(content);
      return;
    }
    ex.paramsDone = true;
    const whole = ex.params.length === 1 ? ex.params[0]! : Buffer.concat(ex.params, ex.paramsBytes);
    ex.params = [];
    const decoded = decodeParams(whole, this.#nvLimits);
    if (!decoded.ok) return this.#fail(`bad params in request ${id}: ${decoded.reason}`);
    this.#start(ex, decoded.params);
  }

  #start(ex: Exchange, params: Map<string, string>): void {
    const cl = params.get('CONTENT_LENGTH');
    const declared = cl && /^\d{1,15}$/.test(cl) ? Number(cl) : null;
    ex.remaining = declared;
    if (declared !== 0) {
      const body = new GatewayBody(() => this.#wanted(ex));
      ex.body = body;
    }
    const { request, refusal } = requestFromCgiParams(params, {
      body: ex.body,
      sink: this.#sink(ex),
      channel: 'fastcgi',
      ...(this.#options.mount !== null ? { mount: this.#options.mount } : {}),
    });
    ex.request = request;
    if (refusal) this.#site.refuse(request, refusal.status, refusal.detail);
    else this.#site.handle(request);
  }

  #stdin(id: number, content: Buffer): void {
    const ex = this.#exchanges.get(id);
    if (!ex || ex.stdinDone) return;
    if (!ex.paramsDone) return this.#fail(`STDIN before the end of the params of request ${id}`);
    if (content.length === 0) {
      ex.stdinDone = true;
      if (ex.remaining !== null && ex.remaining > 0) ex.body?.destroy(new Error('The request body was cut short'));
      else ex.body?.close();
      this.#unpause(ex);
      return;
    }
    if (ex.remaining !== null) {
      if (content.length > ex.remaining) return this.#fail(`request ${id} sent more STDIN than its CONTENT_LENGTH`);
      ex.remaining -= content.length;
    }
    if (!ex.body || ex.body.destroyed) return;
    if (!ex.body.feed(Buffer.from(content))) {
      this.#paused.add(ex);
      this.#socket.pause();
    }
  }

  #wanted(ex: Exchange): void {
    this.#unpause(ex);
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

  #withHead(ex: Exchange, chunk: Buffer | undefined): Buffer | undefined {
    const head = ex.head;
    if (!head) return chunk;
    ex.head = null;
    return chunk && chunk.length ? Buffer.concat([head, chunk]) : head;
  }

  #sink(ex: Exchange): ResponseSink {
    return {
      writeHead: (code, reason, headers) => {
        ex.head = formatCgiHead(code, reason, headers);
        if (code >= 500 && ex.request) {
          // Lands in the front end's error log (nginx: "FastCGI sent in stderr"), pointing at ours.
          this.#write(ex, FcgiType.STDERR, Buffer.from(`Trellis answered ${code} to ${ex.request.method} ${ex.request.uri}; see the Trellis log`));
        }
      },
      write: (chunk) => {
        const data = this.#withHead(ex, chunk);
        if (!data) return true;
        const ok = this.#write(ex, FcgiType.STDOUT, data);
        if (!ok) this.#updateTimer();
        return ok;
      },
      end: (chunk) => {
        if (this.#closed || ex.ended) return;
        // The last body bytes, the empty STDOUT and END_REQUEST leave in one write: a front end that
        // sees the body complete before END_REQUEST (HAProxy) would otherwise open a new connection
        // for the client's next request instead of reusing this one.
        const data = this.#withHead(ex, chunk);
        const socket = this.#socket;
        const tail = [encodeRecord(FcgiType.STDOUT, ex.id), encodeEndRequest(ex.id, 0, FcgiProtocolStatus.REQUEST_COMPLETE)];
        if (!data || data.length < 16 * 1024) {
          socket.write(Buffer.concat(data ? [...encodeStream(FcgiType.STDOUT, ex.id, data), ...tail] : tail));
        } else {
          socket.cork();
          this.#write(ex, FcgiType.STDOUT, data);
          for (const b of tail) socket.write(b);
          socket.uncork();
        }
        ex.ended = true;
        this.#forget(ex);
      },
      onDrain: (listener) => {
        if (this.#closed) return;
        this.#drainWaiters.push(listener);
      },
      // A response that fails after its head went out cannot be marked as broken inside FastCGI:
      // dropping the connection is the only signal the front end turns into a cut response.
      abort: () => this.#socket.destroy(),
      closeAfterResponse: () => {
        ex.closeAfter = true;
      },
    };
  }

  /** Removes a finished exchange; unread STDIN for it is discarded from now on. */
  #forget(ex: Exchange): void {
    this.#exchanges.delete(ex.id);
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
    for (const ex of this.#exchanges.values()) {
      ex.ended = true;
      ex.body?.destroy(new Error('The front end closed the connection'));
      ex.request?.connectionLost(new Error('The front end closed the connection'));
    }
    this.#exchanges.clear();
    this.#paused.clear();
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * A net.Server that speaks FastCGI (responder role) for `site`. TCP peers other than loopback are
 * dropped on accept unless listed in `trustedPeers` (SECURITY.md §5.1).
 *
 * ```ts
 * createFastCgiServer(site).listen('/run/trellis.fcgi');
 * ```
 */
export function createFastCgiServer(site: Site, options: GatewayOptions = {}): Server & { drainConnections(): void } {
  const trusted = options.trustedPeers?.length ? parseTrustedPeers(options.trustedPeers) : null;
  const connections = new Set<FastCgiConnection>();
  const settings = {
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    maxConcurrent: options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
    mount: options.mount ?? null,
  };
  const server = createServer((socket) => {
    if (!peerAllowed(socket, trusted)) {
      site.logError(`FastCGI connection from ${socket.remoteAddress} refused: not a trusted peer (--gateway-trusted-peers)`);
      socket.destroy();
      return;
    }
    const connection = new FastCgiConnection(socket, site, settings);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  return Object.assign(server, {
    drainConnections: () => {
      for (const c of connections) c.drain();
    },
  });
}

/** Starts a FastCGI listener for `site` on `ep` (tcp or unix); its url reads `fastcgi://host:port/`. */
export async function listenFastCgi(site: Site, ep: Endpoint, options: GatewayOptions = {}): Promise<Listener> {
  const server = createFastCgiServer(site, options);
  return bindServer(server, ep, { scheme: 'fastcgi', beforeClose: () => server.drainConnections() });
}
