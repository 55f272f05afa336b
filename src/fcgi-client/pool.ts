// Kept-alive connections to one FastCGI application (FCGI_KEEP_CONN), at most `maxConnections` at
// once, requests queued beyond that; idle connections closed after `idleTimeout`.
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

/** A connection lent by the pool for one request. */
export interface PooledSocket {
  socket: Socket;
  /** Whether it served an earlier request (a stale one may have been closed by the application). */
  reused: boolean;
}

/**
 * The connections to one FastCGI application. `acquire()` lends a connection (an idle one first,
 * else a new one up to `maxConnections`, else after a queue); `release()` takes it back for the next
 * request, `discard()` closes it. Failures to connect are ProxyErrors: `BACKEND_CONNECT_REFUSED` and
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
  readonly #idle: Socket[] = [];
  readonly #waiting: Array<{ resolve: (s: PooledSocket) => void; reject: (e: Error) => void }> = [];
  #closed = false;

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
    if (this.#closed) return Promise.reject(new ProxyError('PROXY_CLOSING', 'The FastCGI client is closing.'));
    const idle = this.#idle.pop();
    if (idle) {
      idle.setTimeout(0);
      return Promise.resolve({ socket: idle, reused: true });
    }
    if (this.#open < this.maxConnections) return this.#connect();
    if (this.#waiting.length >= this.maxQueue) {
      return Promise.reject(
        new HttpError(503, 'Too many requests wait for the FastCGI application.', {
          code: 'FASTCGI_QUEUE_FULL',
          expose: true,
        }),
      );
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Takes back a connection whose request ended cleanly, for the next request. */
  release(socket: Socket): void {
    if (this.#closed || socket.destroyed || !socket.readable || !socket.writable) {
      this.discard(socket);
      return;
    }
    socket.removeAllListeners('data');
    socket.removeAllListeners('drain');
    socket.removeAllListeners('timeout');
    // Flowing while idle, so a close by the application is seen at once.
    socket.resume();
    const next = this.#waiting.shift();
    if (next) {
      next.resolve({ socket, reused: true });
      return;
    }
    this.#idle.push(socket);
    socket.setTimeout(this.idleTimeout, () => socket.destroy());
  }

  /** Closes a connection that cannot serve another request; a waiting request gets a new one. */
  discard(socket: Socket): void {
    socket.destroy();
  }

  /** Closes every idle connection and refuses new requests; lent ones close when discarded. */
  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) s.destroy();
    for (const w of this.#waiting.splice(0))
      w.reject(new ProxyError('PROXY_CLOSING', 'The FastCGI client is closing.'));
  }

  #connect(): Promise<PooledSocket> {
    this.#open++;
    const a = this.address;
    const socket = a.type === 'unix' ? connect(a.path) : connect(a.port, a.host);
    socket.setNoDelay(true);
    let counted = true;
    socket.once('close', () => {
      if (counted) {
        counted = false;
        this.#open--;
      }
      const at = this.#idle.indexOf(socket);
      if (at !== -1) this.#idle.splice(at, 1);
      const next = this.#waiting.shift();
      if (next) this.#connect().then(next.resolve, next.reject);
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new ProxyError('BACKEND_CONNECT_TIMEOUT', 'The FastCGI application did not accept a connection in time.'),
        );
      }, this.connectTimeout);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.on('error', () => {});
        resolve({ socket, reused: false });
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const where = formatFastCGIAddress(a);
        if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') {
          reject(
            new ProxyError(
              'BACKEND_CONNECT_REFUSED',
              `Could not connect to the FastCGI application at ${where} (${err.code}).`,
            ),
          );
        } else {
          reject(
            new ProxyError(
              'BACKEND_CONNECT_FAILED',
              `Could not connect to the FastCGI application at ${where} (${err.code ?? err.message}).`,
            ),
          );
        }
      });
    });
  }
}
