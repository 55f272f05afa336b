// The one error family: an HTTP status, a stable code, and whether the message may reach the client.

/** Options of {@link HttpError}. */
export interface HttpErrorOptions {
  /** Stable machine-readable code, e.g. `BODY_TOO_LARGE`. Default: `HTTP_<status>`. */
  code?: string;
  /** Whether `message` may be shown to the client. Default: true for 4xx, false for 5xx. */
  expose?: boolean;
  /** Close the connection after answering (framing errors). Default: false. */
  close?: boolean;
  /** Headers to add to the error response. */
  headers?: Record<string, string>;
  cause?: unknown;
  /** Whether the error log gets the stack of a 5xx, or only its message on one line. Default: true. */
  logStack?: boolean;
}

/**
 * An error that answers with an HTTP status. Throw it from a resource (or have a helper throw it,
 * like `request.readBody()` past its limit) and the Site renders the matching error page.
 *
 * ```ts
 * throw new HttpError(409, 'That name is taken.', { code: 'NAME_TAKEN' });
 * ```
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly close: boolean;
  readonly headers: Record<string, string>;
  readonly logStack: boolean;

  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.code = options.code ?? `HTTP_${status}`;
    this.expose = options.expose ?? status < 500;
    this.close = options.close ?? false;
    this.headers = options.headers ?? {};
    this.logStack = options.logStack ?? true;
  }
}
