// An incremental, strict parser for the HTTP/1.1 responses a proxied backend sends: status line,
// header fields within fixed bounds, and the body framed by Content-Length, chunked coding or close.
import { ChunkedDecoder } from '../http/chunked.js';
import { newFieldScan, scanFields, ScanFault, type FieldScan } from '../http/field-scanner.js';
import { FramingFault, persists } from '../http/framing.js';
import { FIELD_VALUE } from '../http/syntax.js';
import type { ProxyErrorCode } from './proxy-error.js';

/** Largest response head (status line and header fields), like the CGI rule of SECURITY.md §2.6. */
export const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;
/** Most header fields in one response head (SECURITY.md §2.6). */
export const MAX_RESPONSE_HEADER_COUNT = 100;
/** Chunk-size line and trailer bounds: those of the shared decoder (src/http/chunked.ts). */
export { MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES } from '../http/chunked.js';
/** Most interim (1xx) responses before the final one (RFC 9110 §15.2). */
export const MAX_INTERIM_RESPONSES = 16;

/** The head of a final (or 101) response. */
export interface ResponseHead {
  status: number;
  /** Reason phrase as sent (may be empty). */
  reason: string;
  /** HTTP minor version: 0 or 1. */
  minor: number;
  /** Header fields in order, flat: name, value, name, value, ... (names as sent, values trimmed). */
  headers: string[];
  /** The body length when framed by Content-Length; null otherwise. */
  contentLength: number | null;
  chunked: boolean;
  /** Whether the backend lets the connection carry another request after this response. */
  keepAlive: boolean;
  /** Whether a Connection field names anything besides `close` and `keep-alive` (fields to drop, RFC 9110 §7.6.1). */
  connectionNames: boolean;
}

/** What the parser reports; called synchronously from {@link ResponseParser.push}. */
export interface ResponseEvents {
  /** The final head (never 100 or another interim response; 101 only when an upgrade was asked for). */
  onHead(head: ResponseHead): void;
  /** A piece of the decoded body (a view into the pushed buffer). */
  onBody(chunk: Buffer): void;
  /** The response is complete. */
  onEnd(): void;
  /** After a 101 head: the bytes that followed it, the first of the new protocol. */
  onUpgrade(rest: Buffer): void;
  /** The response is malformed or was cut short; nothing more is reported. */
  onError(reason: string, code: ResponseFault): void;
}

/** Why a response was refused: malformed, over the head limits, or cut short by the connection closing. */
export type ResponseFault = Extract<ProxyErrorCode, 'BAD_RESPONSE' | 'RESPONSE_TOO_LARGE' | 'BACKEND_RESET'>;

/** Why a head was refused. */
interface HeadFault {
  reason: string;
  code: ResponseFault;
}

function malformed(reason: string): HeadFault {
  return { reason, code: 'BAD_RESPONSE' };
}

/** The empty line that ends a head. */
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * The field scan of the head being parsed. Shared by every parser: parsing is synchronous, and all a
 * scan found is read before any callback runs.
 */
const scan: FieldScan = newFieldScan();

/** Why a field scan that stopped on `fault` (never None or Partial) refused the head. */
const SCAN_ERRORS: Partial<Record<ScanFault, string>> = {
  [ScanFault.BareCR]: 'the response head has a bare CR',
  [ScanFault.BareLF]: 'the response head has a bare LF',
  [ScanFault.ObsFold]: 'the response uses obsolete line folding',
  [ScanFault.WhitespaceBeforeColon]: 'a response header has whitespace before its colon',
  [ScanFault.EmptyName]: 'a response header has an empty name',
  [ScanFault.BadName]: 'a response header line is malformed',
  [ScanFault.Control]: 'a response header value has a control character',
  [ScanFault.TooMany]: 'the response has too many header fields',
  [ScanFault.TooLarge]: 'the response head is too large',
};

/** Why the framing table (src/http/framing.ts) refused the head. */
const FRAMING_ERRORS: Record<Exclude<FramingFault, FramingFault.None>, string> = {
  [FramingFault.TwoLengths]: 'the response has more than one Content-Length',
  [FramingFault.BadLength]: 'the response Content-Length is invalid',
  [FramingFault.CodingAndLength]: 'the response has both Transfer-Encoding and Content-Length',
  [FramingFault.CodingOnHttp10]: 'an HTTP/1.0 response has Transfer-Encoding',
  [FramingFault.NotChunked]: 'the response Transfer-Encoding is not chunked',
};

const HTTP_1 = Buffer.from('HTTP/1.', 'latin1');

/**
 * The end of the status line `HTTP/1.x SP 3DIGIT [SP reason] CRLF` at `buf[at..)` (RFC 9112 §4; the
 * reason may be empty, its separator too, and holds no control but HTAB): the index past its CRLF,
 * or -1 when it is malformed. The version is 1.0 or 1.1, the status 100 to 599.
 */
function statusLineEnd(buf: Buffer, at: number, end: number): number {
  if (end - at < 14) return -1;
  for (let k = 0; k < HTTP_1.length; k++) if (buf[at + k] !== HTTP_1[k]) return -1;
  const minor = buf[at + 7]!;
  const d0 = buf[at + 9]!;
  const d1 = buf[at + 10]!;
  const d2 = buf[at + 11]!;
  if ((minor !== 0x30 && minor !== 0x31) || buf[at + 8] !== 0x20) return -1;
  if (d0 < 0x31 || d0 > 0x35 || d1 < 0x30 || d1 > 0x39 || d2 < 0x30 || d2 > 0x39) return -1;
  let i = at + 12;
  if (buf[i] === 0x20) {
    i++;
    while (i < end && FIELD_VALUE[buf[i]!] !== 0) i++;
  }
  return buf[i] === 0x0d && buf[i + 1] === 0x0a ? i + 2 : -1;
}

/** What the request that the response answers changes in its framing. */
export interface ExpectOptions {
  /** The request was HEAD: the response has no body whatever its fields say. */
  head: boolean;
  /** The request asked for an upgrade: a 101 is a final answer instead of an error. */
  upgrade: boolean;
}

const enum State {
  Idle,
  Head,
  Length,
  Chunked,
  UntilClose,
  Done,
  Upgraded,
  Failed,
}

/**
 * Parses one response at a time from a backend connection. Everything the backend could get wrong
 * ends in `onError` with a reason and a code, never in a throw (SECURITY.md §2.6, §3.1): the code is
 * `RESPONSE_TOO_LARGE` past the head limits, `BACKEND_RESET` when the connection closes early,
 * `BAD_RESPONSE` otherwise (proxy-error.ts).
 *
 * | input                                              | outcome                       |
 * |----------------------------------------------------|-------------------------------|
 * | head over 16 KiB or over 100 fields                | error                         |
 * | a status line other than `HTTP/1.0`/`1.1 1xx–5xx`  | error                         |
 * | obs-fold, a bare CR or LF, a control in a value    | error                         |
 * | two Content-Length fields, or a non-digit one      | error                         |
 * | Transfer-Encoding with Content-Length, on HTTP/1.0, or other than `chunked` | error |
 * | 100 Continue, 102, 103                             | skipped                       |
 * | 101 when no upgrade was asked for                  | error                         |
 * | HEAD, 204, 304                                     | no body                       |
 * | neither length nor chunked                         | body until close, not reused  |
 * | chunk size over 13 hex digits, chunk line over 4 KiB, trailers over 16 KiB | error |
 * | the connection closing mid-head or mid-body        | error                         |
 * | bytes after the end of the response               | `excess` set                  |
 *
 * Chunked bodies are decoded by the shared {@link ChunkedDecoder} (src/http/chunked.ts), with its
 * default bounds. Pinned by test/proxy/response-parser.test.ts and test/http/chunked.test.ts.
 */
export class ResponseParser {
  /** Bytes arrived after the response ended: the connection must not be reused. */
  excess = false;
  /** Some byte of a response arrived since the last {@link expect}. */
  received = false;
  #events: ResponseEvents;
  #state = State.Idle;
  #head = false;
  #upgrade = false;
  #pending: Buffer | null = null;
  #interim = 0;
  #remaining = 0;
  /** The decoder of the current chunked body; a fresh one for each, so an abandoned one can finish its push harmlessly. */
  #chunked = new ChunkedDecoder();
  /** Counts {@link expect} calls, so a callback that starts the next exchange stops the current push. */
  #generation = 0;

  constructor(events: ResponseEvents) {
    this.#events = events;
  }

  /** Whether a response is being read (between {@link expect} and its end or error). */
  get busy(): boolean {
    const s = this.#state;
    return s !== State.Idle && s !== State.Done && s !== State.Failed && s !== State.Upgraded;
  }

  /** Whether the last response ended completely. */
  get complete(): boolean {
    return this.#state === State.Done;
  }

  /** Prepares for the response to the next request. */
  expect(options: ExpectOptions): void {
    this.#generation++;
    this.#state = State.Head;
    this.#head = options.head;
    this.#upgrade = options.upgrade;
    this.#pending = null;
    this.#interim = 0;
    this.excess = false;
    this.received = false;
  }

  /** Stops reporting anything (the exchange was abandoned). */
  stop(): void {
    this.#state = State.Failed;
    this.#pending = null;
  }

  /** Feeds bytes read from the connection. */
  push(data: Buffer): void {
    if (data.length === 0) return;
    const generation = this.#generation;
    let at = 0;
    while (at < data.length && generation === this.#generation) {
      switch (this.#state) {
        case State.Head:
          this.received = true;
          at = this.#readHead(data, at);
          break;
        case State.Length: {
          const n = Math.min(this.#remaining, data.length - at);
          this.#remaining -= n;
          const chunk = at === 0 && n === data.length ? data : data.subarray(at, at + n);
          at += n;
          if (this.#remaining === 0) {
            this.#state = State.Done;
            if (at < data.length) this.excess = true;
          }
          this.#events.onBody(chunk);
          if (this.#state !== State.Done) break;
          this.#events.onEnd();
          return;
        }
        case State.Chunked: {
          const decoder = this.#chunked;
          // A body callback that abandons this exchange (stop, or expect for the next) hears no more of it.
          const used = decoder.push(data, at, (chunk) => {
            if (generation === this.#generation && this.#state === State.Chunked) this.#events.onBody(chunk);
          });
          if (generation !== this.#generation || this.#state !== State.Chunked) return;
          if (used < 0) {
            this.#fail(decoder.error ?? 'the chunked body is malformed');
            return;
          }
          at += used;
          if (!decoder.done) break;
          this.#state = State.Done;
          if (at < data.length) this.excess = true;
          this.#events.onEnd();
          return;
        }
        case State.UntilClose: {
          const chunk = at === 0 ? data : data.subarray(at);
          at = data.length;
          this.#events.onBody(chunk);
          break;
        }
        case State.Done:
          this.excess = true;
          return;
        case State.Idle:
          // Bytes while no request is outstanding: nothing can be trusted on this connection.
          this.excess = true;
          return;
        case State.Upgraded:
        case State.Failed:
          return;
      }
    }
  }

  /** The connection ended (the backend closed it): completes a body read until close, else an error. */
  finish(): void {
    const s = this.#state;
    if (s === State.UntilClose) {
      this.#state = State.Done;
      this.#events.onEnd();
      return;
    }
    if (s === State.Idle || s === State.Done || s === State.Failed || s === State.Upgraded) return;
    const where =
      s !== State.Head ? 'inside the response body' : this.received ? 'inside the response head' : 'before a response';
    this.#fail(`the connection closed ${where}`, 'BACKEND_RESET');
  }

  #fail(reason: string, code: ResponseFault = 'BAD_RESPONSE'): number {
    this.#state = State.Failed;
    this.#pending = null;
    this.#events.onError(reason, code);
    return Number.MAX_SAFE_INTEGER;
  }

  #readHead(data: Buffer, at: number): number {
    let buf: Buffer;
    let searchFrom: number;
    let base: number;
    if (this.#pending) {
      const prior = this.#pending.length;
      buf = Buffer.concat([this.#pending, data.subarray(at)]);
      searchFrom = Math.max(0, prior - 3);
      base = at - prior;
    } else {
      buf = data;
      searchFrom = at;
      base = 0;
    }
    const start = this.#pending ? 0 : at;
    const end = buf.indexOf(HEAD_END, searchFrom);
    if (end === -1 || end + 4 - start > MAX_RESPONSE_HEAD_BYTES) {
      if (buf.length - start > MAX_RESPONSE_HEAD_BYTES) {
        return this.#fail('the response head is too large', 'RESPONSE_TOO_LARGE');
      }
      this.#pending = start === 0 && buf !== data ? buf : Buffer.from(buf.subarray(start));
      return data.length;
    }
    this.#pending = null;
    const next = end + 4 + base;
    const fault = this.#parseHead(buf, start, end);
    if (fault) return this.#fail(fault.reason, fault.code);
    if (this.#state === State.Upgraded) {
      this.#events.onUpgrade(data.subarray(next));
      return data.length;
    }
    if (this.#state === State.Done) {
      // A response without a body: anything after its head is not part of it.
      if (next < data.length) this.excess = true;
      this.#events.onEnd();
      return data.length;
    }
    return next;
  }

  /**
   * Parses the head at `buf[start..)` that ends with the empty line at `end` (its first CR): the
   * status line here, the field lines by the shared scanner (src/http/field-scanner.ts), the framing
   * by the shared table (src/http/framing.ts). Reports it and sets the body state; returns a fault.
   */
  #parseHead(buf: Buffer, start: number, end: number): HeadFault | null {
    const lineEnd = statusLineEnd(buf, start, end + 2);
    if (lineEnd < 0) return malformed('the status line is malformed');
    const minor = buf[start + 7] === 0x31 ? 1 : 0;
    scanFields(buf, lineEnd, end + 4, start + MAX_RESPONSE_HEAD_BYTES, MAX_RESPONSE_HEADER_COUNT, minor, false, scan);
    if (scan.fault === ScanFault.Framing) {
      return malformed(FRAMING_ERRORS[scan.framing as Exclude<FramingFault, FramingFault.None>]);
    }
    if (scan.fault === ScanFault.TooLarge || scan.fault === ScanFault.TooMany) {
      return { reason: SCAN_ERRORS[scan.fault]!, code: 'RESPONSE_TOO_LARGE' };
    }
    if (scan.fault !== ScanFault.None) return malformed(SCAN_ERRORS[scan.fault] ?? 'the response head is malformed');
    const status = (buf[start + 9]! - 48) * 100 + (buf[start + 10]! - 48) * 10 + (buf[start + 11]! - 48);
    // One latin1 decoding of the whole head; every string is a slice of it.
    const text = buf.toString('latin1', start, scan.end);
    const reason = lineEnd - start > 14 ? text.slice(13, lineEnd - start - 2) : '';
    const count = scan.count;
    const spans = scan.spans;
    const headers: string[] = new Array<string>(count * 2);
    for (let f = 0; f < count; f++) {
      const at = f * 4;
      headers[f * 2] = text.slice(spans[at]! - start, spans[at + 1]! - start);
      headers[f * 2 + 1] = text.slice(spans[at + 2]! - start, spans[at + 3]! - start);
    }
    const contentLength = scan.lengthCount === 1 ? scan.contentLength : null;
    const connectionNames = scan.otherToken || scan.upgradeToken;
    const persistent = persists(scan, minor);
    const transferEncoding = scan.codingCount > 0;
    if (status < 200) {
      if (status === 101) {
        if (!this.#upgrade) return malformed('the backend switched protocols unasked');
        this.#state = State.Upgraded;
        this.#events.onHead({
          status,
          reason,
          minor,
          headers,
          contentLength: null,
          chunked: false,
          keepAlive: false,
          connectionNames,
        });
        return null;
      }
      // 100 Continue and other interim answers are not relayed; the final response follows.
      if (++this.#interim > MAX_INTERIM_RESPONSES) return malformed('the backend sent too many interim responses');
      return null;
    }
    const chunked = transferEncoding;
    const bodyless = this.#head || status === 204 || status === 304;
    let keepAlive = persistent;
    if (bodyless) this.#state = State.Done;
    else if (chunked) {
      this.#state = State.Chunked;
      this.#chunked = new ChunkedDecoder();
    } else if (contentLength !== null) {
      this.#remaining = contentLength;
      this.#state = contentLength === 0 ? State.Done : State.Length;
    } else {
      this.#state = State.UntilClose;
      keepAlive = false;
    }
    this.#events.onHead({
      status,
      reason,
      minor,
      headers,
      contentLength: chunked ? null : contentLength,
      chunked,
      keepAlive,
      connectionNames,
    });
    return null;
  }
}
