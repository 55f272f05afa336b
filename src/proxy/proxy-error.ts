// The proxies' errors: a 502 or 504 HttpError with a stable code naming what went wrong upstream, and
// the one path by which a proxied request that failed is answered.
import { HttpError } from '../errors.js';
import type { Request } from '../request.js';
import type { ExchangeError } from './backend-client.js';

/**
 * What went wrong between a proxy and its backend (or a forward proxy's origin). Compare codes, never
 * messages.
 *
 * | code                      | status | meaning                                                        |
 * |---------------------------|--------|----------------------------------------------------------------|
 * | `BACKEND_CONNECT_REFUSED` | 502    | the backend refused the connection (ECONNREFUSED)              |
 * | `BACKEND_CONNECT_TIMEOUT` | 504    | the backend did not accept within `connectTimeout`             |
 * | `BACKEND_CONNECT_FAILED`  | 502    | any other failure to connect (unreachable, unresolved, reset)  |
 * | `NO_BACKEND`              | 502    | no backend is left to try                                      |
 * | `PROXY_CLOSING`           | 502    | the pool was closed while the request waited for a connection  |
 * | `BACKEND_TIMEOUT`         | 504    | no answer (or a silence while streaming) past `timeout`        |
 * | `BACKEND_RESET`           | 502    | the connection broke, or closed before the response was whole  |
 * | `BAD_RESPONSE`            | 502    | a malformed answer; the message holds the parser's reason      |
 * | `RESPONSE_TOO_LARGE`      | 502    | a response head over 16 KiB or 100 fields                      |
 * | `BAD_FORWARDED_REQUEST`   | 502    | the request to send would hold a control character             |
 */
export type ProxyErrorCode =
  | 'BACKEND_CONNECT_REFUSED'
  | 'BACKEND_CONNECT_TIMEOUT'
  | 'BACKEND_CONNECT_FAILED'
  | 'NO_BACKEND'
  | 'PROXY_CLOSING'
  | 'BACKEND_TIMEOUT'
  | 'BACKEND_RESET'
  | 'BAD_RESPONSE'
  | 'RESPONSE_TOO_LARGE'
  | 'BAD_FORWARDED_REQUEST';

/** Codes answered with 504 Gateway Timeout (as nginx's proxy_connect_timeout and proxy_read_timeout). */
const TIMEOUTS: ReadonlySet<ProxyErrorCode> = new Set(['BACKEND_CONNECT_TIMEOUT', 'BACKEND_TIMEOUT']);

/** The brand {@link isProxyError} checks: it holds across copies of this module (undici's habit). */
const BRAND = Symbol.for('trellis.proxy.ProxyError');

/**
 * A proxied request failed upstream: 504 for a timeout, 502 otherwise, its message shown to the
 * client, its code in the error log line (`ProxyError [BACKEND_RESET]: …`), which is one line.
 *
 * ```ts
 * if (isProxyError(err) && err.code === 'BACKEND_CONNECT_TIMEOUT') retryLater();
 * ```
 */
export class ProxyError extends HttpError {
  declare readonly code: ProxyErrorCode;
  readonly [BRAND] = true;

  constructor(code: ProxyErrorCode, message: string) {
    super(TIMEOUTS.has(code) ? 504 : 502, message, { expose: true, code });
    // The stack is its one line naming the code (the name stays plain): the frames would only show
    // Trellis's transport, and a backend that is down must not write a trace per request to the log.
    this.stack = `ProxyError [${code}]: ${message}`;
    this.name = 'ProxyError';
  }
}

/** Whether `value` is a {@link ProxyError}, from this copy of Trellis or another. */
export function isProxyError(value: unknown): value is ProxyError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/**
 * Answers a proxied request that failed, the one way every proxy does it: with the Site's error page
 * (and its log line) while nothing of the response was sent, by dropping the connection once it was,
 * so a cut body never looks complete; not at all when the client is gone or already answered.
 */
export function failProxied(request: Request, error: HttpError): void {
  request.processingFailed(error);
}

/**
 * The ProxyError for a failed exchange (backend-client.ts); `upstream` names the other side in the
 * message the client sees: `backend` for a reverse proxy, `origin` for a forward one.
 */
export function exchangeFailure(error: ExchangeError, upstream: 'backend' | 'origin'): ProxyError {
  const { code, message } = error;
  if (code === 'BACKEND_CONNECT_TIMEOUT') {
    return new ProxyError(code, `The ${upstream} did not accept a connection in time.`);
  }
  if (code === 'BACKEND_TIMEOUT') return new ProxyError(code, `The ${upstream} did not answer in time.`);
  if (error.stage === 'request') return new ProxyError(code, `Could not build the ${upstream} request: ${message}`);
  if (error.stage === 'protocol') return new ProxyError(code, `The ${upstream} sent an invalid response: ${message}.`);
  if (error.stage === 'connect') return new ProxyError(code, `Could not connect to the ${upstream} (${message}).`);
  return new ProxyError(code, `The ${upstream} connection failed (${message}).`);
}
