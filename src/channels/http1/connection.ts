// Trellis's own HTTP/1.1 server channel: reads requests off a socket with the strict head parser,
// feeds bodies with backpressure, answers pipelined requests in order, frames each response
// (Content-Length, chunked, or close-delimited), and keeps connections alive within the limits.
import type { Socket } from 'node:net';
import { ChunkedDecoder } from '../../http/chunked.js';
import { RequestHeaders } from '../../http/headers.js';
import { LAST_CHUNK, fieldSet, writeChunk, writeResponseHead } from '../../http/head-writer.js';
import { listHas } from '../../http/syntax.js';
import { allowedTrailers } from '../../http/trailers.js';
import type { Address, Request, ResponseSink } from '../../request.js';
import type { Site, SiteLimits } from '../../site.js';
import { GatewayBody } from '../gateway.js';
import { socketAddress } from '../address.js';
import { BODY_RATE_GRACE_MS } from '../body-watch.js';
import { connectionLost, serveParts, type Refusal } from '../boundary.js';
import { serveUpgrade } from '../upgrade.js';
import {
  MAX_LEADING_EMPTY_LINES,
  parseRequestHead,
  REQUEST_LINE_SLACK,
  type HeadLimits,
  type RequestHead,
} from './request-head.js';

/** Bytes of pipelined requests buffered while a response is being written, before reading pauses. */
const PIPELINE_BUFFER = 64 * 1024;
/** Unsent response bytes after which the next pipelined request waits for the socket to drain. */
const PIPELINE_WRITE_BACKLOG = 64 * 1024;
/** Most bytes of an unread request body read and thrown away to keep the connection; past it, close. */
const DISCARD_LIMIT = 256 * 1024;
/** How long a closing connection waits for the client to read the last response before it is destroyed. */
const LINGER_MS = 2000;
/**
 * At shutdown, how long a new connection that has not sent its first request yet is left open: its
 * request is most likely on the way (the client connected just before the listener closed), and
 * closing it would fail that request. The header timeout still bounds it.
 */
const FIRST_REQUEST_GRACE_MS = 1000;
/** Bodies up to this size leave in one buffer with their head; larger ones follow it in a corked second write. */
const COALESCE_LIMIT = 16 * 1024;
const CONTINUE = Buffer.from(writeResponseHead(100, 'Continue', []), 'latin1');
/** Framing and connection fields are the channel's to write (RFC 9112 §6, §9.6): a resource's are left out. */
const CHANNEL_FIELDS = fieldSet(['connection', 'keep-alive', 'transfer-encoding']);
/** The same, and the Content-Length of a response sent chunked to carry its declared trailers. */
const CHANNEL_FIELDS_AND_LENGTH = fieldSet(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

/** The head answered for when a refused head never became a request: no body, no keep-alive. */
const GET_STAND_IN: RequestHead = {
  method: 'GET',
  target: '/',
  minor: 1,
  rawHeaders: [],
  contentLength: null,
  chunked: false,
  keepAlive: false,
  upgrade: false,
  expectContinue: false,
  expectation: null,
  host: undefined,
};
const HEAD_STAND_IN: RequestHead = { ...GET_STAND_IN, method: 'HEAD' };
const EXPECT_REFUSED: Refusal = { status: 417, detail: 'Only "Expect: 100-continue" is supported.' };

/** Options of {@link Http1Server}. */
export interface Http1Options {
  /** The connections arrive over TLS (`isSecure()` is true). Default false. */
  secure?: boolean;
  /** The UNIX socket path, reported as the local address. Default null. */
  unixPath?: string | null;
}

/** Where a connection is between requests. */
const enum Phase {
  /** Waiting for (the rest of) a request head. */
  Head,
  /** A request is being answered (its body may still be arriving). */
  Exchange,
  /** Finishing: no more requests are read. */
  Closing,
}

/** How the current response body is delimited (RFC 9112 §6). */
const enum Framing {
  /** No body: HEAD, 1xx, 204, 304. */
  None,
  Length,
  Chunked,
  /** HTTP/1.0 without a length: the body ends when the connection does. */
  Close,
}

/**
 * Serves a Site over HTTP/1.1 on sockets handed to {@link accept}: from a `net.Server`, or the
 * HTTP/1.1 side of a TLS server whose ALPN chose `http/1.1`. One timer per server enforces the
 * timeouts of SECURITY.md §3.3 on every connection it holds:
 *
 * | state                                   | limit               | then |
 * |-----------------------------------------|---------------------|------|
 * | idle between requests                   | `keepAliveTimeout`  | close |
 * | part of a head received, or none yet    | `headerTimeout`     | 408 and close (silent close if nothing came) |
 * | a body arriving with no progress        | `bodyIdleTimeout`   | 408 (unless an answer began), close |
 * | a body averaging under `bodyMinRate`, 10 s after it began | `bodyMinRate` | 408 (unless an answer began), close |
 * | response bytes the client will not take | `writeIdleTimeout`  | close |
 *
 * The body rate is the average since the body began (time the resource spends not reading excluded),
 * so a client trickling a byte at a time cannot hold a connection by always showing progress. A
 * later request on a kept-alive connection gets the same 400 or 408 a first one would; a connection
 * with no byte of a next request closes silently. Pinned by the "connection lifetime" tests of
 * test/channels/http1/connection.test.ts.
 *
 * @example
 * const http1 = new Http1Server(site);
 * net.createServer({ allowHalfOpen: true }, (socket) => http1.accept(socket)).listen(8080);
 */
export class Http1Server {
  readonly site: Site;
  readonly limits: SiteLimits;
  readonly headLimits: HeadLimits;
  /** Past this many buffered bytes a head is over some limit whatever its content. */
  readonly headCap: number;
  readonly secure: boolean;
  readonly unixPath: string | null;
  /** Set at shutdown: responses say `Connection: close` and idle connections are closed. */
  draining = false;
  readonly #connections = new Set<Connection>();
  #sweep: NodeJS.Timeout | null = null;

  constructor(site: Site, options: Http1Options = {}) {
    this.site = site;
    this.limits = site.limits;
    this.headLimits = {
      maxUriLength: site.limits.maxUriLength,
      maxHeaderBytes: site.limits.maxHeaderBytes,
      maxHeaderCount: site.limits.maxHeaderCount,
    };
    this.headCap =
      2 * MAX_LEADING_EMPTY_LINES + site.limits.maxUriLength + REQUEST_LINE_SLACK + site.limits.maxHeaderBytes + 4;
    this.secure = options.secure ?? false;
    this.unixPath = options.unixPath ?? null;
  }

  /** Starts serving HTTP/1.1 on a connected socket. */
  accept(socket: Socket): void {
    socket.setNoDelay(true);
    const connection = new Connection(this, socket);
    this.#connections.add(connection);
    this.#sweep ??= this.#startSweep();
  }

  /** Shutdown: from now on every response closes its connection, and idle connections close now. */
  closeIdleConnections(): void {
    this.draining = true;
    for (const connection of this.#connections) connection.closeIfIdle();
  }

  /** @internal A connection that closed or was handed to another protocol. */
  forget(connection: Connection): void {
    this.#connections.delete(connection);
    if (this.#connections.size === 0 && this.#sweep) {
      clearInterval(this.#sweep);
      this.#sweep = null;
    }
  }

  #startSweep(): NodeJS.Timeout {
    const l = this.limits;
    const shortest = Math.min(l.keepAliveTimeout, l.headerTimeout, l.bodyIdleTimeout, l.writeIdleTimeout);
    const period = Math.max(25, Math.min(1000, Math.floor(shortest / 4)));
    const timer = setInterval(() => {
      const now = Date.now();
      for (const connection of this.#connections) connection.check(now);
    }, period);
    timer.unref();
    return timer;
  }
}

/** The ResponseSink of one request: calls from a request whose exchange is over do nothing. */
class ExchangeSink implements ResponseSink {
  readonly #connection: Connection;
  readonly #serial: number;

  constructor(connection: Connection, serial: number) {
    this.#connection = connection;
    this.#serial = serial;
  }

  writeHead(code: number, reason: string, flat: string[]): void {
    this.#connection.writeHead(this.#serial, code, reason, flat);
  }

  write(chunk: Buffer): boolean {
    return this.#connection.writeBody(this.#serial, chunk);
  }

  end(chunk?: Buffer): void {
    this.#connection.endBody(this.#serial, chunk ?? null);
  }

  endText(text: string): void {
    this.#connection.endBody(this.#serial, text);
  }

  onDrain(listener: () => void): void {
    this.#connection.socket.once('drain', listener);
  }

  abort(): void {
    this.#connection.abort(this.#serial);
  }

  closeAfterResponse(): void {
    this.#connection.closeAfter(this.#serial);
  }

  queuedBytes(): number {
    return this.#connection.socket.writableLength;
  }

  setTrailers(fields: string[]): void {
    this.#connection.setTrailers(this.#serial, fields);
  }
}

/** One client connection: a state machine over its bytes, one exchange at a time. */
class Connection {
  readonly socket: Socket;
  readonly #server: Http1Server;
  #phase = Phase.Head;
  readonly #opened = Date.now();
  /**
   * Received bytes not yet consumed: `#buf[#off..#end]`. Usually the socket's own chunk; when bytes
   * must wait for more (a partial head, pipelined requests) they move into an owned buffer that grows
   * by doubling, so a client sending one byte at a time costs linear copying, not quadratic.
   */
  #buf: Buffer | null = null;
  #off = 0;
  #end = 0;
  #owned = false;
  /** Bytes of the pending head already scanned by a parse that found it incomplete. */
  #scanned = 0;
  /** When the current phase began (for the head and keep-alive timeouts). */
  #since = Date.now();
  #served = 0;
  #addresses: { client: Address; local: Address } | null = null;
  /** Paused because the body reader is behind, or because pipelined bytes piled up. */
  #bodyPaused = false;
  #pipelinePaused = false;
  #clientEnded = false;

  // The current exchange.
  #serial = 0;
  #request: Request | null = null;
  #minor: 0 | 1 = 1;
  #keepAliveAsked = false;
  #isHead = false;
  #closeAsked = false;
  #body: GatewayBody | null = null;
  #chunkedBody = false;
  #bodyDone = true;
  #bodyRemaining = 0;
  #decoder: ChunkedDecoder | null = null;
  /** Where a chunked body's trailer fields go when it ends (the Request's `trailers`). */
  #requestTrailers: RequestHeaders | null = null;
  #discarding = false;
  #discarded = 0;
  #expectContinue = false;
  #bodyBytesAt = 0;
  #bodyProgressAt = 0;
  #bodyStartedAt = 0;
  #bodyStartBytes = 0;
  // The current response.
  #headText: string | null = null;
  #headSent = false;
  #framing = Framing.None;
  #declaredLength = 0;
  #written = 0;
  /** The response's trailer lines (each ending in CRLF), sent in place of the empty trailer section. */
  #trailerText: string | null = null;
  #keepAlive = false;
  #responseDone = false;
  // Write stall detection.
  #writtenAt = Date.now();
  #writtenMark = 0;

  constructor(server: Http1Server, socket: Socket) {
    this.#server = server;
    this.socket = socket;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', noop);
    socket.once('close', this.#onClose);
  }

  // ---- reading ----

  #onData = (chunk: Buffer): void => {
    if (this.#phase === Phase.Closing) return;
    // The header timeout of a later request runs from its first byte, not from the previous answer.
    if (this.#phase === Phase.Head && this.#served > 0 && !this.#buffered()) this.#since = Date.now();
    this.#append(chunk);
    this.#pump();
  };

  #append(chunk: Buffer): void {
    const buf = this.#buf;
    if (buf === null || this.#off >= this.#end) {
      this.#buf = chunk;
      this.#off = 0;
      this.#end = chunk.length;
      this.#owned = false;
      return;
    }
    if (this.#owned && this.#end + chunk.length <= buf.length) {
      chunk.copy(buf, this.#end);
      this.#end += chunk.length;
      return;
    }
    const held = this.#end - this.#off;
    const grown = Buffer.allocUnsafe(Math.max(4096, 2 * (held + chunk.length)));
    buf.copy(grown, 0, this.#off, this.#end);
    chunk.copy(grown, held);
    this.#buf = grown;
    this.#off = 0;
    this.#end = held + chunk.length;
    this.#owned = true;
  }

  /** Whether an LF arrived at or after `from` (the owned buffer's bytes past `#end` are not data). */
  #newLine(from: number): boolean {
    const lf = this.#buf!.indexOf(10, from);
    return lf !== -1 && lf < this.#end;
  }

  /** Whether unconsumed bytes are buffered. */
  #buffered(): boolean {
    return this.#buf !== null && this.#off < this.#end;
  }

  #onEnd = (): void => {
    this.#clientEnded = true;
    if (this.#phase === Phase.Head) {
      // Nothing more will come: answer what is buffered (a partial head then closes), or close now.
      if (!this.#buffered()) this.#close();
      else this.#pump();
      return;
    }
    if (!this.#bodyDone) this.#bodyCutShort();
    else if (this.#phase === Phase.Exchange && !this.#responseDone) this.#clientGone();
  };

  /**
   * A FIN while the answer to a complete request is pending: the client is gone (browsers, curl and
   * front ends never half-close while they wait; node:http and nginx judge a FIN so too). The request
   * hears `connectionLost` (its `notifyFinish()` rejects, the access log marks it aborted) and the
   * socket is destroyed at once, freeing its slot (SECURITY.md §3.3). A FIN once the answer is written
   * just closes. Pinned by "a client FIN while its response is pending" in
   * test/channels/http1/connection.test.ts and by test/channels/client-abort.test.ts.
   */
  #clientGone(): void {
    if (this.#request) connectionLost(this.#request, new Error('The client closed the connection.'));
    this.socket.destroy();
  }

  /** The client half-closed before the body was complete: the reader hears so, or the discarding stops. */
  #bodyCutShort(): void {
    if (this.#discarding) {
      this.#close();
      return;
    }
    this.#bodyDone = true;
    this.#body?.destroy(new Error('The client closed the connection before the request body was complete.'));
  }

  #onClose = (): void => {
    this.#phase = Phase.Closing;
    this.#server.forget(this);
    if (!this.#bodyDone) this.#body?.destroy(new Error('Connection lost'));
    const request = this.#request;
    if (request && !this.#responseDone) connectionLost(request);
  };

  /** Consumes what the buffer holds, as far as the current phase allows. */
  #pump(): void {
    this.#consume();
    // A body that still lacks bytes after a half-close will never get them.
    if (this.#clientEnded && this.#phase === Phase.Exchange && !this.#bodyDone) this.#bodyCutShort();
  }

  #consume(): void {
    while (this.#buffered()) {
      if (this.#phase === Phase.Head) {
        if (!this.#readHead()) return;
        // An exchange that finished at once has already arranged for what follows.
        if ((this.#phase as Phase) !== Phase.Exchange) return;
      } else if (this.#phase === Phase.Exchange) {
        if (!this.#bodyDone) {
          this.#readBody();
          if (!this.#bodyDone) return;
          continue;
        }
        // Pipelined bytes wait for the current response; too many pause the socket.
        if (this.#end - this.#off > PIPELINE_BUFFER && !this.#pipelinePaused) {
          this.#pipelinePaused = true;
          this.socket.pause();
        }
        return;
      } else {
        return;
      }
    }
    this.#buf = null;
    this.#off = 0;
    this.#end = 0;
  }

  /** Parses a head from the buffer and starts its exchange; false when more bytes are needed. */
  #readHead(): boolean {
    const buf = this.#buf!;
    const pending = this.#end - this.#off;
    // A head ends with LF: a re-parse is only worth it once a new line arrived (or the head has
    // outgrown every limit, which the parser then reports).
    if (
      this.#scanned > 0 &&
      !this.#clientEnded &&
      pending <= this.#server.headCap &&
      !this.#newLine(this.#off + this.#scanned)
    )
      return false;
    const parsed = parseRequestHead(buf, this.#off, this.#end, this.#server.headLimits);
    if (parsed.kind === 'partial') {
      this.#scanned = pending;
      // A half-closed client will not finish this head.
      if (this.#clientEnded) this.#close();
      return false;
    }
    this.#scanned = 0;
    if (parsed.kind === 'error') {
      this.#refuse(parsed.status, parsed.detail);
      return false;
    }
    this.#off += parsed.length;
    const head = parsed.head;
    if (head.upgrade) {
      this.#handOver(head);
      return false;
    }
    this.#startExchange(head);
    return true;
  }

  /**
   * Starts answering a request: hands its parts to the channel boundary, which builds the Request and
   * runs the Site, or, with `refusal`, `site.refuse()` (the stand-in heads of {@link Connection.#refuse}).
   */
  #startExchange(head: RequestHead, refusal: Refusal | null = null): void {
    const server = this.#server;
    const serial = ++this.#serial;
    this.#phase = Phase.Exchange;
    this.#minor = head.minor;
    this.#keepAliveAsked = head.keepAlive;
    this.#isHead = head.method === 'HEAD';
    this.#closeAsked = false;
    this.#headText = null;
    this.#headSent = false;
    this.#responseDone = false;
    this.#trailerText = null;
    this.#requestTrailers = null;
    this.#discarding = false;
    this.#discarded = 0;
    // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
    this.#expectContinue = head.expectContinue && head.minor === 1;
    let body: GatewayBody | null = null;
    if (head.chunked || (head.contentLength !== null && head.contentLength > 0)) {
      body = new GatewayBody(this.#onBodyWanted);
      this.#bodyDone = false;
      this.#bodyRemaining = head.chunked ? 0 : head.contentLength!;
      if (head.chunked) {
        this.#decoder ??= new ChunkedDecoder();
        this.#decoder.reset();
        this.#requestTrailers = new RequestHeaders();
      }
      const now = Date.now();
      this.#bodyStartedAt = now;
      this.#bodyProgressAt = now;
      this.#bodyStartBytes = this.socket.bytesRead;
      this.#bodyBytesAt = this.socket.bytesRead;
    } else {
      this.#bodyDone = true;
    }
    this.#body = body;
    this.#chunkedBody = head.chunked;
    this.#addresses ??= {
      client: socketAddress(
        this.socket.remoteAddress,
        this.socket.remoteFamily,
        this.socket.remotePort,
        server.unixPath,
      ),
      local: socketAddress(this.socket.localAddress, this.socket.remoteFamily, this.socket.localPort, server.unixPath),
    };
    const parts = {
      method: head.method,
      uri: head.target,
      clientproto: head.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
      headers: RequestHeaders.fromFlat(head.rawHeaders),
      body,
      client: this.#addresses.client,
      local: this.#addresses.local,
      secure: server.secure,
      channel: 'http/1.1',
      contentLength: head.contentLength,
      trailers: this.#requestTrailers,
    };
    if (refusal === null && head.expectation !== null && !head.expectContinue) refusal = EXPECT_REFUSED;
    const request = serveParts(server.site, parts, new ExchangeSink(this, serial), refusal);
    // A response finished at once has already moved on; only one still pending hears of a lost client.
    if (this.#serial === serial && !this.#responseDone) this.#request = request;
  }

  /** Moves body bytes from the buffer into the request body (or throws them away once unwanted). */
  #readBody(): void {
    const buf = this.#buf!;
    const start = this.#off;
    if (!this.#chunkedBody) {
      const n = Math.min(this.#bodyRemaining, this.#end - start);
      this.#bodyRemaining -= n;
      this.#off += n;
      if (this.#discarding) this.#discarded += n;
      else if (this.#body!.feed(buf.subarray(start, start + n)) === false) this.#pauseForBody();
      if (this.#bodyRemaining === 0) this.#finishBody();
      return;
    }
    const used = this.#decoder!.push(
      this.#end === buf.length ? buf : buf.subarray(0, this.#end),
      start,
      this.#discarding ? this.#countDiscarded : this.#feedPiece,
    );
    if (used < 0) {
      const reason = this.#decoder!.error ?? 'malformed chunked body';
      this.#body?.destroy(new Error(reason));
      this.#bodyDone = true;
      if (this.#headSent || this.#responseDone) {
        this.#close();
        return;
      }
      // The resource may still be waiting on the body; answer for it and close.
      this.#refuse(400, `The chunked request body is malformed: ${reason}.`);
      return;
    }
    this.#off += used;
    if (this.#discarding && this.#discarded > DISCARD_LIMIT) {
      this.#close();
      return;
    }
    if (this.#decoder!.done) this.#finishBody();
  }

  #feedPiece = (piece: Buffer): void => {
    if (this.#body!.feed(piece) === false) this.#pauseForBody();
  };

  #countDiscarded = (piece: Buffer): void => {
    this.#discarded += piece.length;
  };

  #pauseForBody(): void {
    if (this.#bodyPaused) return;
    this.#bodyPaused = true;
    this.socket.pause();
  }

  #onBodyWanted = (): void => {
    if (this.#expectContinue) {
      // RFC 9110 §10.1.1: the client waits for 100 Continue; send it once the body is wanted.
      this.#expectContinue = false;
      if (!this.#headSent && !this.#responseDone && !this.#bodyDone) this.socket.write(CONTINUE);
    }
    if (this.#bodyPaused) {
      this.#bodyPaused = false;
      if (!this.#pipelinePaused) this.socket.resume();
    }
  };

  #finishBody(): void {
    this.#bodyDone = true;
    const trailers = this.#requestTrailers;
    if (trailers !== null && !this.#discarding) {
      for (const [name, value] of allowedTrailers(this.#decoder!.trailers)) trailers.append(name, value);
    }
    if (!this.#discarding) this.#body!.close();
    // A body whose last bytes filled the reader's buffer is never asked for more (an ended stream
    // reads no further), so its pause ends here; otherwise the next request on the connection is
    // never read. Pipelined bytes are still held back by PIPELINE_BUFFER.
    if (this.#bodyPaused) {
      this.#bodyPaused = false;
      if (!this.#pipelinePaused) this.socket.resume();
    }
    if (this.#responseDone) this.#next();
  }

  // ---- writing ----

  /** Builds the response head; it leaves with the first body bytes. */
  writeHead(serial: number, code: number, reason: string, flat: string[]): void {
    if (serial !== this.#serial || this.#headText !== null || this.#phase !== Phase.Exchange) return;
    let closeAsked = this.#closeAsked;
    let length = -1;
    let trailerDeclared = false;
    // The resource's Connection, Content-Length and Trailer decide the framing; the head writer
    // leaves out the fields in CHANNEL_FIELDS (and the Content-Length a chunked answer gives way),
    // and the channel writes its own.
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const n = flat[i]!.length;
      if (n !== 10 && n !== 14 && n !== 7) continue;
      const lower = flat[i]!.toLowerCase();
      if (lower === 'trailer') trailerDeclared = true;
      else if (lower === 'connection') {
        if (listHas(flat[i + 1]!, 'close')) closeAsked = true;
      } else if (lower === 'content-length') length = Number(flat[i + 1]!);
    }
    let framing: Framing;
    let drop = CHANNEL_FIELDS;
    if (this.#isHead || code < 200 || code === 204 || code === 304) framing = Framing.None;
    else if (trailerDeclared && this.#minor === 1) {
      // Declared trailers need the chunked framing (RFC 9112 §7.1.2): a Content-Length gives way.
      framing = Framing.Chunked;
      if (length >= 0) drop = CHANNEL_FIELDS_AND_LENGTH;
      length = -1;
    } else if (length >= 0) framing = Framing.Length;
    else if (this.#minor === 1) framing = Framing.Chunked;
    else framing = Framing.Close;
    const server = this.#server;
    const limits = server.limits;
    const keepAlive =
      this.#keepAliveAsked &&
      !closeAsked &&
      framing !== Framing.Close &&
      !server.draining &&
      this.#served + 1 < limits.maxRequestsPerSocket &&
      // A large body still unread will not be discarded: say so now rather than close unannounced.
      (this.#bodyDone || this.#chunkedBody || this.#bodyRemaining <= DISCARD_LIMIT);
    let own = framing === Framing.Chunked ? 'Transfer-Encoding: chunked\r\n' : '';
    const timeout = Math.floor(limits.keepAliveTimeout / 1000);
    if (keepAlive) own += `Connection: keep-alive\r\nKeep-Alive: timeout=${timeout}\r\n`;
    else own += 'Connection: close\r\n';
    this.#keepAlive = keepAlive;
    this.#framing = framing;
    this.#declaredLength = length;
    this.#written = 0;
    this.#headText = writeResponseHead(code, reason, flat, drop, own);
  }

  /** Writes part of the body in the response's framing; false when the socket's buffer is full. */
  writeBody(serial: number, chunk: Buffer): boolean {
    if (serial !== this.#serial || this.#responseDone || this.socket.destroyed) return false;
    const framing = this.#framing;
    if (framing === Framing.None || chunk.length === 0) {
      this.#flushHead();
      return this.socket.writableLength < this.socket.writableHighWaterMark;
    }
    if (framing === Framing.Length) {
      const room = this.#declaredLength - this.#written;
      if (chunk.length > room) chunk = chunk.subarray(0, Math.max(0, room));
      this.#written += chunk.length;
      return this.#send(chunk);
    }
    if (framing === Framing.Chunked) {
      const socket = this.socket;
      socket.cork();
      this.#flushHead();
      const ok = writeChunk(socket, chunk);
      socket.uncork();
      return ok;
    }
    return this.#send(chunk);
  }

  /**
   * Keeps the trailer fields to send with the end of a chunked body (RFC 9112 §7.1.2); other framings
   * cannot carry them and they are dropped. HTTP/1.1 recipients of a chunked body read its trailer
   * section whether or not they sent `TE: trailers`, so they go out either way.
   */
  setTrailers(serial: number, fields: string[]): void {
    if (serial !== this.#serial || this.#responseDone) return;
    let text = '';
    for (let i = 0; i + 1 < fields.length; i += 2) text += `${fields[i]!}: ${fields[i + 1]!}\r\n`;
    this.#trailerText = text === '' ? null : text;
  }

  /** The end of a chunked body: the last chunk, the trailer section, the empty line. */
  #lastChunk(): Buffer | string {
    const trailers = this.#trailerText;
    return trailers === null ? LAST_CHUNK : `0\r\n${trailers}\r\n`;
  }

  /** Writes the last of the body (a Buffer, or text as UTF-8) and ends the response. */
  endBody(serial: number, last: Buffer | string | null): void {
    if (serial !== this.#serial || this.#responseDone) return;
    if (this.#headText === null) return;
    const framing = this.#framing;
    if (last !== null && framing !== Framing.None) {
      const length = typeof last === 'string' ? Buffer.byteLength(last) : last.length;
      if (
        framing === Framing.Length &&
        this.#headText !== '' &&
        length <= COALESCE_LIMIT &&
        length <= this.#declaredLength
      ) {
        // The usual small response: head and body in one buffer, one write.
        const head = this.#headText;
        const out = Buffer.allocUnsafe(head.length + length);
        out.write(head, 0, 'latin1');
        if (typeof last === 'string') out.write(last, head.length, 'utf8');
        else last.copy(out, head.length);
        this.#headText = '';
        this.#headSent = true;
        this.#written = length;
        this.socket.write(out);
      } else {
        const socket = this.socket;
        socket.cork();
        this.writeBody(serial, typeof last === 'string' ? Buffer.from(last) : last);
        if (framing === Framing.Chunked) socket.write(this.#lastChunk(), 'latin1');
        socket.uncork();
      }
    } else {
      const socket = this.socket;
      socket.cork();
      this.#flushHead();
      if (framing === Framing.Chunked) socket.write(this.#lastChunk(), 'latin1');
      socket.uncork();
    }
    this.#responseDone = true;
    this.#served++;
    // A body shorter than its Content-Length leaves the client waiting for bytes that never come.
    if (framing === Framing.Length && this.#written < this.#declaredLength) this.#keepAlive = false;
    if (!this.#keepAlive) {
      this.#close();
      return;
    }
    if (!this.#bodyDone) {
      // The resource did not read the whole body: read past it to reach the next request, if small.
      if (!this.#chunkedBody && this.#bodyRemaining > DISCARD_LIMIT) {
        this.#close();
        return;
      }
      this.#discarding = true;
      this.#expectContinue = false;
      this.#body?.destroy();
      if (this.#bodyPaused) {
        this.#bodyPaused = false;
        if (!this.#pipelinePaused) this.socket.resume();
      }
      return;
    }
    this.#next();
  }

  /** Drops the connection for a response that failed midway; a request whose exchange is over cannot. */
  abort(serial: number): void {
    if (serial === this.#serial && !this.#responseDone) this.socket.destroy();
  }

  /** Marks the connection to close after the response of request `serial`. */
  closeAfter(serial: number): void {
    if (serial === this.#serial) this.#closeAsked = true;
  }

  #flushHead(): void {
    const head = this.#headText;
    if (head === null || head === '') return;
    this.#headText = '';
    this.#headSent = true;
    this.socket.write(head, 'latin1');
  }

  #send(chunk: Buffer): boolean {
    const head = this.#headText;
    if (head !== null && head !== '') {
      this.#headText = '';
      this.#headSent = true;
      if (chunk.length <= COALESCE_LIMIT) {
        const out = Buffer.allocUnsafe(head.length + chunk.length);
        out.write(head, 0, 'latin1');
        chunk.copy(out, head.length);
        return this.socket.write(out);
      }
      this.socket.write(head, 'latin1');
    }
    return this.socket.write(chunk);
  }

  // ---- between requests ----

  /** The exchange is over and its body consumed: go on to the next request, if any is waiting. */
  #next(): void {
    this.#request = null;
    this.#body = null;
    // The previous response is complete: a refusal of the next request must be written in full.
    this.#headSent = false;
    this.#phase = Phase.Head;
    this.#since = Date.now();
    const waiting = this.#buffered();
    if (this.#server.draining || (this.#clientEnded && !waiting)) {
      this.#close();
      return;
    }
    if (this.#pipelinePaused) {
      this.#pipelinePaused = false;
      if (!this.#bodyPaused) this.socket.resume();
    }
    if (!waiting) return;
    // A pipelined request is waiting. Start it on a later turn (no recursion through a long
    // pipeline), and only once the client has taken most of what was already written.
    const serial = this.#serial;
    const go = () => {
      if (this.#serial === serial && this.#phase === Phase.Head) this.#pump();
    };
    if (this.socket.writableLength > PIPELINE_WRITE_BACKLOG) {
      this.socket.pause();
      this.#pipelinePaused = true;
      this.socket.once('drain', go);
    } else {
      setImmediate(go);
    }
  }

  /**
   * Shutdown: an idle connection closes now (a new one once its first request had time to arrive,
   * FIRST_REQUEST_GRACE_MS); a busy one closes after its response.
   */
  closeIfIdle(): void {
    if (this.#phase !== Phase.Head || this.#buffered()) return;
    if (this.#served === 0 && Date.now() - this.#opened < FIRST_REQUEST_GRACE_MS) return;
    this.#close();
  }

  /**
   * Refuses what the client sent (a head the parser refused, a head or body too slow, a malformed
   * chunked body) through `site.refuse()`, so the answer carries the Site's error page, `Date`,
   * `Server` and `--add-header` headers and is access-logged like any other; the connection then
   * closes (SECURITY.md §3.1). A request being answered is refused as itself; a head that never became
   * a request is answered for a stand-in `GET /` (`HEAD /` when the head starts `HEAD `, so the answer
   * carries no content, RFC 9110 §9.3.2). Pinned by "refusals carry the Site's page and headers" in
   * test/channels/http1/connection.test.ts.
   */
  #refuse(status: number, detail: string): void {
    if (this.socket.destroyed) return;
    const refusal = { status, detail };
    const request = this.#request;
    if (this.#phase === Phase.Exchange && request !== null) {
      this.#server.site.refuse(request, status, detail);
      // A response already begun was dropped by the Site; whatever remains, nothing more is read.
      this.#close();
      return;
    }
    this.#startExchange(this.#pendingHead() ? HEAD_STAND_IN : GET_STAND_IN, refusal);
    this.#close();
  }

  /** Whether the waiting request head, past any empty lines, starts with `HEAD `. */
  #pendingHead(): boolean {
    const buf = this.#buf;
    if (buf === null) return false;
    let i = this.#off;
    while (i + 1 < this.#end && buf[i] === 13 && buf[i + 1] === 10) i += 2;
    return this.#end - i >= 5 && buf.toString('latin1', i, i + 5) === 'HEAD ';
  }

  /** Stops reading, sends what is queued, and closes; a client that never reads is cut off after a while. */
  #close(): void {
    if (this.#phase === Phase.Closing && this.socket.writableEnded) return;
    this.#phase = Phase.Closing;
    this.#buf = null;
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.end();
    // Keep reading (and dropping) so the client's unread request bytes do not turn the close into a reset.
    socket.resume();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  /** Hands the socket to the Upgrade/CONNECT path with the bytes that followed the head. */
  #handOver(head: RequestHead): void {
    const socket = this.socket;
    const rest = this.#buf!.subarray(this.#off, this.#end);
    this.#buf = null;
    this.#phase = Phase.Closing;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onClose);
    socket.off('error', noop);
    this.#server.forget(this);
    socket.pause();
    serveUpgrade(
      this.#server.site,
      {
        method: head.method,
        uri: head.target,
        httpVersion: head.minor === 1 ? '1.1' : '1.0',
        rawHeaders: head.rawHeaders,
      },
      socket,
      Buffer.from(rest),
      { secure: this.#server.secure, unixPath: this.#server.unixPath },
    );
  }

  /** Applies the timeouts (see {@link Http1Server}); called by the server's sweep. */
  check(now: number): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    const limits = this.#server.limits;
    // Writes the client is not taking.
    if (socket.writableLength > 0) {
      if (socket.bytesWritten !== this.#writtenMark) {
        this.#writtenMark = socket.bytesWritten;
        this.#writtenAt = now;
      } else if (now - this.#writtenAt >= limits.writeIdleTimeout) {
        socket.destroy();
        return;
      }
    } else {
      this.#writtenMark = socket.bytesWritten;
      this.#writtenAt = now;
    }
    if (this.#phase === Phase.Head) {
      const waiting = this.#buffered();
      if (!waiting && this.#served > 0) {
        if (now - this.#since >= limits.keepAliveTimeout) this.#close();
        return;
      }
      if (now - this.#since < limits.headerTimeout) return;
      if (waiting) this.#refuse(408, 'The request head did not arrive in time.');
      else this.#close();
      return;
    }
    if (this.#phase === Phase.Exchange && !this.#bodyDone) {
      const read = socket.bytesRead;
      if (this.#bodyPaused || this.#pipelinePaused) {
        // Time the resource spends not reading (a full buffer) does not count against the client:
        // both clocks start again once it reads.
        this.#bodyBytesAt = read;
        this.#bodyProgressAt = now;
        this.#bodyStartedAt = now;
        this.#bodyStartBytes = read;
        return;
      }
      if (read !== this.#bodyBytesAt) {
        this.#bodyBytesAt = read;
        this.#bodyProgressAt = now;
      } else if (now - this.#bodyProgressAt >= limits.bodyIdleTimeout) {
        this.#bodyTimedOut('The request body stopped arriving.');
        return;
      }
      // Progress alone is not enough: a byte a second keeps the idle clock happy forever.
      const elapsed = now - this.#bodyStartedAt;
      if (elapsed > BODY_RATE_GRACE_MS && ((read - this.#bodyStartBytes) * 1000) / elapsed < limits.bodyMinRate) {
        this.#bodyTimedOut(`The request body arrived slower than ${limits.bodyMinRate} bytes per second.`);
      }
    }
  }

  /** A body too slow or stalled: its reader hears so, the client gets 408 unless an answer began; then close. */
  #bodyTimedOut(detail: string): void {
    this.#bodyDone = true;
    this.#body?.destroy(new Error(detail));
    if (this.#headSent || this.#responseDone) {
      this.socket.destroy();
      return;
    }
    this.#refuse(408, detail);
  }
}

function noop(): void {}
