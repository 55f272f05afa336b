// Failover and retry for the reverse proxy, as a handler wrapped around the transport: a backend that
// cannot be connected to gives way to the next, the keep-alive race is sent once more, nothing else is.
import type { Exchange, ExchangeError, ExchangeHandler } from './backend-client.js';
import type { Backend } from './forwarding.js';

/** The receiver of a proxied request's outcome, whichever attempt it comes from. */
export interface AttemptHandler extends ExchangeHandler {
  /** The request went out on `exchange`: body writes, pauses and aborts go there. */
  onStart(exchange: Exchange): void;
  /** Whether an answer is still wanted (false once the client left or was answered). */
  wanted(): boolean;
}

/**
 * Sends the request once to `backend`, on a new connection when `fresh`, and reports to `handler`:
 * `onStart` when it went out, then the exchange's events; a connection that could not be made is an
 * `onError` at stage `connect`.
 */
export type Transport = (backend: Backend, fresh: boolean, handler: AttemptHandler) => void;

/**
 * Round-robin over `backends`; one that could not be connected to is skipped for `retryAfter` ms
 * (taken only when every other one is skipped too).
 */
export class BackendRotation {
  readonly backends: readonly Backend[];
  readonly retryAfter: number;
  #next = 0;
  #downUntil = new Map<Backend, number>();

  constructor(backends: readonly Backend[], options: { retryAfter?: number } = {}) {
    this.backends = backends;
    this.retryAfter = options.retryAfter ?? 5_000;
  }

  /** The next backend not in `skip`, one that is not down if there is one; null when all are in `skip`. */
  pick(skip: ReadonlySet<Backend>): Backend | null {
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

  /** `backend` could not be connected to: skip it for `retryAfter`. */
  markDown(backend: Backend): void {
    this.#downUntil.set(backend, Date.now() + this.retryAfter);
  }
}

/** Options of {@link sendWithRetry}. */
export interface RetryOptions {
  /**
   * The request may be sent again: its method is idempotent (RFC 9110 §9.2.2) and it has no body (a
   * body is streamed, not kept, so once sent it cannot be sent again).
   */
  resendable: boolean;
}

/** Methods safe to send again after the keep-alive race (RFC 9110 §9.2.2). */
export const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

const NO_BACKEND: ExchangeError = {
  stage: 'connect',
  code: 'NO_BACKEND',
  responded: false,
  message: 'no backend is left',
};

/**
 * Sends a request through `transport`, choosing backends from `rotation`, and reports its outcome to
 * `handler`. Pinned by test/proxy/retry.test.ts (a fake transport) and reverse-proxy.test.ts:
 *
 * | an attempt fails with                          | then                                              |
 * |------------------------------------------------|---------------------------------------------------|
 * | stage `connect`, a backend not yet tried left  | that backend marked down, the next one tried      |
 * | stage `connect`, every backend tried           | `handler.onError` (502, or 504 for a timeout)     |
 * | stage `stale` (the keep-alive race), `resendable`, the first time | sent once more on a new connection |
 * | stage `stale` otherwise, or any other stage    | `handler.onError`                                 |
 * | anything, once `handler.wanted()` is false     | `handler.onError` (which ignores it), no retry    |
 */
export function sendWithRetry(
  rotation: BackendRotation,
  transport: Transport,
  handler: AttemptHandler,
  options: RetryOptions,
): void {
  new RetryHandler(rotation, transport, handler, options.resendable).attempt(false);
}

/** Wraps the receiver of one request: every event passes through, except a failure worth another attempt. */
class RetryHandler implements AttemptHandler {
  readonly #rotation: BackendRotation;
  readonly #transport: Transport;
  readonly #inner: AttemptHandler;
  #resendable: boolean;
  #tried = new Set<Backend>();
  #backend: Backend | null = null;

  constructor(rotation: BackendRotation, transport: Transport, inner: AttemptHandler, resendable: boolean) {
    this.#rotation = rotation;
    this.#transport = transport;
    this.#inner = inner;
    this.#resendable = resendable;
  }

  attempt(fresh: boolean): void {
    const backend = this.#rotation.pick(this.#tried);
    if (!backend) {
      this.#inner.onError(NO_BACKEND);
      return;
    }
    this.#tried.add(backend);
    this.#backend = backend;
    this.#transport(backend, fresh, this);
  }

  onError(error: ExchangeError): void {
    const backend = this.#backend!;
    if (error.stage === 'connect' && this.#inner.wanted()) {
      this.#rotation.markDown(backend);
      if (this.#tried.size < this.#rotation.backends.length) {
        this.attempt(false);
        return;
      }
    } else if (error.stage === 'stale' && this.#resendable && this.#inner.wanted()) {
      // The keep-alive race: the backend closed the idle connection as the request went out.
      this.#resendable = false;
      this.#tried.delete(backend);
      this.attempt(true);
      return;
    }
    this.#inner.onError(error);
  }

  onStart(exchange: Exchange): void {
    this.#inner.onStart(exchange);
  }

  wanted(): boolean {
    return this.#inner.wanted();
  }

  onHead(head: Parameters<ExchangeHandler['onHead']>[0]): void {
    this.#inner.onHead(head);
  }

  onBody(chunk: Buffer): void {
    this.#inner.onBody(chunk);
  }

  onFlush(): void {
    this.#inner.onFlush();
  }

  onEnd(): void {
    this.#inner.onEnd();
  }

  onUpgrade(socket: Parameters<ExchangeHandler['onUpgrade']>[0], rest: Buffer): void {
    this.#inner.onUpgrade(socket, rest);
  }
}
