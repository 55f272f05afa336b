// An incremental, strict parser for the HTTP/1.1 responses a proxied backend sends: status line,
// header fields within fixed bounds, and the body framed by Content-Length, chunked coding or close.
import { ChunkedDecoder } from '../http/chunked.js';

/** Largest response head (status line and header fields), like the CGI rule of SECURITY.md §2.6. */
export const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;
/** Most header fields in one response head (SECURITY.md §2.6). */
export const MAX_RESPONSE_HEADER_COUNT = 100;
/** Chunk-size line and trailer bounds: those of the shared decoder (src/http/chunked.ts). */
export { MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES } from '../http/chunked.js';
/** Most interim (1xx) responses before the final one (RFC 9110 §15.2). */
export const MAX_INTERIM_RESPONSES = 16;

/** RFC 9112 §4: `HTTP/1.x SP 3DIGIT SP reason CRLF`; the reason may be empty, its separator too. */
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: ([^\u0000-\u0008\u000a-\u001f\u007f]*))?\r\n/;
/**
 * A whole head, status line and every `token ":" value CRLF` field line (RFC 9112 §4, §5), values
 * of visible characters, obs-text, SP and HTAB (RFC 9110 §5.5). One linear match checks it all: no
 * character class of a line can take its CRLF.
 */
const HEAD = /^HTTP\/1\.[01] [1-5]\d\d(?: [^\u0000-\u0008\u000a-\u001f\u007f]*)?\r\n(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\u0000-\u0008\u000a-\u001f\u007f]*\r\n)*$/;
/** One field line, for telling what is wrong with a head {@link HEAD} refused. */
const FIELD_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\u0000-\u0008\u000a-\u001f\u007f]*$/;

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
  onError(reason: string): void;
}

/** The empty line that ends a head. */
const HEAD_END = Buffer.from('\r\n\r\n');

/** Why a head that {@link HEAD} refused is malformed. */
function malformation(text: string): string {
  const lines = text.split('\r\n');
  if (!STATUS_LINE.test(`${lines[0]}\r\n`)) return 'the status line is malformed';
  for (let i = 1; i < lines.length - 1; i++) {
    const line = lines[i]!;
    if (line.charCodeAt(0) === 32 || line.charCodeAt(0) === 9) return 'the response uses obsolete line folding';
    if (!FIELD_LINE.test(line)) return 'a response header line is malformed';
  }
  return 'the response head is malformed';
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
 * ends in `onError` with a reason, never in a throw (SECURITY.md §2.6, §3.1):
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
    this.#fail(s === State.Head ? (this.received ? 'the connection closed inside the response head' : 'the connection closed before a response') : 'the connection closed inside the response body');
  }

  #fail(reason: string): number {
    this.#state = State.Failed;
    this.#pending = null;
    this.#events.onError(reason);
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
      if (buf.length - start > MAX_RESPONSE_HEAD_BYTES) return this.#fail('the response head is too large');
      this.#pending = start === 0 && buf !== data ? buf : Buffer.from(buf.subarray(start));
      return data.length;
    }
    this.#pending = null;
    const next = end + 4 + base;
    // The text keeps the CRLF that ends the last field line, so every line matches alike.
    const error = this.#parseHead(buf.toString('latin1', start, end + 2));
    if (error) return this.#fail(error);
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

  /** Parses a head (without its final empty line), reports it and sets the body state; returns an error. */
  #parseHead(text: string): string | null {
    if (!HEAD.test(text)) return malformation(text);
    // HEAD checked the status line: `HTTP/1.x NNN` then an optional ` reason`.
    const statusEnd = text.indexOf('\r\n');
    const minor = text.charCodeAt(7) === 49 ? 1 : 0;
    const status = (text.charCodeAt(9) - 48) * 100 + (text.charCodeAt(10) - 48) * 10 + (text.charCodeAt(11) - 48);
    const reason = statusEnd > 12 ? text.slice(13, statusEnd) : '';
    const headers: string[] = [];
    let contentLength: number | null = null;
    let transferEncoding: string | null = null;
    let close = minor === 0;
    let connectionNames = false;
    let at = statusEnd + 2;
    while (at < text.length) {
      if (headers.length === 2 * MAX_RESPONSE_HEADER_COUNT) return 'the response has too many header fields';
      const eol = text.indexOf('\r\n', at);
      const colon = text.indexOf(':', at);
      let s = colon + 1;
      let e = eol;
      while (s < e && (text.charCodeAt(s) === 32 || text.charCodeAt(s) === 9)) s++;
      while (e > s && (text.charCodeAt(e - 1) === 32 || text.charCodeAt(e - 1) === 9)) e--;
      const name = text.slice(at, colon);
      const value = text.slice(s, e);
      at = eol + 2;
      switch (name.length) {
        case 10:
          if (name.toLowerCase() === 'connection') {
            const v = value.toLowerCase();
            if (v === 'keep-alive') break;
            if (v === 'close') close = true;
            else {
              connectionNames = true;
              if (/(?:^|,)[ \t]*close[ \t]*(?:,|$)/.test(v)) close = true;
            }
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') {
            if (contentLength !== null) return 'the response has more than one Content-Length';
            if (!/^\d{1,15}$/.test(value)) return 'the response Content-Length is invalid';
            contentLength = Number(value);
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            if (transferEncoding !== null) return 'the response has more than one Transfer-Encoding';
            transferEncoding = value.toLowerCase();
          }
          break;
      }
      headers.push(name, value);
    }
    if (transferEncoding !== null) {
      if (contentLength !== null) return 'the response has both Transfer-Encoding and Content-Length';
      if (minor === 0) return 'an HTTP/1.0 response has Transfer-Encoding';
      if (transferEncoding !== 'chunked') return 'the response Transfer-Encoding is not chunked';
    }
    if (status < 200) {
      if (status === 101) {
        if (!this.#upgrade) return 'the backend switched protocols unasked';
        this.#state = State.Upgraded;
        this.#events.onHead({ status, reason, minor, headers, contentLength: null, chunked: false, keepAlive: false, connectionNames });
        return null;
      }
      // 100 Continue and other interim answers are not relayed; the final response follows.
      if (++this.#interim > MAX_INTERIM_RESPONSES) return 'the backend sent too many interim responses';
      return null;
    }
    const chunked = transferEncoding !== null;
    const bodyless = this.#head || status === 204 || status === 304;
    let keepAlive = !close;
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
    this.#events.onHead({ status, reason, minor, headers, contentLength: chunked ? null : contentLength, chunked, keepAlive, connectionNames });
    return null;
  }
}
