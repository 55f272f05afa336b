// Parses the head of an HTTP/1.x request (request line and header fields) straight from the bytes a
// connection received, strictly, and works out the message framing so the connection never re-scans.
import { equalsFolded, newFieldScan, scanFields, ScanFault, type FieldScan } from '../../http/field-scanner.js';
import { FramingFault, persists } from '../../http/framing.js';
import { TCHAR } from '../../http/syntax.js';

/** Size limits of a request head (see SiteLimits for the defaults: 8 KiB, 16 KiB, 100). */
export interface HeadLimits {
  /** Longest request-target, in bytes; longer → 414. */
  maxUriLength: number;
  /** Largest header section (every field line with its CRLF, not the empty line ending the head); larger → 431. */
  maxHeaderBytes: number;
  /** Most header fields; more → 431. */
  maxHeaderCount: number;
}

/** A request head, checked, with the framing decided. */
export interface RequestHead {
  /** The method token, case-sensitive as sent. */
  method: string;
  /** The request-target as sent. */
  target: string;
  /** HTTP/1.0 or HTTP/1.1. */
  minor: 0 | 1;
  /** Header fields in order, flat: name, value, name, value, ... (names as sent, values without surrounding OWS). */
  rawHeaders: string[];
  /** The Content-Length; null when absent (always null when chunked, which refuses both). */
  contentLength: number | null;
  /** The body is framed by the chunked transfer coding. */
  chunked: boolean;
  /** Whether the connection may carry another request: on HTTP/1.1 unless `close`, on HTTP/1.0 only with `keep-alive`. */
  keepAlive: boolean;
  /** An Upgrade field together with an `upgrade` Connection token, or the method CONNECT: the bytes after this request may be another protocol. */
  upgrade: boolean;
  /** `Expect: 100-continue` (case-insensitive). */
  expectContinue: boolean;
  /** The Expect value as sent (several fields joined with ", "), or null: anything but 100-continue deserves a 417. */
  expectation: string | null;
  /** The Host value, or undefined when absent (HTTP/1.0 only). */
  host: string | undefined;
}

/** The outcome of {@link parseRequestHead}. */
export type HeadParse =
  /** A complete head; `length` bytes (leading empty lines and the final CRLFCRLF included) belong to it. */
  | { kind: 'head'; head: RequestHead; length: number }
  /** More bytes are needed, and those so far are within the limits. */
  | { kind: 'partial' }
  /** Refuse with `status` (detail safe to show the client), then close the connection. */
  | { kind: 'error'; status: number; detail: string };

/** Most empty lines skipped before a request line (RFC 9112 §2.2 asks servers to skip at least one). */
export const MAX_LEADING_EMPTY_LINES = 8;
/** Room in the request line besides the target (method, two SPs, version) before it counts as too long. */
export const REQUEST_LINE_SLACK = 64;

/** The ASCII bytes the grammar names. */
const enum Byte {
  LF = 10,
  CR = 13,
  SP = 32,
}

/** Request-target bytes (RFC 9112 §3.2): visible ASCII only, no SP, no controls, nothing from 0x7f up. */
const TARGET = new Uint8Array(256).map((_, c) => (c > 0x20 && c < 0x7f ? 1 : 0));

const CONTINUE = ascii('100-continue');
const HTTP_SLASH = ascii('HTTP/');

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

const PARTIAL: HeadParse = Object.freeze({ kind: 'partial' });

function refuse(status: number, detail: string): HeadParse {
  return { kind: 'error', status, detail };
}

/**
 * The field scan of the head being parsed (positions four numbers a field). Shared across calls, and
 * never shrunk: parsing is synchronous and never re-entered.
 */
const scan: FieldScan = newFieldScan();
const spans = scan.spans;

/** The detail of each framing refusal. */
const FRAMING_REFUSALS: Record<Exclude<FramingFault, FramingFault.None>, string> = {
  [FramingFault.TwoLengths]: 'The request has more than one Content-Length.',
  [FramingFault.BadLength]: 'The request Content-Length is invalid.',
  [FramingFault.CodingAndLength]: 'The request has both Transfer-Encoding and Content-Length.',
  [FramingFault.CodingOnHttp10]: 'Transfer-Encoding is not allowed in HTTP/1.0 requests.',
  [FramingFault.NotChunked]: 'Only "Transfer-Encoding: chunked" is accepted.',
};

/** The refusal for a field scan that stopped on `fault` (never None). */
function scanRefusal(fault: ScanFault, limits: HeadLimits): HeadParse {
  switch (fault) {
    case ScanFault.Partial:
      return PARTIAL;
    case ScanFault.BareCR:
      return refuse(400, 'The request has a bare CR.');
    case ScanFault.BareLF:
      return refuse(400, 'The request has a bare LF.');
    case ScanFault.ObsFold:
      return refuse(400, 'The request uses obsolete line folding.');
    case ScanFault.WhitespaceBeforeColon:
      return refuse(400, 'A request header has whitespace before its colon.');
    case ScanFault.EmptyName:
      return refuse(400, 'A request header has an empty name.');
    case ScanFault.Control:
      return refuse(400, 'A request header value has a control character.');
    case ScanFault.TooMany:
      return refuse(431, `The request has more than ${limits.maxHeaderCount} header fields.`);
    case ScanFault.TooLarge:
      return tooLarge(limits);
    case ScanFault.Framing:
      return refuse(400, FRAMING_REFUSALS[scan.framing as Exclude<FramingFault, FramingFault.None>]);
    case ScanFault.Host:
      return refuse(
        400,
        scan.hostCount > 1 ? 'The request has more than one Host header.' : 'The Host header is not a valid host.',
      );
    default:
      return refuse(400, 'A request header name is malformed.');
  }
}

/**
 * Parses the request head at the start of `buf[start..end)` (everything received and not yet
 * consumed). Pure and never throws: the bytes in, a head, `partial` or a refusal out. Each rule of
 * the request line and the field lines is decided at the byte that breaks it (the field lines by the
 * shared scanner, src/http/field-scanner.ts), the Host and framing rules once the head is complete
 * (the framing by src/http/framing.ts, the table the proxy's response parser uses too), so feeding
 * the same bytes in any number of pieces gives `partial` until the same final answer; limits are
 * enforced before the head is complete (SECURITY.md §3.1 and default limits):
 *
 * | input                                                        | result |
 * |--------------------------------------------------------------|--------|
 * | up to 8 empty lines (CRLF) before the request line           | skipped, counted in `length` |
 * | a 9th empty line                                             | 400    |
 * | a bare LF, or a CR not followed by LF, anywhere in the head  | 400    |
 * | method not a token, or not followed by exactly one SP        | 400    |
 * | target empty, or with a control, HTAB or a byte ≥ 0x7f      | 400    |
 * | target longer than `maxUriLength` (even before the line ends) | 414   |
 * | request line past `maxUriLength` + 64 bytes without its CRLF | 414    |
 * | version other than `HTTP/d.d` (lower case, extra digits, trailing SP) | 400 |
 * | `HTTP/d.d` other than 1.0 and 1.1 (`PRI * HTTP/2.0` too)     | 505    |
 * | a line starting with SP or HTAB (obs-fold, RFC 9112 §5.2)    | 400    |
 * | field name empty, not a token, or whitespace before `:`      | 400    |
 * | field value with a control other than HTAB (NUL, DEL, ...)   | 400    |
 * | field value with obs-text (0x80–0xff)                        | kept (latin1) |
 * | header section past `maxHeaderBytes` (even before the head ends) | 431 |
 * | more than `maxHeaderCount` fields                            | 431    |
 * | HTTP/1.1 without Host; two Host fields; Host not host[:port] | 400    |
 * | an empty Host                                                | accepted (`host` is `''`) |
 * | Content-Length not 1–15 digits (`+1`, `5, 5`, empty)         | 400    |
 * | two Content-Length fields, even equal                        | 400    |
 * | Transfer-Encoding on HTTP/1.0                                | 400    |
 * | Transfer-Encoding other than one field `chunked` (any case)  | 400    |
 * | Transfer-Encoding with Content-Length                        | 400    |
 * | Connection tokens, several fields combined, any case         | `keepAlive`, `upgrade` |
 * | `Expect: 100-continue` (any case)                            | `expectContinue` |
 * | any other Expect                                             | `expectation` set, `expectContinue` false |
 *
 * Two equal Content-Length fields are refused rather than merged (RFC 9112 §6.3 allows either), as
 * the backend response parser does: one rule for both directions (src/http/framing.ts). Transfer codings other than chunked get 400 rather than 501, as the node:http
 * channel answers them (`checkRequestHead`).
 *
 * Pinned by test/channels/http1/request-head.test.ts.
 *
 * @example
 * const r = parseRequestHead(buf, 0, buf.length, { maxUriLength: 8192, maxHeaderBytes: 16384, maxHeaderCount: 100 });
 * if (r.kind === 'head') consumed = r.length;
 */
export function parseRequestHead(buf: Buffer, start: number, end: number, limits: HeadLimits): HeadParse {
  if (end > buf.length) end = buf.length;
  if (!(start >= 0)) start = 0;
  if (start >= end) return PARTIAL;
  let i = start;

  let empty = 0;
  while (i < end && buf[i] === Byte.CR) {
    if (i + 1 === end) return PARTIAL;
    if (buf[i + 1] !== Byte.LF) return refuse(400, 'The request has a bare CR.');
    if (++empty > MAX_LEADING_EMPTY_LINES) return refuse(400, 'The request starts with too many empty lines.');
    i += 2;
  }
  const lineStart = i;
  const lineLimit = lineStart + limits.maxUriLength + REQUEST_LINE_SLACK;

  // Request line (RFC 9112 §3): method SP request-target SP HTTP-version CRLF.
  let stop = Math.min(end, lineLimit);
  while (i < stop && TCHAR[buf[i]!] === 1) i++;
  if (i === end) return PARTIAL;
  if (buf[i] !== Byte.SP && i === stop)
    return refuse(414, `The request line is longer than ${limits.maxUriLength + REQUEST_LINE_SLACK} bytes.`);
  if (buf[i] !== Byte.SP || i === lineStart)
    return refuse(400, buf[i] === Byte.LF ? 'The request has a bare LF.' : 'The request method is malformed.');
  const methodEnd = i++;

  const targetStart = i;
  const targetLimit = targetStart + limits.maxUriLength;
  stop = Math.min(end, targetLimit);
  if (stop > lineLimit) stop = lineLimit;
  while (i < stop && TARGET[buf[i]!] === 1) i++;
  if (i === end) return PARTIAL;
  if (buf[i] !== Byte.SP && i === stop)
    return refuse(414, `The request URI is longer than ${limits.maxUriLength} bytes.`);
  if (buf[i] !== Byte.SP || i === targetStart) return refuse(400, 'The request target is malformed.');
  const targetEnd = i++;

  for (let k = 0; k < HTTP_SLASH.length; k++, i++) {
    if (i === end) return PARTIAL;
    if (buf[i] !== HTTP_SLASH[k]) return refuse(400, 'The request version is malformed.');
  }
  if (i + 2 >= end) {
    // Whatever of `d.d` has arrived must still be able to form a version.
    if (i < end && !isDigit(buf[i]!)) return refuse(400, 'The request version is malformed.');
    if (i + 1 < end && buf[i + 1] !== 0x2e) return refuse(400, 'The request version is malformed.');
    return PARTIAL;
  }
  const major = buf[i]! - 0x30;
  const minor = buf[i + 2]! - 0x30;
  if (!isDigit(buf[i]!) || buf[i + 1] !== 0x2e || !isDigit(buf[i + 2]!))
    return refuse(400, 'The request version is malformed.');
  if (major !== 1 || minor > 1) return refuse(505, 'Only HTTP/1.0 and HTTP/1.1 are served here.');
  i += 3;
  if (i === end) return PARTIAL;
  if (buf[i] !== Byte.CR)
    return refuse(400, buf[i] === Byte.LF ? 'The request has a bare LF.' : 'The request version is malformed.');
  if (++i === end) return PARTIAL;
  if (buf[i] !== Byte.LF) return refuse(400, 'The request has a bare CR.');
  i++;

  // Field lines (RFC 9112 §5), then the framing they ask for (one table with the proxy's responses).
  const headerLimit = i + limits.maxHeaderBytes;
  scanFields(buf, i, end, Math.min(end, headerLimit), limits.maxHeaderCount, minor, true, scan);
  if (scan.fault !== ScanFault.None) return scanRefusal(scan.fault, limits);
  i = scan.end;
  const count = scan.count;
  if (scan.hostCount === 0 && minor === 1) return refuse(400, 'An HTTP/1.1 request needs a Host header.');
  const hostField = scan.hostField;
  const expectFields = scan.expectFields;
  const chunked = scan.chunked;
  const contentLength = scan.lengthCount === 1 ? scan.contentLength : null;

  // One latin1 decoding of the whole head; every string is a slice of it.
  const text = buf.toString('latin1', lineStart, i);
  const rawHeaders: string[] = new Array<string>(count * 2);
  for (let f = 0; f < count; f++) {
    const at = f * 4;
    rawHeaders[f * 2] = text.slice(spans[at]! - lineStart, spans[at + 1]! - lineStart);
    rawHeaders[f * 2 + 1] = text.slice(spans[at + 2]! - lineStart, spans[at + 3]! - lineStart);
  }
  let expectation: string | null = null;
  let expectContinue = false;
  if (expectFields !== null) {
    expectation = expectFields.map((f) => rawHeaders[f * 2 + 1]!).join(', ');
    expectContinue =
      expectFields.length === 1 && equalsFolded(buf, spans[expectFields[0]! * 4 + 2]!, expectation.length, CONTINUE);
  }
  const method = methodName(buf, lineStart, methodEnd) ?? text.slice(0, methodEnd - lineStart);
  const head: RequestHead = {
    method,
    target: text.slice(targetStart - lineStart, targetEnd - lineStart),
    minor: minor === 1 ? 1 : 0,
    rawHeaders,
    contentLength,
    chunked,
    keepAlive: persists(scan, minor),
    upgrade: (scan.upgradeField && scan.upgradeToken) || method === 'CONNECT',
    expectContinue,
    expectation,
    host: hostField === -1 ? undefined : rawHeaders[hostField * 2 + 1],
  };
  return { kind: 'head', head, length: i - start };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function tooLarge(limits: HeadLimits): HeadParse {
  return refuse(431, `The request headers are larger than ${limits.maxHeaderBytes} bytes.`);
}

/** The common methods as constant strings, so comparisons downstream meet internalised strings. */
function methodName(buf: Buffer, s: number, e: number): string | null {
  switch (e - s) {
    case 3:
      if (buf[s] === 0x47 && buf[s + 1] === 0x45 && buf[s + 2] === 0x54) return 'GET';
      if (buf[s] === 0x50 && buf[s + 1] === 0x55 && buf[s + 2] === 0x54) return 'PUT';
      return null;
    case 4:
      if (buf[s] === 0x50 && buf[s + 1] === 0x4f && buf[s + 2] === 0x53 && buf[s + 3] === 0x54) return 'POST';
      if (buf[s] === 0x48 && buf[s + 1] === 0x45 && buf[s + 2] === 0x41 && buf[s + 3] === 0x44) return 'HEAD';
      return null;
    default:
      return null;
  }
}
