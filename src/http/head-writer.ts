// The HTTP/1 message head and chunked framing as Trellis writes them (RFC 9112 §3, §4, §5, §7.1):
// status lines (HTTP/1.1 and the CGI `Status:` form), request lines, field lines, chunks.
import type { Writable } from 'node:stream';
import { safeReason } from './syntax.js';

/** The last chunk and the empty trailer section that end a chunked body (RFC 9112 §7.1): `0\r\n\r\n`. */
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF: Buffer = Buffer.from('\r\n', 'latin1');

/** Field names a head leaves out, by lower-cased name; {@link fieldSet} builds one once per module. */
export interface FieldSet {
  /** 1 at each name length in the set: only names of those lengths are lower-cased and looked up. */
  readonly lengths: Uint8Array;
  readonly names: ReadonlySet<string>;
}

/**
 * A {@link FieldSet} of `names` (lower case), for the `drop` argument of the head writers.
 *
 * ```ts
 * const FRAMING = fieldSet(['connection', 'keep-alive', 'transfer-encoding']);
 * ```
 */
export function fieldSet(names: readonly string[]): FieldSet {
  const lengths = new Uint8Array(256);
  for (const name of names) lengths[name.length] = 1;
  return { lengths, names: new Set(names) };
}

/** The status line of an HTTP/1.1 response: `HTTP/1.1 404 Not Found\r\n`, the reason made safe. */
export function statusLine(code: number, reason: string): string {
  return `HTTP/1.1 ${code} ${safeReason(reason)}\r\n`;
}

/** The `Status:` line a CGI-style response (CGI, FastCGI, SCGI; RFC 3875 §6.3.3) starts with, the reason made safe. */
export function cgiStatusLine(code: number, reason: string): string {
  return `Status: ${code} ${safeReason(reason)}\r\n`;
}

/**
 * A message head: `startLine`, a line for each field of the flat `[name, value, name, value, ...]`
 * list except those in `drop` (any case), then `extra` (whole field lines the caller adds, each
 * ending in CRLF) and the blank line. One string, ready to be written as latin1.
 *
 * Names and values are written as given, with no check here: they were checked before they
 * reached the writer. A response's fields by `assertHeader` (src/http/headers.ts) when the Request
 * took them (no CR, LF or other controls, no framing field that contradicts the body; SECURITY.md
 * §6.7); a proxy's forwarded fields by the proxy (`hasControlChars`) before it writes the head, and
 * its backend's by the strict response parser. Only the reason phrase, which code may set to any
 * text, is made safe by {@link statusLine}. Pinned by test/http/head-writer.test.ts.
 *
 * | startLine | flat                            | drop         | extra      | result                      |
 * |-----------|---------------------------------|--------------|------------|-----------------------------|
 * | `S\r\n`   | `['A', '1']`                    | null         | `''`       | `S\r\nA: 1\r\n\r\n`           |
 * | `S\r\n`   | `['Connection', 'x', 'A', '1']` | `connection` | `C: c\r\n` | `S\r\nA: 1\r\nC: c\r\n\r\n` |
 */
export function writeHead(
  startLine: string,
  flat: readonly string[],
  drop: FieldSet | null = null,
  extra = '',
): string {
  let head = startLine;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (drop !== null && drop.lengths[name.length] === 1 && drop.names.has(name.toLowerCase())) continue;
    head += `${name}: ${flat[i + 1]!}\r\n`;
  }
  return `${head}${extra}\r\n`;
}

/** {@link writeHead} from `[name, value]` pairs (what the proxies forward); the same lines. */
export function writeHeadPairs(
  startLine: string,
  pairs: Iterable<readonly [string, string]>,
  drop: FieldSet | null = null,
  extra = '',
): string {
  let head = startLine;
  for (const [name, value] of pairs) {
    if (drop !== null && drop.lengths[name.length] === 1 && drop.names.has(name.toLowerCase())) continue;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}${extra}\r\n`;
}

/**
 * An HTTP/1.1 response head from a flat field list: {@link statusLine}, then as {@link writeHead}
 * (fields in `drop` left out, `extra` lines added; values checked by whoever set them).
 *
 * ```ts
 * writeResponseHead(404, 'Not Found', ['Content-Type', 'text/html'], null, 'Connection: close\r\n')
 * // "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
 * ```
 */
export function writeResponseHead(
  code: number,
  reason: string,
  flat: readonly string[],
  drop: FieldSet | null = null,
  extra = '',
): string {
  return writeHead(statusLine(code, reason), flat, drop, extra);
}

/**
 * An HTTP/1.1 request head: `METHOD TARGET HTTP/1.1`, each field, the blank line. The method is a
 * token and the target free of controls by the time they get here (the parsed request's method,
 * a target from src/proxy/backend-path.ts or a parsed URL); the caller checks the field values.
 *
 * ```ts
 * writeRequestHead('GET', '/a?b', [['Host', 'example.com']])
 * // "GET /a?b HTTP/1.1\r\nHost: example.com\r\n\r\n"
 * ```
 */
export function writeRequestHead(method: string, target: string, pairs: Iterable<readonly [string, string]>): string {
  return writeHeadPairs(`${method} ${target} HTTP/1.1\r\n`, pairs);
}

/**
 * Writes `data` to `out` as one chunk of the chunked coding (RFC 9112 §7.1): its size in hex, CRLF,
 * the bytes, CRLF, corked so they leave in one write. Empty data writes nothing, since a zero-size
 * chunk would end the body ({@link LAST_CHUNK} does that). False when `out`'s buffer is full.
 *
 * ```ts
 * writeChunk(socket, Buffer.from('hello')); // "5\r\nhello\r\n"
 * socket.write(LAST_CHUNK);                 // "0\r\n\r\n"
 * ```
 */
export function writeChunk(out: Writable, data: Buffer): boolean {
  if (data.length === 0) return !out.writableNeedDrain;
  out.cork();
  out.write(`${data.length.toString(16)}\r\n`, 'latin1');
  out.write(data);
  const ok = out.write(CRLF);
  out.uncork();
  return ok;
}
