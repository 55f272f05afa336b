// The neutral Request: what every channel (HTTP/1.1, HTTP/2, FastCGI, SCGI, AJP, CGI) builds from its
// wire format, and what every resource reads and writes. Nothing here knows which channel it is on.
import { Readable } from 'node:stream';
import type { Duplex, Transform } from 'node:stream';
import { HttpError } from './errors.js';
import { RequestHeaders, assertHeader } from './http/headers.js';
import { ResponseHeaders, headerKey } from './http/response-headers.js';
import { bodyless, reasonPhrase } from './http/status.js';
import { evaluatePreconditions, formatETag } from './http/conditional.js';
import { parseCookies, formatSetCookie, type CookieOptions } from './http/cookies.js';
import { parseQuery, parseMultipart, type Args, type UploadedFile } from './http/form.js';
import { URLPath } from './url-path.js';
import type { Session, SessionStore } from './session/session.js';
import { installRequestInternals } from './request-internals.js';

/** Returned by a render method that will call `write`/`finish` itself later. */
export const NOT_DONE_YET: unique symbol = Symbol.for('trellis.NOT_DONE_YET');
/** Returned by `setLastModified`/`setETag` when the response is already decided (304 or 412). */
export const CACHED: unique symbol = Symbol.for('trellis.CACHED');

/**
 * What the site serving a request gives it (Twisted's `request.site`), installed by `Site.handle`:
 * its root resource, its session store and its error path. The request layer knows this shape only,
 * never the Site itself.
 */
export interface SiteContext {
  /** The site's root resource (`VHostMonsterResource` starts traversal there again). */
  readonly resource: object;
  readonly sessionStore: SessionStore;
  /** Answers `request` with the error page for `error`, or drops the connection if it already answered. */
  processingFailed(request: Request, error: unknown): void;
}

/** A network address: TCP (IPv4 or IPv6) or a UNIX socket. */
export type Address =
  | { type: 'INET' | 'INET6'; host: string; port: number }
  | { type: 'UNIX'; path: string | null };

/**
 * What a channel provides to send the response. `write` returns false when the channel's buffer is
 * full; the channel then calls the `onDrain` listener once it has room again.
 */
export interface ResponseSink {
  writeHead(code: number, reason: string, headers: Array<[string, string]>): void;
  /** Optional fast path: the same headers as one flat `[name, value, name, value, ...]` list. */
  writeHeadFlat?(code: number, reason: string, flat: string[]): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): void;
  /** Optional fast path: ends with a UTF-8 text body (lets the channel send headers and body in one write). */
  endText?(text: string): void;
  onDrain(listener: () => void): void;
  /** Drops the connection (used when a response fails after its headers were sent). */
  abort(): void;
  /** Asks the channel to close the connection after this response. */
  closeAfterResponse?(): void;
  /**
   * Optional: bytes written to this sink that the channel still holds (not yet handed to the OS).
   * Zero means every chunk written so far was let go of, so its memory may be reused.
   */
  queuedBytes?(): number;
}

/** Body size and form limits applied to one request. */
export interface RequestLimits {
  /** Largest body `readBody`/`parseForm` accept; past it a 413. Default 10 MiB. */
  maxBodySize: number;
  /** Most form fields. Default 1000. */
  maxFields: number;
  /** Most uploaded files in one multipart body. Default 100. */
  maxFiles: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxBodySize: 10 * 1024 * 1024,
  maxFields: 1000,
  maxFiles: 100,
};

/** What a channel knows about one request: everything a Request is built from but its sink. */
export interface RequestParts {
  method: string;
  /** The request-target exactly as received (still percent-encoded). */
  uri: string;
  /** `HTTP/1.1`, `HTTP/1.0`, `HTTP/2`. */
  clientproto: string;
  headers: RequestHeaders;
  /** The body as a stream; null when there is none. */
  body?: Readable | null;
  client: Address | null;
  local: Address | null;
  secure: boolean;
  /** Short channel name for logs: `http/1.1`, `h2`, `fastcgi`, ... */
  channel?: string;
  /** Declared body length when the channel knows it. */
  contentLength?: number | null;
  /**
   * The decoded segments still to traverse, when the channel has split the path itself (gateways
   * that split it on their mount point); it then need not be split again. Default: every segment of
   * `uri`'s path.
   */
  postpath?: string[];
  /**
   * The decoded segments of the mount point, already traversed (gateways mounted below the root).
   * Default none.
   */
  prepath?: string[];
  /** The raw connection of an Upgrade or CONNECT request (HTTP/1.1 only). Default none. */
  upgrade?: UpgradeSocket | null;
}

/** What a Request is built from: its parts and the channel's sink for the response. */
export interface RequestInit extends RequestParts {
  sink: ResponseSink;
}

/** The raw connection behind an Upgrade or CONNECT request. */
export interface UpgradeSocket {
  socket: Duplex;
  /** Bytes the client sent after the request head (the first bytes of the new protocol). */
  head: Buffer;
  /** Marks the socket as taken: the Request's response will not be written to it. */
  take(): void;
}

/** The raw connection of an Upgrade or CONNECT request (`request.upgrade`), or undefined for an ordinary one. */
export function upgradeOf(request: Request): UpgradeSocket | undefined {
  return request.upgrade ?? undefined;
}

/**
 * Encodes a response body on its way out (gzip, brotli). Installed by `EncodingResourceWrapper`
 * through `request.setEncoder()`.
 */
export interface ContentEncoder {
  /** Decides when headers are about to go out; may change headers. `length` is the whole body's size when known. */
  accept(request: Request, length: number | null): boolean;
  /** Encodes a complete body at once. */
  encodeAll(body: Buffer): Buffer;
  /** A stream for a body written in pieces; it is flushed after every write so streaming stays live. */
  createStream(): Transform & { flush(callback?: () => void): void };
}

const DEFAULT_CONTENT_TYPE = 'text/html; charset=utf-8';
const HOST_PORT = /^\[?(.*?)\]?(?::(\d+))?$/;

/** Percent-encodes a path segment, leaving the characters RFC 3986 §3.3 allows in a segment. */
export function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(3A|40|24|26|2B|2C|3B|3D)/g, (m) => decodeURIComponent(m));
}

/**
 * Splits a raw path into decoded segments: each is percent-decoded once, `%2F` stays inside its
 * segment. Returns null for invalid percent-escapes or invalid UTF-8 (the Site answers 400).
 *
 * | path             | segments         |
 * |------------------|------------------|
 * | `a/b`            | `['a', 'b']`     |
 * | `a/`             | `['a', '']`      |
 * | `''`             | `['']`           |
 * | `a%2Fb/%C3%BC`   | `['a/b', 'ü']`   |
 * | `%zz`, `%C3`     | null             |
 */
export function splitPath(path: string): string[] | null {
  return splitSegments(path, 0);
}

/**
 * Whether a decoded path segment is a dot-segment, `.` or `..` (RFC 3986 §3.3), in whatever spelling
 * it arrived: `%2e%2e` and `.%2E` decode to `..`. The Site refuses a request holding one (SECURITY.md
 * §1.1); see {@link Site.handle}.
 */
export function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/** `splitPath(path.slice(start))` without the copy. A loop of `indexOf` is several times faster than `split('/')` here. */
function splitSegments(path: string, start: number): string[] | null {
  const decode = path.indexOf('%', start) !== -1;
  const out: string[] = [];
  for (;;) {
    const slash = path.indexOf('/', start);
    const seg = slash === -1 ? path.slice(start) : path.slice(start, slash);
    if (decode && seg.indexOf('%') !== -1) {
      try {
        out.push(decodeURIComponent(seg));
      } catch {
        return null;
      }
    } else {
      out.push(seg);
    }
    if (slash === -1) return out;
    start = slash + 1;
  }
}

/**
 * One HTTP request and its response, the same whatever channel carried it.
 *
 * Traversal moves segments from `postpath` to `prepath`; a render method reads the request and
 * either returns the body (a string, bytes, or a promise of one) or returns `NOT_DONE_YET` and calls
 * `write`/`finish` later.
 */
export class Request {
  readonly method: string;
  /** The request-target as received, still percent-encoded. */
  readonly uri: string;
  readonly clientproto: string;
  /** The raw (encoded) path part of `uri`. */
  readonly path: string;
  /** The raw query string, without `?`; empty when absent. */
  readonly queryString: string;
  readonly requestHeaders: RequestHeaders;
  readonly channel: string;
  /** Segments already traversed, decoded. */
  prepath: string[] = [];
  /** Segments still to traverse, decoded; a trailing slash gives a final `''`. */
  postpath: string[];
  /** `prepath` when the Site started traversal (non-empty when a Site is nested). */
  sitepath: string[] = [];
  /** The site serving this request, set by `Site.handle`; null before. */
  site: SiteContext | null = null;
  /** Files from a multipart body, after `parseForm()`. */
  files: UploadedFile[] = [];
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS;

  code = 200;
  codeMessage: string | null = null;
  /** Body bytes handed to the channel (before any content encoding, counted for HEAD too). */
  sentLength = 0;
  startedWriting = false;
  finished = false;
  /** True once the client went away before the response finished. */
  disconnected = false;
  /** Set by the Site when the path could not be decoded. */
  readonly badPath: boolean;
  /**
   * The raw connection of an Upgrade or CONNECT request, for a resource to take (a WebSocket
   * pass-through, a CONNECT tunnel); null for an ordinary request and on channels that have none.
   */
  readonly upgrade: UpgradeSocket | null;

  #sink: ResponseSink;
  #body: Readable | null;
  #contentLength: number | null;
  #bodyUsed = false;
  #bodyBuffer: Promise<Buffer> | null = null;
  #client: Address | null;
  #local: Address | null;
  #secure: boolean;
  #forceSecure = false;
  #host: { host: string; port: number } | null = null;
  #args: Args | null = null;
  #cookies: Record<string, string> | null = null;
  #headers = new ResponseHeaders();
  #setCookies: string[] | null = null;
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
  #rootURL: string | null = null;
  #warnedLateWrite = false;
  #completed = false;

  /**
   * Builds a request from what a channel read (`init` with its sink, or `parts` and `sink`). Channels
   * do not call this themselves: they hand their parts to `serveParts` (`src/channels/boundary.ts`).
   */
  constructor(init: RequestInit);
  constructor(parts: RequestParts, sink: ResponseSink);
  constructor(init: RequestParts, sink?: ResponseSink) {
    this.method = init.method;
    this.uri = init.uri;
    this.clientproto = init.clientproto;
    this.requestHeaders = init.headers;
    this.channel = init.channel ?? 'http';
    this.#sink = sink ?? (init as RequestInit).sink;
    this.#body = init.body ?? null;
    this.#contentLength = init.contentLength ?? null;
    this.#client = init.client;
    this.#local = init.local;
    this.#secure = init.secure;
    this.upgrade = init.upgrade ?? null;

    let target = init.uri;
    // Absolute-form (RFC 9112 §3.2.2) is served as local: the Host comes from the URI (SECURITY.md §6.1).
    if (target.charCodeAt(0) !== 47 /* '/' */ && /^https?:\/\//i.test(target)) {
      try {
        const url = new URL(target);
        this.requestHeaders.set('Host', url.host);
        target = url.pathname + url.search;
      } catch {
        target = '/';
      }
    }
    const q = target.indexOf('?');
    this.path = q === -1 ? target : target.slice(0, q);
    this.queryString = q === -1 ? '' : target.slice(q + 1);
    const segments = init.postpath ?? (this.path.charCodeAt(0) === 47 /* '/' */ ? splitSegments(this.path, 1) : null);
    // CONNECT's authority-form target (`host:port`) has no path: it reaches the root with an empty postpath.
    this.badPath = segments === null && this.path !== '*' && this.method !== 'CONNECT';
    this.postpath = segments ?? [];
    if (init.prepath) this.prepath = init.prepath;
  }

  static {
    // The members only channels and the Site may use, handed to `request-internals.ts` alone.
    installRequestInternals({
      connectionLost: (request, reason) => request.#connectionLost(reason),
      setTrustedHeader: (request, name, value, key) => request.#headers.set(key, name, value),
      resetResponse: (request) => request.#resetResponse(),
    });
  }

  // ----- request side -----

  /** Query arguments (and form arguments after `parseForm()`): name → values. */
  get args(): Args {
    this.#args ??= parseQuery(this.queryString, new Map(), this.limits.maxFields);
    return this.#args;
  }

  /** The first value of argument `name`, or undefined. */
  arg(name: string): string | undefined {
    return this.args.get(name)?.[0];
  }

  /** A request header, duplicates joined with `, `. */
  getHeader(name: string): string | undefined {
    return this.requestHeaders.get(name);
  }

  /** Cookies sent by the client. */
  get cookies(): Record<string, string> {
    this.#cookies ??= parseCookies(this.requestHeaders.get('cookie'));
    return this.#cookies;
  }

  getCookie(name: string): string | undefined {
    return Object.hasOwn(this.cookies, name) ? this.cookies[name] : undefined;
  }

  /** The body as a stream (read it once: either this or `readBody`). */
  stream(): Readable {
    if (this.#bodyUsed) throw new Error('The request body was already read');
    this.#bodyUsed = true;
    return this.#body ?? Readable.from([]);
  }

  /** Declared body length, when known. */
  get contentLength(): number | null {
    return this.#contentLength;
  }

  /**
   * Whether the request carries a body, of declared length or not: a Content-Length over 0, a chunked
   * HTTP/1.1 body, or an HTTP/2 stream not ended with its headers (which has no Transfer-Encoding).
   */
  get hasBody(): boolean {
    return this.#contentLength !== null ? this.#contentLength > 0 : this.#body !== null;
  }

  /**
   * The whole body, buffered. Past `limit` (default `limits.maxBodySize`, 10 MiB) it rejects with a
   * 413 HttpError and the connection closes after the answer.
   */
  readBody(options: { limit?: number } = {}): Promise<Buffer> {
    if (this.#bodyBuffer) return this.#bodyBuffer;
    const limit = options.limit ?? this.limits.maxBodySize;
    const tooLarge = () =>
      new HttpError(413, `The request body is larger than ${limit} bytes.`, { code: 'BODY_TOO_LARGE', close: true });
    if (this.#contentLength !== null && this.#contentLength > limit) {
      this.#bodyBuffer = Promise.reject(tooLarge());
      this.#bodyBuffer.catch(() => {});
      return this.#bodyBuffer;
    }
    const body = this.stream();
    this.#bodyBuffer = new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          body.off('data', onData);
          body.resume();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      };
      body.on('data', onData);
      body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
      body.once('error', (err) => reject(err instanceof HttpError ? err : new HttpError(400, 'The request body could not be read.', { cause: err, close: true })));
      body.once('close', () => {
        if (!body.readableEnded) reject(new HttpError(400, 'The request body was cut short.', { code: 'BODY_INCOMPLETE', close: true }));
      });
    });
    this.#bodyBuffer.catch(() => {});
    return this.#bodyBuffer;
  }

  /**
   * Reads a urlencoded or multipart body into `args` (and `files`), within `limits`. Other content
   * types are left alone. Returns `args`.
   */
  async parseForm(): Promise<Args> {
    const type = (this.requestHeaders.get('content-type') ?? '').toLowerCase();
    const args = this.args;
    if (type.startsWith('application/x-www-form-urlencoded')) {
      const body = await this.readBody();
      parseQuery(body.toString('utf8'), args, this.limits.maxFields);
    } else if (type.startsWith('multipart/form-data')) {
      if (this.#contentLength !== null && this.#contentLength > this.limits.maxBodySize) {
        throw new HttpError(413, `The request body is larger than ${this.limits.maxBodySize} bytes.`, { code: 'BODY_TOO_LARGE', close: true });
      }
      const files = await parseMultipart(this.requestHeaders.get('content-type')!, this.stream(), args, {
        maxBytes: this.limits.maxBodySize,
        maxFields: this.limits.maxFields,
        maxFiles: this.limits.maxFiles,
      });
      this.files.push(...files);
    }
    return args;
  }

  /** HTTP Basic user name, or '' when absent or malformed. */
  getUser(): string {
    return this.#basicAuth()[0];
  }

  /** HTTP Basic password, or '' when absent or malformed. */
  getPassword(): string {
    return this.#basicAuth()[1];
  }

  #basicAuth(): [string, string] {
    const header = this.requestHeaders.get('authorization');
    if (!header || !/^basic /i.test(header)) return ['', ''];
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? ['', ''] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
  }

  // ----- addresses and URLs -----

  /** The client's address (as the channel or a trusted gateway reports it). */
  getClientAddress(): Address | null {
    return this.#client;
  }

  /** The client's IP as text, or null (UNIX sockets). */
  getClientIP(): string | null {
    const c = this.#client;
    return c && c.type !== 'UNIX' ? c.host : null;
  }

  /** Replaces the client address (used by trusted-proxy handling and gateways). */
  setClientAddress(address: Address | null): void {
    this.#client = address;
  }

  /** Whether the request came over TLS (or a trusted front end said so through `setHost`). */
  isSecure(): boolean {
    return this.#forceSecure || this.#secure;
  }

  /** The host and port this request was addressed to: the local address, or what `setHost` set. */
  getHost(): { host: string; port: number } {
    if (this.#host) return this.#host;
    const l = this.#local;
    if (l && l.type !== 'UNIX') return { host: l.host, port: l.port };
    return { host: this.getRequestHostname(), port: this.#defaultPort() };
  }

  /**
   * Says this request really reached `host:port` (over TLS when `secure`): rewrites the Host header
   * (with the port unless it is the scheme's default) so every generated URL uses it. Virtual-host
   * rewriting and trusted proxies call this.
   */
  setHost(host: string, port: number, secure = false): void {
    this.#forceSecure = secure;
    this.#secure = secure;
    this.#host = { host, port };
    const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    this.requestHeaders.set('Host', port === (secure ? 443 : 80) ? bracketed : `${bracketed}:${port}`);
  }

  #defaultPort(): number {
    return this.isSecure() ? 443 : 80;
  }

  /** The host name the client asked for (Host header without port or brackets), else the local address. */
  getRequestHostname(): string {
    const header = this.requestHeaders.get('host');
    if (header) return HOST_PORT.exec(header)![1]!;
    const l = this.#local;
    return l && l.type !== 'UNIX' ? l.host : 'localhost';
  }

  #urlPort(): number {
    const header = this.requestHeaders.get('host');
    if (header) {
      const port = HOST_PORT.exec(header)![2];
      return port ? Number(port) : this.#defaultPort();
    }
    return this.getHost().port;
  }

  /** `scheme://host[:port]`, the port left out when it is the scheme's default. */
  origin(): string {
    const secure = this.isSecure();
    const host = this.getRequestHostname();
    const port = this.#urlPort();
    const shownHost = host.includes(':') ? `[${host}]` : host;
    const shownPort = port === (secure ? 443 : 80) ? '' : `:${port}`;
    return `${secure ? 'https' : 'http'}://${shownHost}${shownPort}`;
  }

  /** The absolute URL of the resource being rendered: origin plus the encoded `prepath`. */
  prePathURL(): string {
    return `${this.origin()}/${this.prepath.map(encodePathSegment).join('/')}`;
  }

  /** `prePathURL()` as a {@link URLPath}, to build links relative to the current resource. */
  URLPath(): URLPath {
    return URLPath.fromString(this.prePathURL());
  }

  /** Remembers the current `prePathURL()` as the site's root URL. */
  rememberRootURL(): void {
    this.#rootURL = this.prePathURL();
  }

  getRootURL(): string | null {
    return this.#rootURL;
  }

  /** A relative link to the child `name` of the resource being rendered. */
  childLink(name: string): string {
    const lpp = this.postpath.length;
    if (lpp > 1) return '../'.repeat(lpp - 1) + name;
    if (lpp === 1) return name;
    const last = this.prepath.at(-1);
    return last ? `${encodePathSegment(last)}/${name}` : name;
  }

  /** A relative link to the sibling `name` of the resource being rendered. */
  sibLink(name: string): string {
    return this.postpath.length ? '../'.repeat(this.postpath.length) + name : name;
  }

  // ----- sessions -----

  /** The session cookie's name: `TRELLIS_SESSION`, or `TRELLIS_SECURE_SESSION` over TLS, plus the sitepath. */
  sessionCookieName(): string {
    const base = this.isSecure() ? 'TRELLIS_SECURE_SESSION' : 'TRELLIS_SESSION';
    return this.sitepath.length ? `${base}_${this.sitepath.map(encodeURIComponent).join('_')}` : base;
  }

  /**
   * The visitor's session, created (and its cookie set: HttpOnly, SameSite=Lax, Secure over TLS) when
   * there is none. Sessions are lazy: nothing is stored for a visitor until this is called.
   */
  async getSession(): Promise<Session> {
    if (this.#session && !this.#session.expired) return this.#session;
    const store = this.site?.sessionStore;
    if (!store) throw new Error('getSession() needs a Site with a session store');
    const name = this.sessionCookieName();
    const id = this.getCookie(name);
    let session = id && /^[0-9a-f]{64}$/.test(id) ? await store.get(id) : undefined;
    if (!session) {
      session = await store.create();
      this.addCookie(name, session.uid, { path: '/', httpOnly: true, sameSite: 'lax', secure: this.isSecure() });
    }
    this.#session = session;
    return session;
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

  /** Forgets every response header and cookie (the Site does this before an error page). */
  #resetResponse(): void {
    this.#headers.clear();
    this.#setCookies = null;
    this.#encoder = null;
    this.code = 200;
    this.codeMessage = null;
  }

  /** Adds a Set-Cookie header. CR, LF and other controls are refused with a TypeError. */
  addCookie(name: string, value: string, options: CookieOptions = {}): void {
    (this.#setCookies ??= []).push(formatSetCookie(name, value, options));
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
    const reason = this.codeMessage ?? reasonPhrase(this.code);
    if (this.#sink.writeHeadFlat) {
      const flat = headers.flat();
      if (this.#setCookies) for (const cookie of this.#setCookies) flat.push('Set-Cookie', cookie);
      this.#sink.writeHeadFlat(this.code, reason, flat);
      return;
    }
    const pairs = headers.pairs();
    if (this.#setCookies) for (const cookie of this.#setCookies) pairs.push(['Set-Cookie', cookie]);
    this.#sink.writeHead(this.code, reason, pairs);
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
    if (typeof data === 'string' && this.#sink.endText && !this.#encoder) {
      this.#writeWholeText(data);
      return;
    }
    let body = typeof data === 'string' ? Buffer.from(data) : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
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
    if (this.#noBody() || length === 0) this.#sink.end();
    else this.#sink.endText!(text);
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
    const chunk = typeof data === 'string' ? Buffer.from(data) : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
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
    return this.#encoding === null && this.#sink.queuedBytes?.() === 0;
  }

  /** Resolves when the channel can take more data (at once when it is not backed up, or once the client left). */
  drain(): Promise<void> {
    if ((!this.#backedUp && !this.#encoding?.writableNeedDrain) || this.disconnected || this.finished) return Promise.resolve();
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
        if (!this.disconnected) this.#sink.end();
        this.#done();
      });
      encoding.end();
      return;
    }
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
    this.#sink.closeAfterResponse?.();
  }
}
