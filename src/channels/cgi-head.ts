// The CGI-style response head (RFC 3875 §6) that FastCGI and SCGI responses start with: a `Status:`
// line, the header fields, a blank line. Written here for Trellis's own answers (the front end turns
// it into its own HTTP status line), and parsed here from applications Trellis fronts.
import { cgiStatusLine, fieldSet, writeHead } from '../http/head-writer.js';
import { hasControlChars, isToken } from '../http/syntax.js';

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) a gateway response must not carry: the front end frames the
 * response itself (RFC 3875 §6.3.4 leaves framing to the server).
 */
const HOP_BY_HOP = fieldSet([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
]);

/**
 * The response head as latin1 text, from a flat `[name, value, name, value, ...]` list (what
 * `ResponseSink.writeHead` receives): `Status: CODE REASON`, each header, blank line; CRLF line
 * ends. Hop-by-hop headers are left out. Header values were checked when they were set
 * (`assertHeader`); the shared head writer (src/http/head-writer.ts) makes the reason safe.
 *
 * ```ts
 * formatCgiHeadText(404, 'Not Found', ['Content-Type', 'text/html'])
 * // "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n"
 * ```
 */
export function formatCgiHeadText(code: number, reason: string, flat: readonly string[]): string {
  return writeHead(cgiStatusLine(code, reason), flat, HOP_BY_HOP);
}

/** Fields of an application's CGI response head that the server, not the application, decides. */
const SERVER_DECIDES = fieldSet(['content-length', 'date', 'server']);

/** A parsed CGI response head (RFC 3875 §6.2). */
export interface CgiHead {
  /** From `Status:`; 302 for a `Location:` without one; else 200. */
  status: number;
  /** The reason of `Status:`, or null. */
  reason: string | null;
  /**
   * The header fields to send, in order, duplicates kept (several `Set-Cookie`). Left out: `Status`,
   * hop-by-hop fields (the server frames the response), `Content-Length`, `Date` and `Server`.
   */
  fields: Array<[string, string]>;
}

/** Result of {@link parseCgiHead}: more bytes needed, a head and where the body starts, or why the output is malformed. */
export type CgiHeadResult =
  | { kind: 'partial' }
  | { kind: 'head'; head: CgiHead; bodyStart: number }
  | { kind: 'error'; reason: string; tooLarge: boolean };

/** Limits of {@link parseCgiHead}. */
export interface CgiHeadLimits {
  /** Most bytes before the blank line. Default 16 KiB. */
  maxBytes: number;
  /** Most fields. Default 100. */
  maxFields: number;
}

/** Default limits of a CGI response head: those of a proxied response head. */
export const DEFAULT_CGI_HEAD_LIMITS: CgiHeadLimits = { maxBytes: 16 * 1024, maxFields: 100 };

/**
 * Parses the head an application writes before its body (CGI stdout, FastCGI STDOUT; RFC 3875 §6):
 * pure, for any split of the bytes.
 *
 * | input                                               | result |
 * |-----------------------------------------------------|--------|
 * | no blank line yet, within `maxBytes`                | `partial` |
 * | lines ending in CRLF or a bare LF, then a blank one | `head`, `bodyStart` after the blank line |
 * | `Status: 404 Not Found`                             | status 404, reason `Not Found` |
 * | `Location: /x` or `Location: https://…`, no Status  | status 302 (the client is redirected) |
 * | `Status:` not 3 digits from 200 to 599              | `error` |
 * | a name not a token, a line without `:`, a control character in a value, obs-fold | `error` |
 * | past `maxBytes` or `maxFields`                      | `error` with `tooLarge` |
 *
 * Pinned by test/fcgi-client/fastcgi-client.test.ts.
 */
export function parseCgiHead(buf: Buffer, limits: CgiHeadLimits = DEFAULT_CGI_HEAD_LIMITS): CgiHeadResult {
  const fields: Array<[string, string]> = [];
  let status = 0;
  let reason: string | null = null;
  let location = false;
  let count = 0;
  let at = 0;
  for (;;) {
    const lf = buf.indexOf(10, at);
    if (lf === -1 || lf >= limits.maxBytes) {
      if (buf.length > limits.maxBytes) return { kind: 'error', reason: `response head over ${limits.maxBytes} bytes`, tooLarge: true };
      return { kind: 'partial' };
    }
    const end = lf > at && buf[lf - 1] === 13 ? lf - 1 : lf;
    if (end === at) {
      const head = { status: status || (location ? 302 : 200), reason, fields };
      return { kind: 'head', head, bodyStart: lf + 1 };
    }
    const line = buf.toString('latin1', at, end);
    at = lf + 1;
    if (++count > limits.maxFields) return { kind: 'error', reason: `more than ${limits.maxFields} response header fields`, tooLarge: true };
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!isToken(name)) return { kind: 'error', reason: `malformed header line ${JSON.stringify(line.slice(0, 40))}`, tooLarge: false };
    const value = line.slice(colon + 1).trim();
    if (hasControlChars(value)) return { kind: 'error', reason: `control character in header ${name}`, tooLarge: false };
    const key = name.toLowerCase();
    if (key === 'status') {
      const m = /^([2-5]\d\d)(?:\s+(.*))?$/.exec(value);
      if (!m) return { kind: 'error', reason: `malformed Status ${JSON.stringify(value.slice(0, 40))}`, tooLarge: false };
      status = Number(m[1]);
      reason = m[2] || null;
      continue;
    }
    if (key === 'location') location = true;
    if (HOP_BY_HOP.names.has(key) || SERVER_DECIDES.names.has(key)) continue;
    fields.push([name, value]);
  }
}
