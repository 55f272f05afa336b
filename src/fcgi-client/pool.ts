// Kept-alive connections to one FastCGI application (FCGI_KEEP_CONN), at most `maxConnections` at
// once, requests queued beyond that; idle connections closed after `idleTimeout`. Each connection has
// one set of listeners for its whole life, and one sweep per pool times out silent and idle ones.
import { connect, type Socket } from 'node:net';
import { HttpError } from '../errors.js';
import { ProxyError } from '../proxy/proxy-error.js';
import { formatFastCGIAddress, type FastCGIAddress } from './address.js';

/** Options of {@link FastCGIPool}. */
export interface FastCGIPoolOptions {
  /**
   * Most connections open at once. Default 8. Keep it at or under the application's worker count
   * (`PHP_FCGI_CHILDREN` for `php-cgi -b`, `pm.max_children` for php-fpm): a worker serves one
   * kept-alive connection at a time, so a connection past that count would wait for a worker that
   * never frees.
   */
  maxConnections?: number;
  /** Most requests waiting for a connection; past it, 503. Default 1024. */
  maxQueue?: number;
  /** Milliseconds to wait for a connection to be accepted. Default 5000 (then 504). */
  connectTimeout?: number;
  /** Milliseconds an idle kept-alive connection stays open. Default 30000. */
  idleTimeout?: number;
}

/** Bytes of the buffer every connection of a pool reads into, one read at a time. */
const READ_BUFFER_SIZE = 64 * 1024;

/** How often the pool looks for silent and idle connections, in milliseconds. */
const SWEEP_MS = 100;

/** What one request does with the reads, the close and the silence of the connection it was lent. */
export interface FastCGIConnectionHandler {
  /** Milliseconds without a read or a {@link FastCGIConnection.touch} before `onTimeout`. */
  readonly timeout: number;
  /**
   * Bytes read. `chunk` is a view of the pool's read buffer, valid only during the call: whatever
   * is kept or handed on (to a response that may queue it) is copied first.
   */
  onData(chunk: Buffer): void;
  onClose(): void;
  onTimeout(): void;
}

/**
 * One connection of a pool with its listeners, set once when it opens: reads, the close and the
 * silence go to the handler of the request it serves (`serve`), none while it is idle.
 */
export class FastCGIConnection {
  readonly socket: Socket;
  handler: FastCGIConnectionHandler | null = null;
  /** The pool's sweep count at the last read or `touch`, or when it was released. */
  seen: number;
  readonly #pool: { ticks: number };

  constructor(socket: Socket, pool: { ticks: number }) {
    this.socket = socket;
    this.#pool = pool;
    this.seen = pool.ticks;
  }

  /** Hands the reads, close and silence of this connection to `handler` until it is released. */
  serve(handler: FastCGIConnectionHandler): void {
    this.handler = handler;
    this.seen = this.#pool.ticks;
  }

  /** Counts as activity (a write of the request body), as a read does. */
  touch(): void {
    this.seen = this.#pool.ticks;
  }
}

/**
 * What waits for a connection of a pool ({@link FastCGIPool.lend}): told once, with the connection
 * lent or with why none can be.
 */
export interface FastCGIBorrower {
  /** The connection is this borrower's until it is released or discarded; `reused` as in {@link PooledSocket}. */
  onLent(connection: FastCGIConnection, reused: boolean): void;
  /** No connection: a ProxyError, or an HttpError 503 when the queue is full. */
  onLendFailed(error: Error): void;
}

/** A connection lent by the pool for one request. */
export interface PooledSocket {
  socket: Socket;
  /** Whether it served an earlier request (a stale one may have been closed by the application). */
  reused: boolean;
  /** The connection, whose `serve` takes its reads for this request. */
  connection: FastCGIConnection;
}

/**
 * The connections to one FastCGI application. `acquire()` lends a connection (an idle one first,
 * else a new one up to `maxConnections`, else after a queue), as `lend()` does to a borrower without
 * a promise; `release()` takes it back for the next request (handing it straight to the next one
 * waiting), `discard()` closes it. Failures to connect are ProxyErrors: `BACKEND_CONNECT_REFUSED` and
 * `BACKEND_CONNECT_FAILED` (502), `BACKEND_CONNECT_TIMEOUT` (504); a full queue is a 503.
 *
 * ```ts
 * const pool = new FastCGIPool({ type: 'tcp', host: '127.0.0.1', port: 9000 }, { maxConnections: 4 });
 * ```
 */
export class FastCGIPool {
  readonly address: FastCGIAddress;
  readonly maxConnections: number;
  readonly maxQueue: number;
  readonly connectTimeout: number;
  readonly idleTimeout: number;
  #open = 0;
  readonly #idle: FastCGIConnection[] = [];
  /** Every open connection, by socket. */
  readonly #connections = new Map<Socket, FastCGIConnection>();
  /** Sweeps made so far; the clock of silence and idleness, coarse and never early. */
  ticks = 0;
  #sweep: NodeJS.Timeout | null = null;
  readonly #waiting: FastCGIBorrower[] = [];
  #closed = false;
  /**
   * The buffer reads land in, shared by the pool's connections (each read is handled before the next
   * one is made), instead of a new buffer per read.
   */
  #readBuffer: Buffer | null = null;

  constructor(address: FastCGIAddress, options: FastCGIPoolOptions = {}) {
    this.address = address;
    this.maxConnections = options.maxConnections ?? 8;
    this.maxQueue = options.maxQueue ?? 1024;
    this.connectTimeout = options.connectTimeout ?? 5000;
    this.idleTimeout = options.idleTimeout ?? 30_000;
  }

  /** Connections open now (lent and idle). */
  get openConnections(): number {
    return this.#open;
  }

  /** Lends a connection: an idle one, a new one, or the next one released. */
  acquire(): Promise<PooledSocket> {
    return new Promise((resolve, reject) =>
      this.lend({
        onLent: (connection, reused) => resolve({ socket: connection.socket, reused, connection }),
        onLendFailed: reject,
      }),
    );
  }

  /**
   * {@link acquire} for a borrower: an idle connection is lent at once (before `lend` returns), a
   * refusal told at once; a new connection once it is accepted, a queued borrower when one is released.
   */
  lend(borrower: FastCGIBorrower): void {
    if (this.#closed) {
      borrower.onLendFailed(new ProxyError('PROXY_CLOSING', 'The FastCGI client is closing.'));
      return;
    }
    const idle = this.#idle.pop();
    if (idle) {
      borrower.onLent(idle, true);
      return;
    }
    if (this.#open < this.maxConnections) {
      this.#connect(borrower);
      return;
    }
    if (this.#waiting.length >= this.maxQueue) {
      borrower.onLendFailed(
        new HttpError(503, 'Too many requests wait for the FastCGI application.', {
          code: 'FASTCGI_QUEUE_FULL',
          expose: true,
        }),
      );
      return;
    }
    this.#waiting.push(borrower);
  }

  /** Takes back a connection whose request ended cleanly, for the next request. */
  release(socket: Socket): void {
    const connection = this.#connections.get(socket);
    if (this.#closed || !connection || socket.destroyed || !socket.readable || !socket.writable) {
      this.discard(socket);
      return;
    }
    connection.handler = null;
    connection.seen = this.ticks;
    if (socket.listenerCount('drain')) socket.removeAllListeners('drain');
    // Flowing while idle, so a close by the application is seen at once.
    if (socket.isPaused()) socket.resume();
    const next = this.#waiting.shift();
    if (next) {
      next.onLent(connection, true);
      return;
    }
    this.#idle.push(connection);
  }

  /** Closes a connection that cannot serve another request; a waiting request gets a new one. */
  discard(socket: Socket): void {
    const connection = this.#connections.get(socket);
    if (connection) connection.handler = null;
    socket.destroy();
  }

  /** Closes every idle connection and refuses new requests; lent ones close when discarded. */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
    for (const w of this.#waiting.splice(0))
      w.onLendFailed(new ProxyError('PROXY_CLOSING', 'The FastCGI client is closing.'));
  }

  #startSweep(): void {
    if (this.#sweep !== null) return;
    this.#sweep = setInterval(() => this.#sweepOnce(), SWEEP_MS);
    this.#sweep.unref();
  }

  #stopSweep(): void {
    if (this.#sweep === null) return;
    clearInterval(this.#sweep);
    this.#sweep = null;
  }

  /**
   * One sweep: a connection lent to a request that has been silent for its `timeout` is handed to
   * its `onTimeout`, an idle one past `idleTimeout` closed. Silence is counted in whole sweeps after
   * the one in progress at the last activity, and a late sweep counts as one, so a connection is
   * never timed out early; it may be up to two sweeps (200 ms) late.
   */
  #sweepOnce(): void {
    const ticks = ++this.ticks;
    for (const connection of this.#connections.values()) {
      const silent = (ticks - connection.seen - 1) * SWEEP_MS;
      const handler = connection.handler;
      if (handler !== null) {
        if (silent >= handler.timeout) {
          connection.handler = null;
          handler.onTimeout();
        }
      } else if (silent >= this.idleTimeout && this.#idle.includes(connection)) {
        connection.socket.destroy();
      }
    }
  }

  #connect(borrower: FastCGIBorrower): void {
    this.#open++;
    const a = this.address;
    const buffer = (this.#readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_SIZE));
    // Set once the socket exists; no read comes before it connects.
    let reader: FastCGIConnection | null = null;
    const onread = {
      buffer,
      callback: (length: number): boolean => {
        if (reader === null) return true;
        reader.seen = this.ticks;
        reader.handler?.onData(buffer.subarray(0, length));
        return true;
      },
    };
    const socket =
      a.type === 'unix' ? connect({ path: a.path, onread }) : connect({ port: a.port, host: a.host, onread });
    socket.setNoDelay(true);
    const connection = new FastCGIConnection(socket, this);
    reader = connection;
    this.#connections.set(socket, connection);
    this.#startSweep();
    socket.once('close', () => {
      this.#open--;
      this.#connections.delete(socket);
      if (this.#connections.size === 0) this.#stopSweep();
      const at = this.#idle.indexOf(connection);
      if (at !== -1) this.#idle.splice(at, 1);
      const next = this.#waiting.shift();
      if (next) this.#connect(next);
      const handler = connection.handler;
      connection.handler = null;
      handler?.onClose();
    });
    // The borrower is told once, whichever of the timer, the connect and an error comes first.
    let told = false;
    const fail = (error: Error) => {
      if (told) return;
      told = true;
      borrower.onLendFailed(error);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new ProxyError('BACKEND_CONNECT_TIMEOUT', 'The FastCGI application did not accept a connection in time.'));
    }, this.connectTimeout);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      if (told) return;
      told = true;
      borrower.onLent(connection, false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const where = formatFastCGIAddress(a);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') {
        fail(
          new ProxyError(
            'BACKEND_CONNECT_REFUSED',
            `Could not connect to the FastCGI application at ${where} (${err.code}).`,
          ),
        );
      } else {
        fail(
          new ProxyError(
            'BACKEND_CONNECT_FAILED',
            `Could not connect to the FastCGI application at ${where} (${err.code ?? err.message}).`,
          ),
        );
      }
    });
  }
}
