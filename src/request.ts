// The neutral Request: what every channel (HTTP/1.1, HTTP/2, FastCGI, SCGI, AJP, CGI) builds from its
// wire format, and what every resource reads and writes. Nothing here knows which channel it is on.
// Split by concern: `request/reading.ts` (what the request says), `request/urls.ts` (addresses and
// URLs), and here sessions and the response; `request/parts.ts` holds the shapes they share.
import type { Transform } from 'node:stream';
import { encodePath } from './http/path.js';
import { assertHeader } from './http/headers.js';
import { listHas } from './http/syntax.js';
import { assertTrailer } from './http/trailers.js';
import { ResponseHeaders, headerKey } from './http/response-headers.js';
import { bodyless, reasonPhrase } from './http/status.js';
import { evaluatePreconditions, formatETag } from './http/conditional.js';
import { formatSetCookie, type CookieOptions } from './http/cookies.js';
import {
  isSessionId,
  type Session,
  saveIfChanged,
  setSessionCookieWriter,
  storeCall,
  storeError,
} from './session/session.js';
import { installRequestInternals } from './request-internals.js';
import {
  CACHED,
  type ContentEncoder,
  type RequestInit,
  type RequestParts,
  type ResponseSink,
  type SiteContext,
} from './request/parts.js';
import { RequestURLs } from './request/urls.js';

export {
  CACHED,
  DEFAULT_REQUEST_LIMITS,
  NOT_DONE_YET,
  upgradeOf,
  type Address,
  type Cached,
  type NotDoneYet,
  type ContentEncoder,
  type RequestInit,
  type RequestLimits,
  type RequestParts,
  type ResponseSink,
  type SiteContext,
  type UpgradeSocket,
} from './request/parts.js';
export { encodePath, encodePathSegment, isDotSegment, splitPath } from './http/path.js';

/** The Content-Type of a body sent without one (Twisted's default). */
export const DEFAULT_CONTENT_TYPE = 'text/html; charset=utf-8';

/**
 * One HTTP request and its response, the same whatever channel carried it.
 *
 * Traversal moves segments from `postpath` to `prepath`; a render method reads the request and
 * either returns the body (a string, bytes, or a promise of one) or returns `NOT_DONE_YET` and calls
 * `write`/`finish` later.
 */
export class Request extends RequestURLs {
  /** The site serving this request, set by `Site.handle`; null before. */
  site: SiteContext | null = null;

  code = 200;
  codeMessage: string | null = null;
  /** Body bytes handed to the channel (before any content encoding, counted for HEAD too). */
  sentLength = 0;
  startedWriting = false;
  finished = false;
  /** True once the client went away before the response finished. */
  disconnected = false;

  #sink: ResponseSink;
  #headers = new ResponseHeaders();
  #setCookies: string[] | null = null;
  /** Trailer fields to send after the body, flat `[name, value, ...]`; null when none. */
  #trailers: string[] | null = null;
  #etag: string | undefined;
  #lastModified: number | undefined;
  #encoder: ContentEncoder | null = null;
  #encoding: (Transform & { flush(callback?: () => void): void }) | null = null;
  #backedUp = false;
  #drainWaiters: Array<() => void> | null = null;
  #finishPromise: Promise<void> | null = null;
  #settleFinish: ((err?: Error) => void) | null = null;
  #doneCallbacks: Array<(request: Request) => void> | null = null;
  #session: Session | null = null;
  /** Whether the Site wrote the session back (or tried to) before answering. */
  #sessionWriteBack = false;
  #abort: AbortController | null = null;
  #warnedLateWrite = false;
  #completed = false;

  /**
   * Builds a request from what a channel read (`init` with its sink, or `parts` and `sink`). Channels
   * do not call this themselves: they hand their parts to `serveParts` (`src/channels/boundary.ts`).
   */
  constructor(init: RequestInit);
  constructor(parts: RequestParts, sink: ResponseSink);
  constructor(init: RequestParts, sink?: ResponseSink) {
    super(init);
    this.#sink = sink ?? (init as RequestInit).sink;
  }

  static {
    // The members only channels and the Site may use, handed to `request-internals.ts` alone.
    installRequestInternals({
      connectionLost: (request, reason) => request.#connectionLost(reason),
      setTrustedHeader: (request, name, value, key) => request.#headers.set(key, name, value),
      resetResponse: (request) => request.#resetResponse(),
    });
  }

  /**
   * An `AbortSignal` that fires when the client goes away before the response is finished (never
   * after a complete response). Hand it to `fetch()`, timers, database queries or streams so that
   * work for a client who left stops; `notifyFinish()` says the same as a promise.
   *
   * ```ts
   * const upstream = await fetch(url, { signal: request.signal });
   * ```
   */
  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.disconnected) this.#abort.abort(new Error('Connection lost'));
    }
    return this.#abort.signal;
  }

  // ----- sessions -----

  /** The session cookie's name: `TRELLIS_SESSION`, or `TRELLIS_SECURE_SESSION` over TLS, plus the sitepath. */
  sessionCookieName(): string {
    const base = this.isSecure() ? 'TRELLIS_SECURE_SESSION' : 'TRELLIS_SESSION';
    return this.sitepath.length ? `${base}_${this.sitepath.map(encodeURIComponent).join('_')}` : base;
  }

  /**
   * The visitor's session, created (and its cookie set: HttpOnly, SameSite=Lax, Secure over TLS, the
   * path `/` or, for a nested site, its sitepath such as `/~alice.trellis/`) when there is none.
   * Sessions are lazy: nothing is stored for a visitor until this is called. A store that cannot be
   * reached rejects with `SessionStoreUnavailable` (503): the visitor is never handed a new session in
   * place of the one their cookie names. With a shared store, changed data is written back before a
   * returned body goes out; a resource that streams or finishes the response itself calls
   * `await session.save()` first (otherwise the write-back happens after the response, and a failure
   * only reaches the error log).
   */
  async getSession(): Promise<Session> {
    if (this.#session && !this.#session.expired) return this.#session;
    const store = this.site?.sessionStore;
    if (!store) throw new Error('getSession() needs a Site with a session store');
    const name = this.sessionCookieName();
    const id = this.getCookie(name);
    let session: Session | undefined;
    if (id && isSessionId(id)) {
      try {
        session = await store.load(id);
      } catch (err) {
        throw storeError(err);
      }
    }
    if (!session) {
      session = await storeCall(() => store.create());
      this.#setSessionCookie(session.uid);
    }
    setSessionCookieWriter(session, this, Request.#reissueSessionCookie);
    if (!store.live && !this.#session) {
      this.whenDone(() => {
        const late = this.#session;
        if (this.#sessionWriteBack || !late?.changed) return;
        late
          .save()
          .catch((err: unknown) =>
            this.site?.logError(`Session not saved after ${this.method} ${this.uri}: ${(err as Error).message}`),
          );
      });
    }
    this.#session = session;
    return session;
  }

  /** The write-back of this request's changed session, or null when there is nothing to write. */
  saveSession(): Promise<void> | null {
    const session = this.#session;
    const saving = session ? saveIfChanged(session) : null;
    if (saving) this.#sessionWriteBack = true;
    return saving;
  }

  /** What a session calls to reissue its cookie on the request that last asked for it (`regenerate()`). */
  static #reissueSessionCookie(request: Request, uid: string): void {
    request.#setSessionCookie(uid);
  }

  /** Sets the session cookie (replacing one set earlier in this response, after `regenerate()`). */
  #setSessionCookie(uid: string): void {
    const name = this.sessionCookieName();
    const prefix = `${name}=`;
    if (this.#setCookies) this.#setCookies = this.#setCookies.filter((c) => !c.startsWith(prefix));
    // A nested site (a gateway mount, a personal server behind its relay) keeps its cookie to its own path.
    const path = this.sitepath.length ? `${encodePath(this.sitepath)}/` : '/';
    this.addCookie(name, uid, { path, httpOnly: true, sameSite: 'lax', secure: this.isSecure() });
  }

  // ----- response side -----

  /** Sets the status code (and optionally the reason phrase). */
  setResponseCode(code: number, message?: string): void {
    if (!Number.isInteger(code) || code < 100 || code > 999) throw new RangeError(`Invalid status code ${code}`);
    this.code = code;
    this.codeMessage = message ?? null;
  }

  /**
   * Sets a response header, replacing earlier values. CR, LF and NUL, and a Content-Length or
   * Transfer-Encoding that would frame the body wrongly (`assertHeader`), are refused with a TypeError.
   */
  setHeader(name: string, value: string | number | readonly string[]): void {
    if (Array.isArray(value)) {
      const values = value.map(String);
      for (const v of values) assertHeader(name, v);
      const key = headerKey(name);
      if (values.length > 1 && key === 'content-length') throw new TypeError('A response has one Content-Length');
      this.#headers.setAll(key, name, values);
      return;
    }
    const v = String(value);
    assertHeader(name, v);
    this.#headers.set(headerKey(name), name, v);
  }

  /** Adds a response header value, keeping earlier ones; a second Content-Length is a TypeError. */
  addHeader(name: string, value: string): void {
    assertHeader(name, value);
    const key = headerKey(name);
    if (key === 'content-length' && this.#headers.has(key)) throw new TypeError('A response has one Content-Length');
    this.#headers.add(key, name, value);
  }

  /** A response header's values joined with `, `, or undefined. */
  getResponseHeader(name: string): string | undefined {
    return this.#headers.get(headerKey(name));
  }

  hasResponseHeader(name: string): boolean {
    return this.#headers.has(headerKey(name));
  }

  removeResponseHeader(name: string): void {
    this.#headers.delete(headerKey(name));
  }

  /** Every response header as set so far (names as given). */
  responseHeaderPairs(): Array<[string, string]> {
    return this.#headers.pairs();
  }

  /**
   * Sets a trailer field, sent after the body (RFC 9110 §6.5), replacing an earlier value of the
   * same name. Called before the head goes out it also names the field in the `Trailer` header,
   * which a channel needs to know in time (HTTP/2 keeps the stream open for them; HTTP/1.1 then
   * sends the body chunked even with a Content-Length). Called later it still works on HTTP/1.1
   * when the body is chunked, and on HTTP/2 when the `Trailer` header was set or the client sent
   * `TE: trailers`. Gateways (FastCGI, SCGI, AJP, CGI) cannot carry trailers and drop them.
   * A field that may not be a trailer (framing, routing, authentication, `Content-*` but
   * `Content-Digest`, ...: src/http/trailers.ts), a bad name or a control character is a TypeError.
   *
   * ```ts
   * request.setTrailer('grpc-status', '0');   // before or while writing the body
   * request.finish();
   * ```
   */
  setTrailer(name: string, value: string | number): void {
    const v = String(value);
    assertTrailer(name, v);
    if (this.finished)
      throw new Error(`setTrailer("${name}") after finish(): trailers go out with the end of the body`);
    const list = (this.#trailers ??= []);
    const key = name.toLowerCase();
    for (let i = list.length - 2; i >= 0; i -= 2) if (list[i]!.toLowerCase() === key) list.splice(i, 2);
    list.push(name, v);
    if (this.startedWriting) return;
    const declared = this.#headers.get('trailer');
    if (declared === undefined) this.#headers.set('trailer', 'Trailer', name);
    else if (!listHas(declared, name)) this.#headers.set('trailer', 'Trailer', `${declared}, ${name}`);
  }

  /** The trailer fields set so far, `[name, value]` in order. */
  responseTrailerPairs(): Array<[string, string]> {
    const list = this.#trailers ?? [];
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i + 1 < list.length; i += 2) pairs.push([list[i]!, list[i + 1]!]);
    return pairs;
  }

  /** Whether the client said it takes trailers (`TE: trailers`, RFC 9110 §10.1.4). */
  get acceptsTrailers(): boolean {
    const te = this.requestHeaders.get('te');
    return te !== undefined && listHas(te, 'trailers');
  }

  /** Hands the trailers to the channel, just before the body ends. */
  #passTrailers(): void {
    if (this.#trailers !== null && this.#sink.setTrailers) this.#sink.setTrailers(this.#trailers);
  }

  /** Forgets every response header and cookie (the Site does this before an error page). */
  #resetResponse(): void {
    this.#headers.clear();
    this.#setCookies = null;
    this.#trailers = null;
    this.#encoder = null;
    this.code = 200;
    this.codeMessage = null;
  }

  /** Adds a Set-Cookie header. CR, LF and other controls are refused with a TypeError. */
  addCookie(name: string, value: string, options: CookieOptions = {}): void {
    (this.#setCookies ??= []).push(formatSetCookie(name, value, options));
  }

  /**
   * Sets `Content-Type: application/json; charset=utf-8` (and the status, when given) and returns
   * `value` as JSON text, for a handler to return. `<`, `>`, `&` and U+2028/U+2029 are escaped, so
   * the text is also safe inside an HTML `<script>`. A value JSON cannot represent (`undefined`, a
   * function, a symbol) is a TypeError, as is a BigInt or a cycle.
   *
   * ```ts
   * override GET(request: Request) { return request.json({ ok: true }); }
   * ```
   */
  json(value: unknown, options: { status?: number } = {}): string {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) throw new TypeError(`request.json() cannot represent ${typeof value}`);
    if (options.status !== undefined) this.setResponseCode(options.status);
    this.setHeader('Content-Type', 'application/json; charset=utf-8');
    return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }

  /** Answers 302 (or `code`) with `Location: url`. Finish or return a body afterwards. */
  redirect(url: string, code = 302): void {
    this.setResponseCode(code);
    this.setHeader('Location', url);
  }

  /**
   * Sets Last-Modified (rounded up to a whole second; only later values replace earlier ones) and
   * evaluates the conditional headers. Returns `CACHED` when the answer is now 304 or 412: the
   * resource should then return an empty body.
   */
  setLastModified(when: Date | number): typeof CACHED | null {
    const ms = Math.ceil((typeof when === 'number' ? when : when.getTime()) / 1000) * 1000;
    if (this.#lastModified === undefined || ms > this.#lastModified) this.#lastModified = ms;
    this.setHeader('Last-Modified', new Date(this.#lastModified).toUTCString());
    return this.#checkConditions();
  }

  /**
   * Sets the ETag (bare tags are quoted; prefix `W/` for a weak one) and evaluates the conditional
   * headers. Returns `CACHED` when the answer is now 304 or 412.
   */
  setETag(tag: string): typeof CACHED | null {
    this.#etag = formatETag(tag);
    this.setHeader('ETag', this.#etag);
    return this.#checkConditions();
  }

  #checkConditions(): typeof CACHED | null {
    const h = this.requestHeaders;
    const status = evaluatePreconditions(
      {
        method: this.method,
        ifMatch: h.get('if-match'),
        ifNoneMatch: h.get('if-none-match'),
        ifModifiedSince: h.get('if-modified-since'),
        ifUnmodifiedSince: h.get('if-unmodified-since'),
      },
      { etag: this.#etag, lastModified: this.#lastModified },
    );
    if (status === 200) return null;
    this.setResponseCode(status);
    return CACHED;
  }

  /** Installs a content encoder (gzip, brotli) for this response; see `EncodingResourceWrapper`. */
  setEncoder(encoder: ContentEncoder | null): void {
    if (this.startedWriting) throw new Error('setEncoder() after the response started');
    this.#encoder = encoder;
  }

  #noBody(): boolean {
    return this.method === 'HEAD' || bodyless(this.code);
  }

  #sendHeaders(wholeLength: number | null): void {
    this.startedWriting = true;
    const headers = this.#headers;
    if (bodyless(this.code)) {
      headers.delete('content-length');
      headers.delete('transfer-encoding');
      if (this.code === 304) headers.delete('content-type');
    } else if (!headers.has('content-type') && !(wholeLength === 0 && this.code < 300)) {
      headers.set('content-type', 'Content-Type', DEFAULT_CONTENT_TYPE);
    }
    const sink = this.#sink;
    if (sink.writeKeyedHead) {
      sink.writeKeyedHead(this.code, headers.lineKeys, headers.lines, this.#setCookies);
      return;
    }
    const reason = this.codeMessage ?? reasonPhrase(this.code);
    const flat = headers.flat();
    if (this.#setCookies) for (const cookie of this.#setCookies) flat.push('Set-Cookie', cookie);
    sink.writeHead(this.code, reason, flat);
  }

  /**
   * Sends a complete body in one go, with its Content-Length (the Site does this for bodies that
   * render methods return). HEAD and bodyless statuses send the headers only.
   */
  writeWhole(data: string | Uint8Array): void {
    if (this.finished || this.disconnected) return;
    if (this.startedWriting) {
      this.write(data);
      this.finish();
      return;
    }
    if (typeof data === 'string' && !this.#encoder) {
      this.#writeWholeText(data);
      return;
    }
    let body =
      typeof data === 'string'
        ? Buffer.from(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.sentLength = body.length;
    let lengthKnown = true;
    if (this.#encoder && !bodyless(this.code) && body.length > 0 && this.#encoder.accept(this, body.length)) {
      // HEAD answers with the same headers as GET would, but the encoded size is not worth computing.
      if (this.method === 'HEAD') lengthKnown = false;
      else body = this.#encoder.encodeAll(body);
    }
    if (!bodyless(this.code)) {
      if (lengthKnown) this.#headers.set('content-length', 'Content-Length', String(body.length));
      else this.#headers.delete('content-length');
    }
    this.#sendHeaders(body.length);
    this.#markFinished();
    this.#passTrailers();
    if (this.#noBody()) this.#sink.end();
    else this.#sink.end(body);
    this.#done();
  }

  #writeWholeText(text: string): void {
    const length = Buffer.byteLength(text);
    this.sentLength = length;
    if (!bodyless(this.code)) this.#headers.set('content-length', 'Content-Length', String(length));
    this.#sendHeaders(length);
    this.#markFinished();
    this.#passTrailers();
    if (this.#noBody() || length === 0) this.#sink.end();
    else this.#sink.endText(text);
    this.#done();
  }

  /**
   * Writes part of the body, sending the headers first if they are not out yet. Returns false when
   * the channel's buffer is full: wait for `drain()` before writing more.
   */
  write(data: string | Uint8Array): boolean {
    if (this.finished || this.disconnected) {
      if (!this.#warnedLateWrite && !this.disconnected) {
        this.#warnedLateWrite = true;
        process.emitWarning(`Request.write() after finish() for ${this.method} ${this.uri}`);
      }
      return false;
    }
    const chunk =
      typeof data === 'string'
        ? Buffer.from(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (!this.startedWriting) {
      if (this.#encoder && !this.#noBody()) {
        const declared = this.#headers.get('content-length');
        if (this.#encoder.accept(this, declared === undefined ? null : Number(declared))) {
          this.#startEncoding();
        }
      }
      this.#sendHeaders(null);
    }
    this.sentLength += chunk.length;
    if (this.#noBody() || chunk.length === 0) return !this.#backedUp;
    if (this.#encoding) {
      const ok = this.#encoding.write(chunk);
      this.#encoding.flush();
      return ok && !this.#backedUp;
    }
    return this.#sinkWrite(chunk);
  }

  #sinkWrite(chunk: Buffer): boolean {
    const ok = this.#sink.write(chunk);
    if (!ok && !this.#backedUp) {
      this.#backedUp = true;
      this.#sink.onDrain(() => {
        this.#backedUp = false;
        this.#encoding?.resume();
        this.#releaseDrainWaiters();
      });
    }
    return ok;
  }

  #startEncoding(): void {
    const stream = this.#encoder!.createStream();
    this.#encoding = stream;
    this.#headers.delete('content-length');
    stream.on('data', (chunk: Buffer) => {
      if (this.disconnected) return;
      if (!this.#sinkWrite(chunk)) stream.pause();
    });
    stream.on('error', () => this.#sink.abort());
  }

  /** True while a content encoder transforms the body (it may still hold written chunks after `drain()`). */
  get encodingBody(): boolean {
    return this.#encoding !== null;
  }

  /**
   * True when the channel is known to hold none of the chunks written so far (all went to the OS),
   * so a writer may fill those buffers again; false when it holds some or cannot tell.
   */
  get writesReleased(): boolean {
    return this.#encoding === null && this.#sink.queuedBytes() === 0;
  }

  /** Resolves when the channel can take more data (at once when it is not backed up, or once the client left). */
  drain(): Promise<void> {
    if ((!this.#backedUp && !this.#encoding?.writableNeedDrain) || this.disconnected || this.finished)
      return Promise.resolve();
    return new Promise((resolve) => {
      if (this.#encoding?.writableNeedDrain && !this.#backedUp) this.#encoding.once('drain', () => resolve());
      else (this.#drainWaiters ??= []).push(resolve);
    });
  }

  /** Ends the response. Safe to call after the client left; a second call does nothing. */
  finish(): void {
    if (this.finished || this.disconnected) return;
    if (!this.startedWriting) {
      if (!this.#headers.has('content-length') && !bodyless(this.code) && this.method !== 'HEAD') {
        this.#headers.set('content-length', 'Content-Length', '0');
      }
      this.#sendHeaders(0);
    }
    this.#markFinished();
    const encoding = this.#encoding;
    if (encoding) {
      encoding.once('end', () => {
        if (!this.disconnected) {
          this.#passTrailers();
          this.#sink.end();
        }
        this.#done();
      });
      encoding.end();
      return;
    }
    this.#passTrailers();
    this.#sink.end();
    this.#done();
  }

  #markFinished(): void {
    this.finished = true;
    this.#releaseDrainWaiters();
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    if (!waiters) return;
    this.#drainWaiters = null;
    for (const w of waiters) w();
  }

  /**
   * Resolves when the response has been handed to the channel; rejects when the client goes away
   * first. Always attach a rejection handler.
   */
  notifyFinish(): Promise<void> {
    if (!this.#finishPromise) {
      if (this.#completed) return Promise.resolve();
      if (this.disconnected) {
        const p = Promise.reject(new Error('Connection lost'));
        p.catch(() => {});
        return p;
      }
      this.#finishPromise = new Promise<void>((resolve, reject) => {
        this.#settleFinish = (err) => (err ? reject(err) : resolve());
      });
      this.#finishPromise.catch(() => {});
    }
    return this.#finishPromise;
  }

  /** Runs `callback` once when the response is done or the client left (the Site logs here). */
  whenDone(callback: (request: Request) => void): void {
    (this.#doneCallbacks ??= []).push(callback);
  }

  #done(): void {
    this.#completed = true;
    this.#settleFinish?.();
    this.#settleFinish = null;
    this.#runDoneCallbacks();
  }

  #runDoneCallbacks(): void {
    const callbacks = this.#doneCallbacks;
    if (!callbacks) return;
    this.#doneCallbacks = null;
    for (const cb of callbacks) cb(this);
  }

  /**
   * The client went away before the response was finished: `notifyFinish()` rejects with `reason` and
   * the done callbacks run. Channels reach it through `connectionLost` of `src/channels/boundary.ts`.
   */
  #connectionLost(reason: Error): void {
    if (this.disconnected || this.#completed) return;
    this.disconnected = true;
    this.#completed = true;
    this.#encoding?.destroy();
    this.#releaseDrainWaiters();
    this.#abort?.abort(reason);
    this.#settleFinish?.(reason);
    this.#settleFinish = null;
    this.#runDoneCallbacks();
  }

  /**
   * Answers with the site's error page for `error`: an `HttpError` gives its status, anything else a
   * logged 500; once the response has started, the connection is dropped instead (Twisted's
   * `processingFailed`). Outside a site, the connection is dropped.
   *
   * ```ts
   * fetchSomething().then((body) => request.writeWhole(body), (err) => request.processingFailed(err));
   * ```
   */
  processingFailed(error: unknown): void {
    if (this.finished || this.disconnected) return;
    if (this.site) this.site.processingFailed(this, error);
    else this.abortConnection();
  }

  /** Drops the connection now (a response that failed after its headers went out). */
  abortConnection(): void {
    this.#sink.abort();
  }

  /** Asks the channel to close the connection once this response is sent. */
  closeConnection(): void {
    this.#sink.closeAfterResponse();
  }
}
