// CGI's errors: an HttpError with a stable code naming what went wrong with a script.
import { HttpError } from '../errors.js';

/**
 * What went wrong running a CGI script. Compare codes, never messages.
 *
 * | code                 | status | meaning                                                         |
 * |----------------------|--------|-----------------------------------------------------------------|
 * | `BAD_OUTPUT`         | 502    | the script's head is malformed (the message says how)            |
 * | `NO_HEAD`            | 502    | the script's output ended before the blank line ending its head  |
 * | `SPAWN_FAILED`       | 502    | the script or its interpreter could not be started               |
 * | `TIMEOUT`            | 504    | the script ran past its timeout; its process group was killed    |
 * | `TOO_MANY_REDIRECTS` | 502    | more than 10 local redirects in a row                            |
 * | `TOO_MANY_PROCESSES` | 503    | every CGI process slot is taken (with Retry-After)               |
 * | `UNSAFE_SCRIPT`      | 403    | the script or its folder is writable by others than its owner, or not executable |
 */
export type CgiErrorCode =
  | 'BAD_OUTPUT'
  | 'NO_HEAD'
  | 'SPAWN_FAILED'
  | 'TIMEOUT'
  | 'TOO_MANY_REDIRECTS'
  | 'TOO_MANY_PROCESSES'
  | 'UNSAFE_SCRIPT';

const STATUS: Record<CgiErrorCode, number> = {
  BAD_OUTPUT: 502,
  NO_HEAD: 502,
  SPAWN_FAILED: 502,
  TIMEOUT: 504,
  TOO_MANY_REDIRECTS: 502,
  TOO_MANY_PROCESSES: 503,
  UNSAFE_SCRIPT: 403,
};

/**
 * A script failed: the status of its code, the message in the error log line (`CgiError
 * [BAD_OUTPUT]: …`); the client sees the standard page (the 503 and 403 say why).
 *
 * ```ts
 * if (err instanceof CgiError && err.code === 'TIMEOUT') ...
 * ```
 */
export class CgiError extends HttpError {
  declare readonly code: CgiErrorCode;

  constructor(code: CgiErrorCode, message: string, headers: Record<string, string> = {}) {
    const status = STATUS[code];
    super(status, message, { code, expose: status < 500 || status === 503, headers });
    this.name = `CgiError [${code}]`;
    void this.stack;
    this.name = 'CgiError';
  }
}
