// The framing decision of an HTTP/1 message (RFC 9112 §6.1-§6.3, §9.3): from the framing fields a
// field scan noted, how the body is delimited and whether the connection persists. One table for both
// directions: the server's requests (src/channels/http1/request-head.ts) and the proxies' backend
// responses (src/proxy/response-parser.ts), so a message one refuses the other refuses too.
import type { FieldScan } from './field-scanner.js';

/** Why a message's framing is refused. */
export const enum FramingFault {
  None,
  /** Two or more Content-Length fields, even equal. */
  TwoLengths,
  /** A Content-Length that is not 1 to 15 ASCII digits (a sign, a list, spaces inside, empty). */
  BadLength,
  /** Transfer-Encoding together with Content-Length. */
  CodingAndLength,
  /** Transfer-Encoding in an HTTP/1.0 message. */
  CodingOnHttp10,
  /** Transfer-Encoding other than one field `chunked` (any case): `gzip, chunked`, two fields, ... */
  NotChunked,
}

/**
 * Decides the framing fault of a message whose fields `scan` noted, `minor` its HTTP/1.x version.
 * The same table for requests and responses (SECURITY.md §3.1, §2.6):
 *
 * | fields                                                  | result          |
 * |---------------------------------------------------------|-----------------|
 * | Transfer-Encoding and Content-Length, in any order      | CodingAndLength |
 * | two Content-Length fields, even equal                   | TwoLengths      |
 * | Content-Length not 1–15 digits (`+1`, `5, 5`, empty)    | BadLength       |
 * | Transfer-Encoding on HTTP/1.0                           | CodingOnHttp10  |
 * | Transfer-Encoding other than one field `chunked`        | NotChunked      |
 * | one `chunked` (any case), HTTP/1.1                      | chunked body    |
 * | one valid Content-Length                                | that many bytes |
 *
 * Two equal Content-Length fields are refused rather than merged (RFC 9112 §6.3 allows either):
 * nothing for a proxy in front and Trellis behind to disagree on. Pinned by test/http/framing.test.ts,
 * which runs one hostile corpus against both parsers.
 */
export function framingFault(scan: FieldScan, minor: number): FramingFault {
  if (scan.codingCount > 0 && scan.lengthCount > 0) return FramingFault.CodingAndLength;
  if (scan.lengthCount > 1) return FramingFault.TwoLengths;
  if (scan.lengthCount === 1 && scan.contentLength < 0) return FramingFault.BadLength;
  if (scan.codingCount > 0 && minor === 0) return FramingFault.CodingOnHttp10;
  if (scan.codingCount > 0 && !scan.chunked) return FramingFault.NotChunked;
  return FramingFault.None;
}

/**
 * Whether the connection may carry another message after this one (RFC 9112 §9.3): on HTTP/1.1
 * unless a Connection field says `close`, on HTTP/1.0 only with `keep-alive`. A body read until
 * the connection closes ends it whatever the fields say (the caller's to apply).
 */
export function persists(scan: FieldScan, minor: number): boolean {
  return !scan.close && (minor === 1 || scan.keepAliveToken);
}
