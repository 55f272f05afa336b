// FastCGIClientResource: Trellis as a FastCGI client (nginx's fastcgi_pass, Caddy's php_fastcgi) to
// php-fpm, `php-cgi -b` or any FastCGI responder, streaming both ways over pooled kept-alive connections.
import type { Socket } from 'node:net';
import {
  encodeRecord,
  encodeStream,
  FcgiProtocolStatus,
  FcgiType,
  RecordReader,
  type FcgiRecord,
} from '../channels/fastcgi/records.js';
import { scriptMetaVariables, visitMetaVariables } from '../cgi/environment.js';
import { localRedirect } from '../cgi/local-redirect.js';
import { translatePathInfo } from '../cgi/script-file.js';
import { HttpError } from '../errors.js';
import {
  CGI_HEAD_LIMITS,
  CGI_HEAD_PARTIAL,
  isCgiHeadError,
  parseCgiHead,
  type CgiHeadLimits,
} from '../http/cgi-head.js';
import { failProxied, ProxyError } from '../proxy/proxy-error.js';
import { NOT_DONE_YET, type Request } from '../request.js';
import { Resource, type RenderResult } from '../resource.js';
import { formatFastCGIAddress, parseFastCGIAddress, type FastCGIAddress } from './address.js';
import {
  FastCGIPool,
  type FastCGIBorrower,
  type FastCGIConnection,
  type FastCGIConnectionHandler,
  type FastCGIPoolOptions,
} from './pool.js';
import { encodeParams, encodeRequestStart, ParamsWriter } from './request-records.js';

const EMPTY = Buffer.alloc(0);

/** The one request id used on a connection: one request at a time, as php-fpm and php-cgi serve. */
const REQUEST_ID = 1;

/** Most STDERR bytes logged per request; the rest is counted, not kept. */
const MAX_STDERR_LOGGED = 4096;

/** Options of {@link FastCGIClientResource}. */
export interface FastCGIClientOptions {
  /** The application: `tcp:127.0.0.1:9000`, `unix:/run/php/php-fpm.sock`, or a parsed address. Required unless `pool` is given. */
  address?: string | FastCGIAddress;
  /** Connections to share with other resources for the same application. Default: the shared pool of `address`. */
  pool?: FastCGIPool;
  /** Options of the pool made for `address` when it is first used. */
  poolOptions?: FastCGIPoolOptions;
  /** SCRIPT_FILENAME sent (PHP runs that file). Default ''. */
  scriptFilename?: string;
  /** DOCUMENT_ROOT sent. Default ''. */
  documentRoot?: string;
  /** Extra PARAMS, after the CGI meta-variables (e.g. PHP_VALUE). Default none. */
  params?: ReadonlyArray<readonly [string, string]>;
  /**
   * Milliseconds of silence (no read from the application, no body sent to it) before the request
   * fails: 504 before the head, a cut connection after. Checked by the pool's sweep every 100 ms, so
   * up to 200 ms late. Default 60000.
   */
  timeout?: number;
  /** Limits on the response head. Default 16 KiB and 100 lines. */
  headLimits?: CgiHeadLimits;
  /** Where STDERR output and protocol faults are logged. Default: stderr with a timestamp. */
  logError?: (message: string) => void;
}

const pools = new Map<string, FastCGIPool>();

/**
 * The encoded PARAMS that depend on the script only ({@link constantParams}), by script and root,
 * for resources without extra `params` (a `fastcgi:` processor makes one resource per request).
 */
const constantsByScript = new Map<string, Buffer>();
const MAX_REMEMBERED_SCRIPTS = 256;

/**
 * The PARAMS every request to one script repeats, encoded once: `scriptMetaVariables` (SCRIPT_FILENAME,
 * DOCUMENT_ROOT, ...), REDIRECT_STATUS=200 for php-cgi's `cgi.force_redirect`, then `params`.
 */
function constantParams(
  filename: string,
  documentRoot: string | null,
  params: ReadonlyArray<readonly [string, string]>,
): Buffer {
  const key = params.length ? null : `${filename}\0${documentRoot ?? ''}`;
  if (key !== null) {
    const known = constantsByScript.get(key);
    if (known) return known;
  }
  const pairs: Array<readonly [string, string]> = scriptMetaVariables({ filename, documentRoot });
  pairs.push(['REDIRECT_STATUS', '200'], ...params);
  const encoded = encodeParams(pairs);
  if (key !== null) {
    if (constantsByScript.size >= MAX_REMEMBERED_SCRIPTS) constantsByScript.clear();
    constantsByScript.set(key, encoded);
  }
  return encoded;
}

/** The pool every resource without its own `pool` shares for `address` (made with `options` on first use). */
export function sharedFastCGIPool(address: FastCGIAddress, options: FastCGIPoolOptions = {}): FastCGIPool {
  const key = formatFastCGIAddress(address);
  let pool = pools.get(key);
  if (!pool) pools.set(key, (pool = new FastCGIPool(address, options)));
  return pool;
}

function defaultLog(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/**
 * Answers every request below it by passing it to a FastCGI application (RFC-less but standard:
 * the FastCGI 1.0 specification, Responder role) and relaying the answer, like nginx's
 * `fastcgi_pass`:
 *
 * - The CGI meta-variables (`cgiMetaVariables`, shared with CGIScript: SCRIPT_NAME is the URL up to
 *   this resource, PATH_INFO the rest) go as PARAMS, with SCRIPT_FILENAME and DOCUMENT_ROOT from the
 *   options; a path a script cannot be given is a 400.
 * - A body of known length streams to STDIN record by record with backpressure (the client is read
 *   only as fast as the application takes it); a chunked body of unknown length is read whole first
 *   (up to the Site's body limit, then 413) because CGI applications need CONTENT_LENGTH.
 * - The request's records (BEGIN_REQUEST, PARAMS, and STDIN when the body is known) leave in one
 *   socket write; the PARAMS that depend on the script only are encoded once.
 * - STDOUT is parsed as a CGI response head (`parseCgiHead`: `Status:`, `Location:`, cookies), then
 *   streamed to the client; the connection is paused while the client is slow, so memory stays at
 *   one record per request. A response that ends in the read that brought it goes out whole, with
 *   its Content-Length, in one write. STDERR is logged (the first 4 KiB of each request).
 * - A lone local `Location: /path` (no `Status:`, RFC 3875 §6.2.2) is served inside the Site, as
 *   CGIScript does (`localRedirect`: a GET from the Site's root, at most 10 in a row, then a 502).
 * - Connections are kept alive (FCGI_KEEP_CONN) in a {@link FastCGIPool}; a kept connection the
 *   application closed meanwhile is retried once on a new one when no body was sent.
 *
 * Failures are ProxyErrors: the application down is a 502 at once (`BACKEND_CONNECT_REFUSED`),
 * silence past `timeout` a 504, a malformed record or head a 502 (`BAD_RESPONSE`) with a log line,
 * the connection lost mid-answer a 502 before the head and a cut client connection after it.
 *
 * ```ts
 * root.putChild('app', new FastCGIClientResource({ address: 'tcp:127.0.0.1:9000', scriptFilename: '/srv/app.php' }));
 * ```
 *
 * Pinned by test/fcgi-client/fastcgi-client.test.ts (against `php-cgi -b`).
 */
export class FastCGIClientResource extends Resource {
  override isLeaf = true;
  readonly pool: FastCGIPool;
  readonly scriptFilename: string;
  readonly documentRoot: string;
  readonly params: ReadonlyArray<readonly [string, string]>;
  readonly timeout: number;
  readonly headLimits: CgiHeadLimits;
  readonly logError: (message: string) => void;
  #constant: Buffer | null = null;

  constructor(options: FastCGIClientOptions) {
    super();
    if (options.pool) {
      this.pool = options.pool;
    } else {
      const address = typeof options.address === 'string' ? parseFastCGIAddress(options.address) : options.address;
      if (!address)
        throw new TypeError(
          `FastCGIClientResource needs an address like tcp:127.0.0.1:9000 or unix:/path, not ${JSON.stringify(options.address)}`,
        );
      this.pool = sharedFastCGIPool(address, options.poolOptions);
    }
    this.scriptFilename = options.scriptFilename ?? '';
    this.documentRoot = options.documentRoot ?? '';
    this.params = options.params ?? [];
    this.timeout = options.timeout ?? 60_000;
    this.headLimits = options.headLimits ?? CGI_HEAD_LIMITS;
    this.logError = options.logError ?? defaultLog;
  }

  override render(request: Request): RenderResult {
    const known = request.hasBody ? request.contentLength : 0;
    if (known === null) {
      // CONTENT_LENGTH must be known: a chunked body is read whole first (readBody enforces the limit).
      return request.readBody().then((body) => {
        this.#start(request, this.#params(request, body.length), body, body.length, true);
        return NOT_DONE_YET;
      });
    }
    this.#start(request, this.#params(request, known), null, known, true);
    return NOT_DONE_YET;
  }

  /**
   * The PARAMS for `request`: the CGI meta-variables of the request (`visitMetaVariables`, the one
   * builder CGI scripts share), then the encoded ones of the script ({@link constantParams}), so
   * `params` come last and win. Throws a 400 for a path that cannot be given to an application.
   */
  #params(request: Request, contentLength: number): ParamsWriter {
    const root = this.documentRoot || null;
    const facts = {
      filename: this.scriptFilename,
      documentRoot: root,
      pathTranslated: root !== null && request.postpath.length ? translatePathInfo(root, request.postpath) : null,
      contentLength,
    };
    const writer = new ParamsWriter();
    visitMetaVariables(request, facts, false, (name, value) => writer.add(name, value));
    return writer;
  }

  /** The encoded PARAMS every request of this resource repeats. */
  get constantParams(): Buffer {
    return (this.#constant ??= constantParams(this.scriptFilename, this.documentRoot || null, this.params));
  }

  #start(request: Request, params: ParamsWriter, whole: Buffer | null, length: number, mayRetry: boolean): void {
    this.pool.lend(new Exchange(this, request, params, whole, length, mayRetry));
  }
}

/** One request: the borrower of a connection, then the handler of its reads, close and silence. */
class Exchange implements FastCGIBorrower, FastCGIConnectionHandler {
  readonly #owner: FastCGIClientResource;
  readonly #request: Request;
  #socket!: Socket;
  #connection!: FastCGIConnection;
  readonly timeout: number;
  #reused = false;
  readonly #whole: Buffer | null;
  readonly #length: number;
  /** Whether the request may be sent again on another connection (not yet retried). */
  readonly #mayRetry: boolean;
  readonly #params: ParamsWriter;
  readonly #reader = new RecordReader();
  #head: Buffer[] | null = [];
  #headBytes = 0;
  #received = false;
  #bodySent = false;
  /** Whether STDIN is complete (the empty STDIN record went out). */
  #stdinEnded = false;
  #stderr = '';
  #stderrBytes = 0;
  #done = false;
  /**
   * STDOUT body bytes of the read being handled, held until its records are all seen: a response
   * whose END_REQUEST came in the same read goes out whole, in one write with its Content-Length.
   */
  #pending: Buffer[] | null = null;
  /** Whether the answer was a local redirect: the Site serves it, the rest of STDOUT is dropped. */
  #redirected = false;

  constructor(
    owner: FastCGIClientResource,
    request: Request,
    params: ParamsWriter,
    whole: Buffer | null,
    length: number,
    mayRetry: boolean,
  ) {
    this.#owner = owner;
    this.#request = request;
    this.timeout = owner.timeout;
    this.#whole = whole;
    this.#length = length;
    this.#mayRetry = mayRetry;
    this.#params = params;
  }

  onLent(connection: FastCGIConnection, reused: boolean): void {
    this.#socket = connection.socket;
    this.#connection = connection;
    this.#reused = reused;
    this.#run();
  }

  onLendFailed(err: Error): void {
    failProxied(this.#request, err instanceof HttpError ? err : new ProxyError('BACKEND_CONNECT_FAILED', String(err)));
  }

  #run(): void {
    const request = this.#request;
    const socket = this.#socket;
    if (request.disconnected) {
      this.#owner.pool.release(socket);
      return;
    }
    request.whenDone((done) => {
      if (done.disconnected) this.#clientLeft();
    });
    this.#connection.serve(this);
    // One write: BEGIN_REQUEST, PARAMS and, when the body is known (none, or read whole), STDIN.
    const constant = this.#owner.constantParams;
    if (this.#length === 0 || this.#whole) {
      const body = this.#whole ?? EMPTY;
      this.#bodySent = this.#length !== 0;
      this.#stdinEnded = true;
      socket.write(encodeRequestStart(REQUEST_ID, this.#params, constant, body));
      return;
    }
    // A streamed body: its first records join the head in the socket's next write.
    socket.cork();
    socket.write(encodeRequestStart(REQUEST_ID, this.#params, constant, null));
    this.#streamBody();
    process.nextTick(() => socket.uncork());
  }

  /** The request body to STDIN, paused while the connection's buffer is full. */
  #streamBody(): void {
    const body = this.#request.stream();
    const socket = this.#socket;
    this.#bodySent = true;
    const resume = () => body.resume();
    socket.on('drain', resume);
    body.on('data', (chunk: Buffer) => {
      if (this.#done) return;
      let ok = true;
      this.#connection.touch();
      for (const part of encodeStream(FcgiType.STDIN, REQUEST_ID, chunk)) ok = socket.write(part) && ok;
      if (!ok) body.pause();
    });
    body.once('end', () => {
      socket.off('drain', resume);
      if (this.#done) return;
      socket.write(encodeRecord(FcgiType.STDIN, REQUEST_ID));
      this.#stdinEnded = true;
    });
    body.once('error', () => this.#clientLeft());
  }

  onData(chunk: Buffer): void {
    if (this.#done) return;
    this.#received = true;
    const { records, error } = this.#reader.push(chunk);
    for (const record of records) {
      if (this.#done) return;
      this.#onRecord(record);
    }
    if (error && !this.#done)
      this.#fail(new ProxyError('BAD_RESPONSE', `The FastCGI application sent an invalid record: ${error}.`), true);
    if (this.#pending !== null && !this.#done) this.#flush();
  }

  /** Writes the held STDOUT bytes; while the client's side is full, the connection waits. */
  #flush(): void {
    const pending = this.#pending;
    this.#pending = null;
    if (pending === null) return;
    const request = this.#request;
    let ok = true;
    // Copied: the records are views of the connection's read buffer, and the response may queue them.
    for (const data of pending) ok = request.write(Buffer.from(data)) && ok;
    if (!ok) {
      this.#socket.pause();
      void request.drain().then(() => {
        if (!this.#done) this.#socket.resume();
      });
    }
  }

  #onRecord(record: FcgiRecord): void {
    if (record.requestId !== REQUEST_ID) {
      // Management records (id 0) answer questions this client never asks; anything else is a fault.
      if (record.requestId === 0) return;
      this.#fail(
        new ProxyError(
          'BAD_RESPONSE',
          `The FastCGI application answered request id ${record.requestId}, not ${REQUEST_ID}.`,
        ),
        true,
      );
      return;
    }
    switch (record.type) {
      case FcgiType.STDOUT:
        if (record.content.length) this.#onStdout(record.content);
        return;
      case FcgiType.STDERR:
        this.#onStderr(record.content);
        return;
      case FcgiType.END_REQUEST:
        this.#onEnd(record.content);
        return;
      default:
        this.#fail(
          new ProxyError('BAD_RESPONSE', `The FastCGI application sent an unexpected record of type ${record.type}.`),
          true,
        );
    }
  }

  #onStdout(data: Buffer): void {
    const request = this.#request;
    if (this.#head === null) {
      if (!this.#redirected) (this.#pending ??= []).push(data);
      return;
    }
    this.#head.push(data);
    this.#headBytes += data.length;
    const buf = this.#head.length === 1 ? data : Buffer.concat(this.#head);
    const limits = this.#owner.headLimits;
    const parsed = parseCgiHead(buf.length > limits.maxBytes ? buf.subarray(0, limits.maxBytes) : buf, { limits });
    if (parsed === CGI_HEAD_PARTIAL) {
      // Kept for the next read: a copy when it is still a view of the read buffer.
      this.#head = [buf === data ? Buffer.from(data) : buf];
      return;
    }
    if (isCgiHeadError(parsed)) {
      const code = parsed.tooLarge ? 'RESPONSE_TOO_LARGE' : 'BAD_RESPONSE';
      this.#fail(new ProxyError(code, `The FastCGI application sent an invalid response head: ${parsed.error}.`), true);
      return;
    }
    this.#head = null;
    if (parsed.kind === 'local-redirect') {
      // Served inside the Site (RFC 3875 §6.2.2); this exchange only reads the application out.
      this.#redirected = true;
      localRedirect(request, parsed.location!, (err) => failProxied(request, err));
      return;
    }
    const fields = parsed.fields;
    try {
      request.setResponseCode(parsed.status, parsed.reason || undefined);
      for (let i = 0; i < fields.length; i += 2) request.addHeader(fields[i]!, fields[i + 1]!);
    } catch (err) {
      this.#fail(
        new ProxyError('BAD_RESPONSE', `The FastCGI application sent an unusable header: ${(err as Error).message}.`),
        true,
      );
      return;
    }
    const rest = buf.subarray(parsed.bodyStart);
    if (rest.length) this.#onStdout(rest);
  }

  #onStderr(data: Buffer): void {
    if (this.#stderrBytes < MAX_STDERR_LOGGED)
      this.#stderr += data.toString('utf8', 0, Math.min(data.length, MAX_STDERR_LOGGED - this.#stderrBytes));
    this.#stderrBytes += data.length;
  }

  #onEnd(content: Buffer): void {
    const protocolStatus = content.length >= 5 ? content[4]! : -1;
    this.#flushStderr();
    if (protocolStatus !== FcgiProtocolStatus.REQUEST_COMPLETE) {
      const why =
        protocolStatus === FcgiProtocolStatus.OVERLOADED
          ? 'is overloaded'
          : `refused the request (protocol status ${protocolStatus})`;
      this.#fail(new ProxyError('BAD_RESPONSE', `The FastCGI application ${why}.`), true);
      return;
    }
    if (this.#head !== null) {
      this.#fail(
        new ProxyError('BAD_RESPONSE', 'The FastCGI application ended the request without a response head.'),
        true,
      );
      return;
    }
    this.#done = true;
    const socket = this.#socket;
    // Reused only when the application read all of STDIN and sent nothing more: else the next
    // request would share the connection with the rest of this one.
    if (this.#reader.pending === 0 && this.#stdinEnded) this.#owner.pool.release(socket);
    else this.#owner.pool.discard(socket);
    if (this.#redirected) return;
    const request = this.#request;
    const pending = this.#pending;
    this.#pending = null;
    // Copied (Buffer.from, Buffer.concat): the records are views of the connection's read buffer.
    if (pending !== null && !request.startedWriting && request.method !== 'HEAD') {
      request.writeWhole(pending.length === 1 ? Buffer.from(pending[0]!) : Buffer.concat(pending));
      return;
    }
    if (pending !== null) for (const data of pending) request.write(Buffer.from(data));
    request.finish();
  }

  #flushStderr(): void {
    if (!this.#stderrBytes) return;
    const more = this.#stderrBytes > MAX_STDERR_LOGGED ? ` (${this.#stderrBytes - MAX_STDERR_LOGGED} more bytes)` : '';
    this.#owner.logError(
      `FastCGI stderr for ${this.#request.method} ${this.#request.uri}: ${this.#stderr.trimEnd()}${more}`,
    );
    this.#stderr = '';
    this.#stderrBytes = 0;
  }

  onClose(): void {
    if (this.#done) return;
    // A kept connection the application had closed: nothing came back, nothing was lost, try again
    // (once: a second such close fails the request like any other).
    if (this.#reused && !this.#received && !this.#bodySent && this.#mayRetry) {
      this.#done = true;
      const owner = this.#owner;
      owner.pool.lend(new Exchange(owner, this.#request, this.#params, this.#whole, this.#length, false));
      return;
    }
    this.#fail(
      new ProxyError('BACKEND_RESET', 'The FastCGI application closed the connection before the response was whole.'),
    );
  }

  onTimeout(): void {
    this.#fail(new ProxyError('BACKEND_TIMEOUT', 'The FastCGI application did not answer in time.'));
  }

  #clientLeft(): void {
    if (this.#done) return;
    this.#done = true;
    this.#owner.pool.discard(this.#socket);
  }

  /** Fails the request (error page, or a cut connection once the head went out) and closes the connection. */
  #fail(error: ProxyError, log = false): void {
    if (this.#done) return;
    this.#done = true;
    this.#flushStderr();
    if (this.#redirected) {
      // The Site answers the client; only this connection is lost.
      this.#owner.logError(
        `FastCGI error for ${this.#request.method} ${this.#request.uri} after its local redirect: ${error.message}`,
      );
      this.#owner.pool.discard(this.#socket);
      return;
    }
    if (log && this.#request.startedWriting)
      this.#owner.logError(`FastCGI error for ${this.#request.method} ${this.#request.uri}: ${error.message}`);
    this.#owner.pool.discard(this.#socket);
    failProxied(this.#request, error);
  }
}
