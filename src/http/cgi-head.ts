// The CGI response head (RFC 3875 §6): written by Trellis when it answers as a FastCGI, SCGI or CGI
// application (`Status:` line, fields, blank line), and parsed when Trellis runs a CGI script or
// fronts a FastCGI application (FastCGIClientResource) and reads what it printed. Both directions share the fields a gateway response never carries.
import { cgiStatusLine, fieldSet, writeHead } from './head-writer.js';
import { hasControlChars, isToken, trimOws } from './syntax.js';

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) a gateway response must not carry: the front end frames the
 * response itself (RFC 3875 §6.3.4 leaves framing to the server).
 */
const HOP_BY_HOP = fieldSet([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
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

/** Limits on a script's response head (SECURITY.md §2.6). */
export interface CgiHeadLimits {
  /** Bytes of the head, blank line included. Default 16 KiB. */
  maxBytes: number;
  /** Header lines. Default 100. */
  maxLines: number;
}

/** The default {@link CgiHeadLimits}: 16 KiB and 100 lines (SECURITY.md §2.6). */
export const CGI_HEAD_LIMITS: CgiHeadLimits = { maxBytes: 16 * 1024, maxLines: 100 };

/**
 * Fields of a script's head the server does not pass on: hop-by-hop ones, and those the server
 * decides itself (framing: Content-Length, since the server frames the body it relays; Date and
 * Server are the Site's, as in Twisted's twcgi). `Status` is never a response field.
 */
const NOT_PASSED = new Set([...HOP_BY_HOP.names, 'content-length', 'date', 'server', 'status']);

/** What a script's response is, by RFC 3875 §6.2. */
export type CgiResponseKind = 'document' | 'local-redirect' | 'client-redirect';

/** A parsed response head. */
export interface CgiHead {
  kind: CgiResponseKind;
  /** The status to send: `Status:`, or 302 for a client redirect without one, else 200. */
  status: number;
  /** The reason phrase the script gave, or '' for the standard one. */
  reason: string;
  /** Fields to send, flat `[name, value, ...]`, in the order given; the fields the server decides left out. */
  fields: string[];
  /** The `Location` value, or null. */
  location: string | null;
  /** Offset in the parsed bytes where the body starts. */
  bodyStart: number;
}

/** The head is not complete yet: feed more bytes. */
export const CGI_HEAD_PARTIAL = 'partial' as const;

/** A malformed head, with the reason (for the error log; the client gets a plain 502). */
export interface CgiHeadError {
  error: string;
  /** Set when the head is past the limits (a gateway may answer differently than for a malformed one). */
  tooLarge?: true;
}

const STATUS = /^(\d{3})(?:[ \t]+(.*))?$/;
const NPH_STATUS = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/;

/** The offset of the blank line ending the head and where the body starts (LF or CRLF line ends), or null. */
function headEnd(buf: Buffer, limit: number): { end: number; bodyStart: number } | null {
  let at = 0;
  const stop = Math.min(buf.length, limit);
  for (;;) {
    const lf = buf.indexOf(10, at);
    if (lf === -1 || lf >= stop) return null;
    // A line ending at `lf`; the blank line is an LF right after the previous LF (or CR LF).
    if (lf === 0) return { end: 0, bodyStart: 1 };
    if (buf[lf - 1] === 10) return { end: lf, bodyStart: lf + 1 };
    if (buf[lf - 1] === 13 && (lf === 1 || buf[lf - 2] === 10)) return { end: lf - 1, bodyStart: lf + 1 };
    at = lf + 1;
  }
}

/**
 * Parses the head a CGI script printed or a FastCGI application sent on STDOUT (RFC 3875 §6), from
 * the first bytes of its output: pure, for any split of the bytes. Lines end in LF or CRLF. With `nph`, the first line is an HTTP status line (`HTTP/1.1 200 OK`),
 * as non-parsed-header scripts write it.
 *
 * | output starts with                                  | result |
 * |-----------------------------------------------------|--------|
 * | no blank line yet, within the limits                | `'partial'` |
 * | more than 16 KiB or 100 lines before the blank line | error with `tooLarge` (SECURITY.md §2.6) |
 * | a name that is not a token, a line without `:`      | error |
 * | a value with CR, NUL or another control but HTAB    | error |
 * | `Status: 404 Gone`                                  | document, 404, reason `Gone` |
 * | `Status:` not 100–599                               | error |
 * | no field at all                                     | error |
 * | `Location: /x?y` alone (no Status)                  | local-redirect |
 * | `Location: https://e.org/`, no Status               | client-redirect, 302 |
 * | `Status: 301` and `Location: ...`                   | client-redirect, 301 |
 * | `Content-Length`, `Date`, `Server`, hop-by-hop      | left out of `fields` (the server frames and dates) |
 *
 * Pinned by test/http/cgi-head.test.ts and test/fcgi-client/fastcgi-client.test.ts.
 */
export function parseCgiHead(
  buf: Buffer,
  options: { nph?: boolean; limits?: CgiHeadLimits } = {},
): CgiHead | CgiHeadError | typeof CGI_HEAD_PARTIAL {
  const limits = options.limits ?? CGI_HEAD_LIMITS;
  const found = headEnd(buf, limits.maxBytes);
  if (!found) {
    if (buf.length < limits.maxBytes) return CGI_HEAD_PARTIAL;
    return { error: `the response head is larger than ${limits.maxBytes} bytes`, tooLarge: true };
  }
  const text = buf.toString('latin1', 0, found.end);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length > limits.maxLines + (options.nph ? 1 : 0)) {
    return { error: `the response head has more than ${limits.maxLines} lines`, tooLarge: true };
  }
  let status = 0;
  let reason = '';
  let location: string | null = null;
  const fields: string[] = [];
  let fieldCount = 0;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (i === 0 && options.nph) {
      const m = NPH_STATUS.exec(line);
      if (!m) return { error: 'the non-parsed-header response does not start with an HTTP/1.x status line' };
      status = Number(m[1]);
      reason = m[2] ?? '';
      if (status < 100 || status > 599 || hasControlChars(reason)) {
        return { error: `the status line "${line.slice(0, 80)}" is invalid` };
      }
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `the response head line ${i + 1} is not a "Name: value" field` };
    const name = line.slice(0, colon);
    if (!isToken(name)) return { error: `the response head line ${i + 1} has an invalid field name` };
    const value = trimOws(line, colon + 1);
    if (hasControlChars(value)) return { error: `the ${name} field holds control characters` };
    fieldCount++;
    const key = name.toLowerCase();
    if (key === 'status') {
      const m = STATUS.exec(value);
      const code = m ? Number(m[1]) : 0;
      if (code < 100 || code > 599) {
        return { error: `the Status field "${value.slice(0, 80)}" is not a status from 100 to 599` };
      }
      status = code;
      reason = m![2] ?? '';
      continue;
    }
    if (key === 'location') location = value;
    if (NOT_PASSED.has(key)) continue;
    fields.push(name, value);
  }
  if (fieldCount === 0) return { error: 'the response head holds no field' };
  let kind: CgiResponseKind = 'document';
  if (location !== null && !options.nph) {
    if (location.startsWith('/') && !location.startsWith('//')) {
      // RFC 3875 §6.2.2: a local redirect is a Location with nothing else; with a Status it is sent on.
      if (status === 0) kind = 'local-redirect';
    } else {
      kind = 'client-redirect';
      if (status === 0) status = 302;
    }
  }
  return { kind, status: status || 200, reason, fields, location, bodyStart: found.bodyStart };
}

/** Whether {@link parseCgiHead} found a malformed head. */
export function isCgiHeadError(value: CgiHead | CgiHeadError | typeof CGI_HEAD_PARTIAL): value is CgiHeadError {
  return typeof value === 'object' && 'error' in value;
}
