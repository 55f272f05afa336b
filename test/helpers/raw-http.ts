// A raw-socket HTTP/1.1 client for channel tests: exact bytes out, responses parsed strictly back,
// so framing, pipelining and connection handling can be asserted byte for byte.
import { connect, type Socket } from 'node:net';

/** One HTTP/1.x response as it arrived, body framing removed. */
export interface RawResponse {
  /** The protocol of the status line, e.g. `HTTP/1.1`. */
  version: string;
  status: number;
  /** The reason phrase (possibly empty). */
  reason: string;
  /** Header fields in order, names as sent, values without surrounding whitespace. */
  headers: Array<[string, string]>;
  /** A header's values joined by `, ` (name case-insensitive), or undefined when absent. */
  header(name: string): string | undefined;
  /**
   * How the body was delimited (RFC 9112 §6.3): `none` for HEAD, 1xx, 204 and 304; `chunked`;
   * `length` (Content-Length); `close` (read until the server closed).
   */
  framing: 'none' | 'chunked' | 'length' | 'close';
  /** The body with the chunked coding removed. */
  body: Buffer;
  /** `body` as UTF-8. */
  text: string;
  /** The body bytes as sent: chunk-size lines, extensions and the trailer section included. */
  rawBody: Buffer;
  /** Trailer fields of a chunked body. */
  trailers: Array<[string, string]>;
  /** The whole message as sent, head included, as latin1 text. */
  raw: string;
}

/** A response the helper cannot parse: the server sent something that is not HTTP/1.1, or stopped inside it. */
export class ResponseSyntaxError extends Error {
  override name = 'ResponseSyntaxError';
}

/** The server closed the connection (or reset it) where the next response would have started. */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
}

/** Options of {@link parseResponseAt}. */
interface ParseOptions {
  /** The response answers a HEAD request: no body whatever the headers say. */
  head: boolean;
  /** No more bytes will come: a close-delimited body ends here, anything incomplete is an error. */
  eof: boolean;
}

const CRLF = Buffer.from('\r\n', 'latin1');
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** tchar (RFC 9110 §5.6.2), for field names. */
const FIELD_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;
/** status-line (RFC 9112 §4): HTTP-version SP 3DIGIT SP [reason-phrase]. */
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3}) (.*)$/;
/** chunk-size [chunk-ext] (RFC 9112 §7.1). */
const CHUNK_LINE = /^([0-9A-Fa-f]+)[ \t]*(;.*)?$/;

function show(text: string, max = 400): string {
  const shown = JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  return `${shown} (${text.length} bytes)`;
}

function parseFieldLines(lines: string[], what: string): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const line of lines) {
    if (/[\r\n]/.test(line)) throw new ResponseSyntaxError(`bare CR or LF in a ${what} line: ${show(line)}`);
    const m = FIELD_LINE.exec(line);
    if (!m) throw new ResponseSyntaxError(`malformed ${what} line: ${show(line)}`);
    fields.push([m[1]!, m[2]!]);
  }
  return fields;
}

function headerLookup(headers: ReadonlyArray<[string, string]>): (name: string) => string | undefined {
  return (name) => {
    const lower = name.toLowerCase();
    const values = headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
    return values.length ? values.join(', ') : undefined;
  };
}

/** Where the chunked body starting at `from` ends, its decoded bytes and trailers; null when more bytes are needed. */
function parseChunked(
  buf: Buffer,
  from: number,
  eof: boolean,
): { end: number; body: Buffer; trailers: Array<[string, string]> } | null {
  const parts: Buffer[] = [];
  let at = from;
  const incomplete = () => {
    if (eof)
      throw new ResponseSyntaxError(
        `the connection closed inside a chunked body: ${show(buf.toString('latin1', from))}`,
      );
    return null;
  };
  for (;;) {
    const lineEnd = buf.indexOf(CRLF, at);
    if (lineEnd === -1) return incomplete();
    const line = buf.toString('latin1', at, lineEnd);
    const m = CHUNK_LINE.exec(line);
    if (!m || /[\r\n]/.test(line)) throw new ResponseSyntaxError(`malformed chunk-size line: ${show(line)}`);
    const size = parseInt(m[1]!, 16);
    at = lineEnd + 2;
    if (size === 0) break;
    if (buf.length < at + size + 2) return incomplete();
    parts.push(buf.subarray(at, at + size));
    at += size;
    if (buf[at] !== 0x0d || buf[at + 1] !== 0x0a)
      throw new ResponseSyntaxError(
        `chunk data of ${size} bytes is not followed by CRLF: ${show(buf.toString('latin1', at, at + 20))}`,
      );
    at += 2;
  }
  // trailer-section CRLF
  const lines: string[] = [];
  for (;;) {
    const lineEnd = buf.indexOf(CRLF, at);
    if (lineEnd === -1) return incomplete();
    const line = buf.toString('latin1', at, lineEnd);
    at = lineEnd + 2;
    if (line === '') break;
    lines.push(line);
  }
  return { end: at, body: Buffer.concat(parts), trailers: parseFieldLines(lines, 'trailer') };
}

/**
 * Parses the response starting at `buf[start]`. Returns it with the offset just past it, or null when
 * more bytes are needed; throws a ResponseSyntaxError for anything malformed (or incomplete at `eof`).
 */
function parseResponseAt(
  buf: Buffer,
  start: number,
  options: ParseOptions,
): { response: RawResponse; end: number } | null {
  const headEnd = buf.indexOf(HEAD_END, start);
  if (headEnd === -1) {
    if (options.eof)
      throw new ResponseSyntaxError(
        `the connection closed before a complete response head: ${show(buf.toString('latin1', start))}`,
      );
    return null;
  }
  const [statusLine = '', ...fieldLines] = buf.toString('latin1', start, headEnd).split('\r\n');
  const status = STATUS_LINE.exec(statusLine);
  if (!status || /[\r\n]/.test(statusLine)) throw new ResponseSyntaxError(`malformed status line: ${show(statusLine)}`);
  const code = Number(status[2]);
  const headers = parseFieldLines(fieldLines, 'header');
  const header = headerLookup(headers);
  const bodyStart = headEnd + HEAD_END.length;

  let framing: RawResponse['framing'];
  let end: number;
  let body: Buffer;
  let trailers: Array<[string, string]> = [];
  const te = header('transfer-encoding');
  const cl = header('content-length');
  if (options.head || code < 200 || code === 204 || code === 304) {
    framing = 'none';
    end = bodyStart;
    body = Buffer.alloc(0);
  } else if (te !== undefined) {
    const codings = te.split(',').map((c) => c.trim().toLowerCase());
    if (codings.at(-1) === 'chunked') {
      const chunked = parseChunked(buf, bodyStart, options.eof);
      if (!chunked) return null;
      framing = 'chunked';
      ({ end, body, trailers } = chunked);
    } else {
      if (!options.eof) return null;
      framing = 'close';
      end = buf.length;
      body = buf.subarray(bodyStart);
    }
  } else if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) throw new ResponseSyntaxError(`invalid Content-Length ${show(cl)} in ${show(statusLine)}`);
    framing = 'length';
    end = bodyStart + Number(cl);
    if (buf.length < end) {
      if (options.eof)
        throw new ResponseSyntaxError(
          `the connection closed ${end - buf.length} bytes short of Content-Length ${cl}: ${show(buf.toString('latin1', start))}`,
        );
      return null;
    }
    body = buf.subarray(bodyStart, end);
  } else {
    if (!options.eof) return null;
    framing = 'close';
    end = buf.length;
    body = buf.subarray(bodyStart);
  }
  const response: RawResponse = {
    version: status[1]!,
    status: code,
    reason: status[3]!,
    headers,
    header,
    framing,
    body: Buffer.from(body),
    text: body.toString('utf8'),
    rawBody: Buffer.from(buf.subarray(bodyStart, end)),
    trailers,
    raw: buf.toString('latin1', start, end),
  };
  return { response, end };
}

/** Options of {@link parseResponses}. */
export interface ParseResponsesOptions {
  /**
   * The methods of the requests, in the order sent, so responses to HEAD are read without a body.
   * Interim (1xx) responses do not use up an entry. Default: none was HEAD.
   */
  methods?: readonly string[];
}

/**
 * Splits a whole transcript (everything a server sent on one connection until it closed) into its
 * responses, in order. The last response may be delimited by the close. Throws a ResponseSyntaxError
 * when the transcript ends inside a response or is not HTTP/1.1.
 *
 * ```ts
 * const [head, get] = parseResponses(await rawHttp(port, 'HEAD / ...GET / ...'), { methods: ['HEAD', 'GET'] });
 * ```
 */
export function parseResponses(transcript: string | Buffer, options: ParseResponsesOptions = {}): RawResponse[] {
  const buf = typeof transcript === 'string' ? Buffer.from(transcript, 'latin1') : transcript;
  const methods = options.methods ?? [];
  const responses: RawResponse[] = [];
  let at = 0;
  let request = 0;
  while (at < buf.length) {
    const parsed = parseResponseAt(buf, at, { head: methods[request]?.toUpperCase() === 'HEAD', eof: true })!;
    responses.push(parsed.response);
    if (parsed.response.status >= 200) request++;
    at = parsed.end;
  }
  return responses;
}

/** Options of {@link RawConnection.open}. */
export interface OpenOptions {
  /** Address to connect to. Default `127.0.0.1`. */
  host?: string;
}

/** Options of the reading methods of {@link RawConnection}. */
export interface ReadOptions {
  /** How long to wait before rejecting. Default 3000 ms. */
  timeoutMs?: number;
}

/** Options of {@link RawConnection.readResponse}. */
export interface ReadResponseOptions extends ReadOptions {
  /** The response answers a HEAD request: read no body. Default false. */
  head?: boolean;
}

const DEFAULT_TIMEOUT_MS = 3000;

/**
 * One client connection driven by hand: write any bytes, read responses one at a time, watch for the
 * server closing. Everything the server sends is buffered until read, so pipelined responses can be
 * read in order after the fact. Socket errors (a reset from the server) count as the server closing,
 * and are kept in `error`.
 *
 * ```ts
 * const conn = await RawConnection.open(port);
 * await conn.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
 * const res = await conn.readResponse();
 * assert.equal(res.status, 200);
 * conn.destroy();
 * ```
 */
export class RawConnection {
  /** The underlying socket (Nagle off, so each write leaves as its own segment). */
  readonly socket: Socket;
  /** Resolves when the server has closed (FIN or reset) and every byte before that was received. */
  readonly closed: Promise<void>;
  /** The socket error that ended the connection, if any (ECONNRESET when the server reset it). */
  error: Error | null = null;
  #buf: Buffer = Buffer.alloc(0);
  #pending: Buffer[] = [];
  #ended = false;
  #wake: (() => void) | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#pending.push(chunk);
      this.#notify();
    });
    socket.on('error', (err) => {
      this.error ??= err;
    });
    this.closed = new Promise<void>((resolve) => {
      const done = () => {
        this.#ended = true;
        this.#notify();
        resolve();
      };
      socket.once('end', done);
      socket.once('close', done);
    });
  }

  /** Connects to `port` on 127.0.0.1 (or `host`); rejects when the connection is refused. */
  static open(port: number, options: OpenOptions = {}): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, options.host ?? '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  /** Whether the server has closed the connection. */
  get isClosed(): boolean {
    return this.#ended;
  }

  /** Bytes received and not read yet. */
  get buffered(): number {
    return this.#buf.length + this.#pending.reduce((n, b) => n + b.length, 0);
  }

  /** Sends `data` (a string goes out as latin1); resolves once the socket took it, rejects on a write error. */
  write(data: string | Buffer): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const written = new Promise<void>((resolve, reject) => {
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
    // Callers that do not wait for the write still see the failure through `error` and `closed`.
    written.catch(() => {});
    return written;
  }

  /** Half-closes: sends FIN, while the server's answers can still be read. */
  end(): void {
    this.socket.end();
  }

  /** Closes the socket at once (safe to call twice). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Stops reading from the socket, so unread data backs up to the server (TCP flow control). */
  pause(): void {
    this.socket.pause();
  }

  /** Reads from the socket again after {@link pause}. */
  resume(): void {
    this.socket.resume();
  }

  /**
   * Reads the next response, interim ones (100 Continue) included. Rejects with a
   * ConnectionClosedError when the server closed instead, a ResponseSyntaxError when the bytes are
   * not a valid response or stop inside one, and an Error after `timeoutMs`.
   */
  async readResponse(options: ReadResponseOptions = {}): Promise<RawResponse> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.#tryParse(options.head ?? false);
      if (parsed) return parsed;
      if (this.#ended) {
        if (this.buffered === 0)
          throw new ConnectionClosedError(`the server closed the connection without a response${this.#cause()}`);
        // With eof set, whatever is left is either a close-delimited response or an error.
        return parseResponseAt(this.#take(), 0, { head: options.head ?? false, eof: true })!.response;
      }
      if (!(await this.#waitForData(deadline))) {
        throw new Error(`no complete response within ${timeoutMs} ms; received so far: ${show(this.#peek())}`);
      }
    }
  }

  /** Resolves with everything not read yet (latin1) once the server closes; rejects after `timeoutMs`. */
  async readUntilClose(options: ReadOptions = {}): Promise<string> {
    await this.waitClosed(options);
    return this.#take().toString('latin1');
  }

  /** Resolves once the server has closed the connection; rejects after `timeoutMs`. */
  async waitClosed(options: ReadOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`the server did not close the connection within ${timeoutMs} ms; unread: ${show(this.#peek())}`),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits `ms` and tells whether the connection is still open then (false as soon as the server closes). */
  async stillOpenAfter(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const open = await Promise.race([
      this.closed.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), ms);
      }),
    ]);
    clearTimeout(timer);
    return open;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Resolves true on new data or the close, false at `deadline`. */
  #waitForData(deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.#wake = null;
          resolve(false);
        },
        Math.max(0, deadline - Date.now()),
      );
      this.#wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Parses one response from the buffered bytes, merging received chunks only when one is needed to finish it. */
  #tryParse(head: boolean): RawResponse | null {
    for (;;) {
      const parsed = this.#buf.length ? parseResponseAt(this.#buf, 0, { head, eof: false }) : null;
      if (parsed) {
        this.#buf = this.#buf.subarray(parsed.end);
        return parsed.response;
      }
      if (!this.#pending.length) return null;
      this.#buf = Buffer.concat([this.#buf, ...this.#pending]);
      this.#pending = [];
    }
  }

  #take(): Buffer {
    const all = Buffer.concat([this.#buf, ...this.#pending]);
    this.#buf = Buffer.alloc(0);
    this.#pending = [];
    return all;
  }

  #peek(): string {
    return Buffer.concat([this.#buf, ...this.#pending]).toString('latin1');
  }

  #cause(): string {
    return this.error ? ` (${this.error.message})` : '';
  }
}

/** Options of {@link rawHttp}. */
export interface RawHttpOptions extends OpenOptions {
  /** How long to wait for the server to close before rejecting. Default 3000 ms. */
  timeoutMs?: number;
}

/**
 * Connects to `port`, writes `bytes` (a string as latin1) and resolves with everything the server
 * sent until it closed the connection, as latin1 text. Rejects, showing what arrived, when the
 * server has not closed within `timeoutMs`.
 *
 * ```ts
 * const text = await rawHttp(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
 * const [res] = parseResponses(text);
 * ```
 */
export async function rawHttp(port: number, bytes: string | Buffer, options: RawHttpOptions = {}): Promise<string> {
  const conn = await RawConnection.open(port, options.host === undefined ? {} : { host: options.host });
  try {
    await conn.write(bytes).catch(() => {
      // The server may close before taking every byte; what it answered is still the result.
    });
    return await conn.readUntilClose(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
  } finally {
    conn.destroy();
  }
}
