// A lean HTTP/1.1 client for the reverse proxy: one pool of kept-alive TCP or UNIX-socket connections per backend,
// each request written as one head followed by its streamed body, each response read by ResponseParser.
import { connect, type Socket } from 'node:net';
import { writeChunk } from '../http/head-writer.js';
import type { ProxyErrorCode } from './proxy-error.js';
import { ResponseParser, type ResponseEvents, type ResponseFault, type ResponseHead } from './response-parser.js';

/** Options of {@link BackendPool}. */
export interface BackendPoolOptions {
  /** Most connections open at once; further requests wait for one. Default 256. */
  maxSockets?: number;
  /** Idle connections kept for reuse. Default 64. */
  maxFreeSockets?: number;
  /** Time allowed to connect, ms. Default 5 s. */
  connectTimeout?: number;
  /** An idle connection unused this long is closed, ms. Default 30 s. */
  idleTimeout?: number;
  /** Connect to this UNIX socket instead of `host:port` (which then only name the backend). */
  socketPath?: string;
}

/** Why an exchange failed; `stage` says how far it got, which decides between retry, 502 and 504. */
export interface ExchangeError {
  /**
   * `request`: the request could not be written as it is; `connect`: no connection; `stale`: a reused
   * connection failed before any byte of an answer; `timeout`: silence past the deadline; `protocol`:
   * a malformed answer; `closed`: the connection broke.
   */
  stage: 'request' | 'connect' | 'stale' | 'timeout' | 'protocol' | 'closed';
  /** What happened, as a stable code (proxy-error.ts); the message is for people. */
  code: ProxyErrorCode;
  /** Whether any part of the response head or body was already reported. */
  responded: boolean;
  message: string;
}

/** The receiving side of one request/response exchange. */
export interface ExchangeHandler {
  /** The final response head (or a 101 when an upgrade was asked for). */
  onHead(head: ResponseHead): void;
  /**
   * A piece of the body (call {@link Exchange.pause} to hold the rest back). It is a view into a
   * shared read buffer, valid only during this call and the {@link onFlush} / {@link onEnd} of the
   * same read: copy what is kept or written on.
   */
  onBody(chunk: Buffer): void;
  /** The response is complete. */
  onEnd(): void;
  /** After each batch of bytes read from the backend (lets the receiver flush what it held back). */
  onFlush(): void;
  /** A 101 answer: the raw connection now belongs to the receiver, with the bytes already read past the head. */
  onUpgrade(socket: Socket, rest: Buffer): void;
  onError(error: ExchangeError): void;
}

/** What an exchange needs to know about its request. */
export interface ExchangeOptions {
  /** The request is HEAD (the response has no body). */
  head: boolean;
  /** The request asks for a protocol upgrade; the connection is never reused. */
  upgrade: boolean;
  /** Longest silence from the backend while a response is awaited or read, ms. */
  timeout: number;
}

const enum BodyState {
  /** No body, or the body was written completely. */
  Sent,
  /** The body is being written. */
  Sending,
}

/**
 * One request/response on a backend connection. The request head is written at once; the body (if
 * any) follows through {@link write} and {@link end}.
 */
export class Exchange {
  /** The connection was reused from the pool (a failure before any answer may be the keep-alive race). */
  readonly reused: boolean;
  #conn: BackendConnection;
  #body = BodyState.Sent;
  #responded = false;
  #ended = false;
  #drainWaiter: (() => void) | null = null;
  #paused = false;
  handler: ExchangeHandler;

  constructor(conn: BackendConnection, handler: ExchangeHandler, reused: boolean) {
    this.#conn = conn;
    this.handler = handler;
    this.reused = reused;
  }

  get responded(): boolean {
    return this.#responded;
  }

  /** Whether reading is paused by the receiver (silence is then not the backend's fault). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Marks that a body follows the head: the connection is reusable only once {@link end} was called. */
  startBody(): void {
    this.#body = BodyState.Sending;
  }

  /**
   * Writes body bytes; false when the connection's buffer is full (wait for {@link onDrain}). Once
   * the exchange is over (an early answer, a failure) the bytes are dropped, so the client's body
   * keeps flowing and its connection does not stall.
   */
  write(chunk: Buffer | string): boolean {
    if (this.#ended) return true;
    return this.#conn.socket.write(chunk);
  }

  /** Calls `listener` once the connection can take more body bytes. */
  onDrain(listener: () => void): void {
    this.#drainWaiter = listener;
  }

  /** Writes body bytes as one chunk of the chunked coding (RFC 9112 §7.1); false when the buffer is full. */
  writeChunk(chunk: Buffer): boolean {
    if (this.#ended || chunk.length === 0) return true;
    return writeChunk(this.#conn.socket, chunk);
  }

  /** Ends the request body. */
  end(last?: Buffer | string): void {
    if (this.#ended) return;
    if (last !== undefined) this.#conn.socket.write(last);
    this.#body = BodyState.Sent;
    this.#conn.bodySent();
  }

  /** Stops reading the response until {@link resume}. */
  pause(): void {
    if (this.#paused || this.#ended) return;
    this.#paused = true;
    this.#conn.socket.pause();
  }

  resume(): void {
    if (!this.#paused || this.#ended) return;
    this.#paused = false;
    this.#conn.socket.resume();
  }

  /** Abandons the exchange: the connection is closed, nothing more is reported. */
  abort(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#conn.abandon();
  }

  /** @internal */
  get bodyDone(): boolean {
    return this.#body === BodyState.Sent;
  }

  /** @internal Called once the exchange is over (complete, failed or upgraded). */
  close(): void {
    this.#ended = true;
    this.#drainWaiter = null;
  }

  /** @internal */
  get ended(): boolean {
    return this.#ended;
  }

  /** @internal */
  markResponded(): void {
    this.#responded = true;
  }

  /** @internal */
  drained(): void {
    const w = this.#drainWaiter;
    this.#drainWaiter = null;
    w?.();
  }
}

/** One TCP connection to a backend, with its parser; its socket listeners are attached once and kept. */
export class BackendConnection implements ResponseEvents {
  readonly socket: Socket;
  readonly parser: ResponseParser;
  exchange: Exchange | null = null;
  /** Exchanges started on this connection. */
  uses = 0;
  #pool: BackendPool;
  #closed = false;
  #keepAlive = false;
  #responseDone = false;
  #timeout = 0;
  #upgrade = false;

  /** `streaming`: the socket delivers 'data' events (a tunnel's); otherwise it reads into {@link READ_BUFFER} and calls {@link received}. */
  constructor(pool: BackendPool, socket: Socket, streaming: boolean) {
    this.#pool = pool;
    this.socket = socket;
    this.parser = new ResponseParser(this);
    socket.setNoDelay(true);
    if (streaming) socket.on('data', (data: Buffer) => this.received(data));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.#onClose(err));
    socket.on('close', () => this.#onClose(null));
    socket.on('timeout', () => this.#onTimeout());
    socket.on('drain', () => this.exchange?.drained());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts an exchange: writes `head` (request line and fields, CRLF CRLF included). */
  start(head: string, handler: ExchangeHandler, options: ExchangeOptions): Exchange {
    const exchange = new Exchange(this, handler, this.uses > 0);
    this.uses++;
    this.exchange = exchange;
    this.#responseDone = false;
    this.#keepAlive = false;
    this.#upgrade = options.upgrade;
    this.parser.expect({ head: options.head, upgrade: options.upgrade });
    if (this.#timeout !== options.timeout) {
      this.#timeout = options.timeout;
      this.socket.setTimeout(options.timeout);
    }
    this.socket.write(head, 'latin1');
    return exchange;
  }

  /** The request body went out completely. */
  bodySent(): void {
    if (this.#responseDone) this.#complete();
  }

  /** Closes the connection for an exchange its receiver gave up on. */
  abandon(): void {
    this.parser.stop();
    this.exchange = null;
    this.socket.destroy();
  }

  /** Closes an idle connection. */
  destroy(): void {
    this.socket.destroy();
  }

  // ----- ResponseEvents -----

  onHead(head: ResponseHead): void {
    const ex = this.exchange;
    if (!ex) return;
    ex.markResponded();
    // A connection that carried an upgrade request is never reused, whatever the answer.
    this.#keepAlive = head.keepAlive && !this.#upgrade;
    ex.handler.onHead(head);
  }

  onBody(chunk: Buffer): void {
    this.exchange?.handler.onBody(chunk);
  }

  onEnd(): void {
    const ex = this.exchange;
    if (!ex) return;
    this.#responseDone = true;
    // The response may end before the request body was sent (an early answer): the connection can
    // then only be closed, but the receiver has its response either way.
    if (ex.bodyDone) this.#complete();
    else if (!ex.ended) {
      ex.close();
      this.exchange = null;
      this.#keepAlive = false;
      ex.handler.onEnd();
      this.socket.destroy();
    }
  }

  onUpgrade(rest: Buffer): void {
    const ex = this.exchange;
    if (!ex) return;
    ex.close();
    this.exchange = null;
    this.#closed = true;
    const socket = this.socket;
    socket.removeAllListeners('data');
    socket.removeAllListeners('end');
    socket.removeAllListeners('timeout');
    socket.removeAllListeners('drain');
    socket.removeAllListeners('error');
    socket.removeAllListeners('close');
    socket.setTimeout(0);
    this.#pool.detach(this);
    ex.handler.onUpgrade(socket, rest);
  }

  onError(reason: string, code: ResponseFault): void {
    this.#fail({ stage: 'protocol', code, responded: this.exchange?.responded ?? false, message: reason });
    this.socket.destroy();
  }

  // ----- socket events -----

  #complete(): void {
    const ex = this.exchange!;
    ex.close();
    this.exchange = null;
    const reusable = this.#keepAlive && !this.parser.excess && !this.#closed;
    if (reusable) this.#pool.release(this);
    else this.socket.destroy();
    ex.handler.onEnd();
  }

  /** Bytes read from the backend (a view that is valid only during this call). */
  received(data: Buffer): void {
    if (!this.exchange) {
      // An idle connection that speaks: it cannot be trusted for a next request.
      this.socket.destroy();
      return;
    }
    this.parser.push(data);
    const ex = this.exchange;
    if (ex && !ex.ended) ex.handler.onFlush();
  }

  #onEnd(): void {
    // Closed before any byte of an answer: the same case as a reset (maybe the keep-alive race).
    if (this.exchange && !this.parser.received) this.#onClose(null);
    else if (this.exchange) this.parser.finish();
    this.socket.destroy();
  }

  #onTimeout(): void {
    const ex = this.exchange;
    if (!ex) {
      this.socket.destroy();
      return;
    }
    // Silence while the receiver holds reading back is the client's, not the backend's.
    if (ex.paused) return;
    const message = 'the backend did not answer in time';
    this.#fail({ stage: 'timeout', code: 'BACKEND_TIMEOUT', responded: ex.responded, message });
    this.socket.destroy();
  }

  #onClose(err: NodeJS.ErrnoException | null): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#pool.forget(this);
    }
    if (!this.exchange) return;
    if (!this.parser.received && this.exchange.reused && !this.exchange.responded) {
      const message = err?.code ?? 'the kept-alive connection was closed';
      this.#fail({ stage: 'stale', code: 'BACKEND_RESET', responded: false, message });
      return;
    }
    const message = err?.code ?? err?.message ?? 'the backend closed the connection';
    this.#fail({ stage: 'closed', code: 'BACKEND_RESET', responded: this.exchange.responded, message });
  }

  #fail(error: ExchangeError): void {
    const ex = this.exchange;
    if (!ex) return;
    this.exchange = null;
    this.parser.stop();
    ex.close();
    ex.handler.onError(error);
  }
}

/**
 * The buffer every pooled connection reads into. Reads are handled one at a time and completely
 * (synchronously) before the next, so one buffer serves them all.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

type Waiter = (conn: BackendConnection | null, error: ExchangeError | null) => void;

/** What a request waiting for a connection gets when the pool closes. */
const CLOSING: ExchangeError = {
  stage: 'connect',
  code: 'PROXY_CLOSING',
  responded: false,
  message: 'the proxy is closing',
};

/**
 * The connections to one backend. Idle ones are reused last-in first-out and closed after
 * `idleTimeout`; at most `maxSockets` are open, further requests wait in order.
 *
 * A connection goes back to the pool only after a complete response that allows keep-alive, to a
 * request sent completely, with no stray bytes after it; anything else closes it.
 */
export class BackendPool {
  readonly host: string;
  readonly port: number;
  /** The UNIX socket connected to, or null for TCP. */
  readonly socketPath: string | null;
  #idle: BackendConnection[] = [];
  #open = 0;
  #waiters: Waiter[] = [];
  #maxSockets: number;
  #maxFree: number;
  #connectTimeout: number;
  #idleTimeout: number;
  #idleSweep: NodeJS.Timeout | null = null;
  #idleSince = new WeakMap<BackendConnection, number>();
  #closed = false;

  constructor(host: string, port: number, options: BackendPoolOptions = {}) {
    this.host = host;
    this.port = port;
    this.socketPath = options.socketPath ?? null;
    this.#maxSockets = options.maxSockets ?? 256;
    this.#maxFree = options.maxFreeSockets ?? 64;
    this.#connectTimeout = options.connectTimeout ?? 5_000;
    this.#idleTimeout = options.idleTimeout ?? 30_000;
  }

  /** Connections open now (busy and idle). */
  get openCount(): number {
    return this.#open;
  }

  /** Idle connections kept for reuse. */
  get idleCount(): number {
    return this.#idle.length;
  }

  /**
   * Hands over an idle connection, a new one, or the first to come free; `fresh` skips the idle
   * ones (a retry after the keep-alive race, an upgrade). `ready` receives the connection, or null
   * and an error when none could be made. A connection not used after all goes back with {@link release}.
   */
  acquire(fresh: boolean, ready: (conn: BackendConnection | null, error: ExchangeError | null) => void): void {
    if (!fresh) {
      const conn = this.#idle.pop();
      if (conn) {
        ready(conn, null);
        return;
      }
    }
    if (this.#open < this.#maxSockets) this.#connect(ready);
    else this.#waiters.push(ready);
  }

  /**
   * A new connection for a request that may become a tunnel (an upgrade): it delivers 'data' events
   * so it can be piped after a 101, is never pooled, and (as before, with no agent) not held to
   * `maxSockets`.
   */
  acquireTunnel(ready: (conn: BackendConnection | null, error: ExchangeError | null) => void): void {
    this.#connect(ready, true);
  }

  /** Closes every idle connection; busy ones close when their exchange ends. */
  close(): void {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.destroy();
    if (this.#idleSweep) clearInterval(this.#idleSweep);
    this.#idleSweep = null;
    for (const w of this.#waiters.splice(0)) w(null, CLOSING);
  }

  #connect(ready: Waiter, streaming = false): void {
    this.#open++;
    // Pooled connections read straight into one shared buffer, skipping the stream machinery and a
    // buffer per read: the parser copies what it keeps, the receiver copies what it passes on.
    const onread = {
      buffer: READ_BUFFER,
      callback: (n: number): boolean => {
        conn.received(READ_BUFFER.subarray(0, n));
        // Reading goes on; the receiver pauses with socket.pause() when it must.
        return true;
      },
    };
    const where = this.socketPath === null ? { host: this.host, port: this.port } : { path: this.socketPath };
    const socket = streaming ? connect(where) : connect({ ...where, onread });
    const conn = new BackendConnection(this, socket, streaming);
    socket.setTimeout(this.#connectTimeout);
    const fail = (code: ProxyErrorCode, message: string) => {
      socket.removeListener('connect', onConnect);
      socket.destroy();
      ready(null, { stage: 'connect', code, responded: false, message });
    };
    const onConnect = () => {
      socket.removeListener('error', onError);
      socket.removeListener('timeout', onTimeout);
      socket.setTimeout(0);
      ready(conn, null);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      fail(err.code === 'ECONNREFUSED' ? 'BACKEND_CONNECT_REFUSED' : 'BACKEND_CONNECT_FAILED', err.code ?? err.message);
    };
    const onTimeout = () => fail('BACKEND_CONNECT_TIMEOUT', 'the backend did not accept a connection in time');
    socket.once('connect', onConnect);
    socket.prependOnceListener('error', onError);
    socket.prependOnceListener('timeout', onTimeout);
  }

  /** @internal A connection finished an exchange and may be reused. */
  release(conn: BackendConnection): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter(conn, null);
      return;
    }
    if (this.#closed || this.#idle.length >= this.#maxFree) {
      conn.destroy();
      return;
    }
    this.#idle.push(conn);
    this.#idleSince.set(conn, Date.now());
    this.#sweepLater();
  }

  /** @internal A connection closed. */
  forget(conn: BackendConnection): void {
    this.#open--;
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    const waiter = this.#waiters.shift();
    if (waiter) {
      if (this.#closed) waiter(null, CLOSING);
      else this.#connect(waiter);
    }
  }

  /** @internal A connection was handed over after an upgrade: it no longer counts. */
  detach(conn: BackendConnection): void {
    this.forget(conn);
  }

  /** Closes idle connections past `idleTimeout`, checking a few times per timeout while any are idle. */
  #sweepLater(): void {
    if (this.#idleSweep) return;
    const period = Math.max(50, Math.min(1_000, this.#idleTimeout / 4));
    this.#idleSweep = setInterval(() => {
      const limit = Date.now() - this.#idleTimeout;
      // The idle list is oldest first: stop at the first recent one.
      while (this.#idle.length && (this.#idleSince.get(this.#idle[0]!) ?? 0) <= limit) this.#idle.shift()!.destroy();
      if (!this.#idle.length && this.#idleSweep) {
        clearInterval(this.#idleSweep);
        this.#idleSweep = null;
      }
    }, period);
    this.#idleSweep.unref();
  }
}
