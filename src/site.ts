// The Site: the root resource plus everything around rendering (defaults headers, sessions, limits,
// error pages, the access log). Every channel hands its Request to `site.handle()`.
import type { BlockList } from 'node:net';
import { CLIENT_CLOSED_REQUEST, type AccessLog } from './access-log.js';
import { HttpError } from './errors.js';
import { corsAnswer, type CorsAnswer, type CorsPolicy } from './http/cors.js';
import { assertHeader } from './http/headers.js';
import { reasonPhrase } from './http/status.js';
import { PROCESSING_FAILED_HTML, errorPageHtml, tracebackHtml } from './pages.js';
import { CACHED, NOT_DONE_YET, DEFAULT_REQUEST_LIMITS, isDotSegment } from './request.js';
import type { Request, RequestLimits, SiteContext } from './request.js';
import { Resource, UnsupportedMethod, getChildForRequest, type RenderResult } from './resource.js';
import { resetResponse, setTrustedHeader } from './request-internals.js';
import { isBodySource, isFetchResponse, pipeBody, sendResponse } from './request/body-source.js';
import { MemorySessionStore } from './session/memory-store.js';
import type { SessionStore } from './session/session.js';
import { inRanges, parseCidrs } from './util/cidr.js';
import { VERSION } from './version.js';

/** Limits and timeouts (SECURITY.md, "Default limits"). Every channel reads the ones that apply to it. */
export interface SiteLimits extends RequestLimits {
  /** Longest request-target; past it 414. Default 8 KiB. */
  maxUriLength: number;
  /** Total header bytes; past it 431. Default 16 KiB. */
  maxHeaderBytes: number;
  /** Most header fields; past it 431. Default 100. */
  maxHeaderCount: number;
  /** Time to receive the whole header section. Default 20 s. */
  headerTimeout: number;
  /** Longest pause while a body arrives. Default 30 s. */
  bodyIdleTimeout: number;
  /** Slowest average body rate accepted after the first 10 s, in bytes/s. Default 500. */
  bodyMinRate: number;
  /** Idle time allowed between kept-alive requests. Default 5 s. */
  keepAliveTimeout: number;
  /** Requests served on one connection before it closes. Default 1000. */
  maxRequestsPerSocket: number;
  /** Longest time a response may wait for the client to read. Default 60 s. */
  writeIdleTimeout: number;
  /** Open connections allowed from one IP. Default 256. */
  maxConnectionsPerIp: number;
  /** HTTP/2 concurrent streams per connection. Default 100. */
  h2MaxConcurrentStreams: number;
  /** HTTP/2 header list size. Default 64 KiB. */
  h2MaxHeaderListSize: number;
  /** Time allowed to drain in-flight requests on shutdown. Default 10 s. */
  shutdownTimeout: number;
}

export const DEFAULT_LIMITS: SiteLimits = {
  ...DEFAULT_REQUEST_LIMITS,
  maxUriLength: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  headerTimeout: 20_000,
  bodyIdleTimeout: 30_000,
  bodyMinRate: 500,
  keepAliveTimeout: 5_000,
  maxRequestsPerSocket: 1000,
  writeIdleTimeout: 60_000,
  maxConnectionsPerIp: 256,
  h2MaxConcurrentStreams: 100,
  h2MaxHeaderListSize: 64 * 1024,
  shutdownTimeout: 10_000,
};

/** Options of {@link Site}. */
export interface SiteOptions {
  /** Show error stacks in 500 pages. Default false (a bare "Processing Failed" page). */
  displayTracebacks?: boolean;
  /** Where access-log lines go. Default: none. */
  accessLog?: AccessLog | null;
  /** Session store. Default: an in-memory store (created on first use). */
  sessionStore?: SessionStore;
  /** The Server header; null leaves it out. Default `Trellis/<version>`. */
  serverHeader?: string | null;
  /** Headers added to every response, error pages included (`--add-header`). */
  headers?: ReadonlyArray<readonly [string, string]>;
  /** Limits and timeouts; unspecified ones keep their defaults. */
  limits?: Partial<SiteLimits>;
  /**
   * Cross-origin access (`--cors`): allowed origins get `Access-Control-Allow-Origin` on every response,
   * error pages included, and preflights are answered 204 before any resource sees them. Default none.
   */
  cors?: CorsPolicy | null;
  /** Where errors are reported. Default: stderr. */
  logError?: (message: string) => void;
  /**
   * Peers the per-IP connection cap (`limits.maxConnectionsPerIp`) never applies to: the front ends
   * every client reaches the site through (`--trust-proxy`), which share one address among all their
   * clients (SECURITY.md §3.3). CIDRs or addresses; a bad entry throws a CidrError. Default: none.
   */
  uncappedPeers?: readonly string[];
}

let cachedDate: string | null = null;

/** How `Site.fetch` serves a Fetch Request: `src/channels/fetch.ts` installs it when it loads. */
type FetchChannel = (site: Site, request: globalThis.Request) => Promise<Response>;
let fetchChannel: FetchChannel | null = null;

/** Called once, by `src/channels/fetch.ts` (a channel; the Site may not import channels). */
export function installFetchChannel(channel: FetchChannel): void {
  fetchChannel = channel;
}

/**
 * The Date header value, computed at most once a second: a timer forgets it when the second ends
 * (as node:http does for its own Date), so a request costs no clock read.
 */
function httpDate(): string {
  if (cachedDate === null) {
    const now = new Date();
    cachedDate = now.toUTCString();
    setTimeout(forgetDate, 1000 - now.getMilliseconds()).unref();
  }
  return cachedDate;
}

function forgetDate(): void {
  cachedDate = null;
}

/**
 * A site: the root resource and the policies around it. Any channel serves any Site.
 *
 * ```ts
 * const site = new Site(root, { accessLog: openAccessLog('-') });
 * http.createServer(toNodeListener(site)).listen(8080);   // or `trellis run site.ts`
 * ```
 */
export class Site implements SiteContext {
  resource: Resource;
  displayTracebacks: boolean;
  accessLog: AccessLog | null;
  serverHeader: string | null;
  readonly headers: Array<readonly [string, string]>;
  readonly limits: SiteLimits;
  readonly logError: (message: string) => void;
  /** The CORS policy, or null for none. */
  cors: CorsPolicy | null;
  #uncapped: BlockList | null;
  #sessionStore: SessionStore | null;

  constructor(resource: Resource, options: SiteOptions = {}) {
    this.resource = resource;
    this.displayTracebacks = options.displayTracebacks ?? false;
    this.accessLog = options.accessLog ?? null;
    this.cors = options.cors ?? null;
    this.serverHeader = options.serverHeader === undefined ? `Trellis/${VERSION}` : options.serverHeader;
    this.headers = [...(options.headers ?? [])];
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.logError =
      options.logError ?? ((message) => void process.stderr.write(`${new Date().toISOString()} ${message}\n`));
    this.#sessionStore = options.sessionStore ?? null;
    this.#uncapped = options.uncappedPeers?.length ? parseCidrs(options.uncappedPeers) : null;
    if (this.serverHeader) assertHeader('Server', this.serverHeader);
    for (const [name, value] of this.headers) assertHeader(name, value);
  }

  /** Whether connections from `ip` are exempt from the per-IP cap (see {@link SiteOptions.uncappedPeers}). */
  isUncapped(ip: string): boolean {
    return this.#uncapped !== null && inRanges(this.#uncapped, ip);
  }

  /**
   * Serves a Fetch API Request in memory and resolves with the Response, its body streamed: the Site
   * inside any Fetch-based host, or under test without a socket. The URL gives the path, Host and
   * scheme; the request's `signal` aborting is the client leaving. Pinned by test/app/site-fetch.test.ts.
   *
   * ```ts
   * export default { fetch: (request: Request) => site.fetch(request) };
   * ```
   */
  fetch(request: globalThis.Request): Promise<Response> {
    if (!fetchChannel)
      return Promise.reject(new Error("site.fetch() needs the Fetch channel: import Site from 'trellis'"));
    return fetchChannel(this, request);
  }

  /** The session store (an in-memory one unless another was given). */
  get sessionStore(): SessionStore {
    this.#sessionStore ??= new MemorySessionStore();
    return this.#sessionStore;
  }

  #applyDefaultHeaders(request: Request): void {
    // These were validated once, in the constructor; this runs for every request.
    setTrustedHeader(request, 'Date', httpDate(), 'date');
    if (this.serverHeader) setTrustedHeader(request, 'Server', this.serverHeader, 'server');
    for (const [name, value] of this.headers) request.addHeader(name, value);
    if (this.cors) for (const [name, value] of this.#corsFor(request).headers) request.addHeader(name, value);
  }

  #corsFor(request: Request): CorsAnswer {
    return corsAnswer(this.cors!, {
      method: request.method,
      origin: request.getHeader('origin'),
      requestMethod: request.getHeader('access-control-request-method'),
      requestHeaders: request.getHeader('access-control-request-headers'),
    });
  }

  /** Logs a request once it is done; one the client left before it was complete is marked aborted. */
  #log = (request: Request): void => {
    const aborted = request.disconnected;
    this.accessLog?.log({
      clientIp: request.getClientIP(),
      time: new Date(),
      method: request.method,
      uri: request.uri,
      protocol: request.clientproto,
      status: aborted && !request.startedWriting ? CLIENT_CLOSED_REQUEST : request.code,
      bytes: request.method === 'HEAD' ? 0 : request.sentLength,
      referer: request.getHeader('referer'),
      userAgent: request.getHeader('user-agent'),
      aborted,
    });
  };

  /**
   * Serves one request: traversal from the root, rendering, error pages, logging.
   *
   * A path that does not decode (bad percent-escape, invalid UTF-8) is 400. So is a path holding a
   * dot-segment, `.` or `..` decoded (`%2e%2e`, `.%2E`), for every resource (SECURITY.md §1.1): clients
   * remove dot-segments before sending (RFC 3986 §5.2.4, and browsers do so for `%2e` too), so one
   * that arrives is an attempt to climb out of a mount, and no resource (a proxy, a leaf, a File) ever
   * sees one. Twisted hands such segments on as they are. Pinned by test/site-path.test.ts.
   */
  handle(request: Request): void {
    request.site = this;
    request.limits = this.limits;
    if (request.prepath.length) request.sitepath = [...request.prepath];
    if (this.accessLog) request.whenDone(this.#log);
    this.#applyDefaultHeaders(request);

    if (this.cors && request.method === 'OPTIONS' && this.#corsFor(request).preflight) {
      request.setResponseCode(204);
      request.writeWhole('');
      return;
    }
    if (request.uri === '*') {
      this.#serverWideOptions(request);
      return;
    }
    if (request.badPath) {
      this.processingFailed(
        request,
        new HttpError(400, 'The request path is not valid percent-encoded UTF-8.', { code: 'BAD_PATH' }),
      );
      return;
    }
    const postpath = request.postpath;
    for (let i = 0; i < postpath.length; i++) {
      if (!isDotSegment(postpath[i]!)) continue;
      const message = 'The request path holds a "." or ".." segment.';
      this.processingFailed(request, new HttpError(400, message, { code: 'DOT_SEGMENT' }));
      return;
    }
    let result: RenderResult;
    try {
      const target = getChildForRequest(this.resource, request);
      if (!(target instanceof Resource)) {
        target.then(
          (resource) => this.#renderResource(resource, request),
          (err: unknown) => this.processingFailed(request, err),
        );
        return;
      }
      result = target.render(request);
    } catch (err) {
      this.processingFailed(request, err);
      return;
    }
    this.#deliver(request, result);
  }

  #renderResource(resource: Resource, request: Request): void {
    let result: RenderResult;
    try {
      result = resource.render(request);
    } catch (err) {
      this.processingFailed(request, err);
      return;
    }
    this.#deliver(request, result);
  }

  /** `OPTIONS *` asks about the server as a whole (RFC 9110 §9.3.7). */
  #serverWideOptions(request: Request): void {
    if (request.method === 'OPTIONS') {
      request.setHeader('Allow', 'OPTIONS, GET, HEAD, POST');
      request.writeWhole('');
      return;
    }
    request.setResponseCode(405);
    request.setHeader('Allow', 'OPTIONS');
    request.writeWhole('');
  }

  /**
   * Sends what a render method returned (see `RenderBody`): a whole body, `CACHED` as the empty answer
   * `setETag`/`setLastModified` decided, a promise once it settles, a stream or a Fetch Response piped
   * with backpressure. Anything else is a 500 naming what came back, unless the resource already
   * answered.
   */
  #deliver(request: Request, result: unknown): void {
    if (result === NOT_DONE_YET) return;
    if (typeof result === 'string' || result instanceof Uint8Array || result === CACHED) {
      const body: string | Uint8Array = result === CACHED ? '' : (result as string | Uint8Array);
      // A shared session store gets the changed data before the answer goes out: if it cannot, 503.
      const saving = request.saveSession();
      if (!saving) request.writeWhole(body);
      else
        saving.then(
          () => request.writeWhole(body),
          (err: unknown) => this.processingFailed(request, err),
        );
      return;
    }
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(
        (value) => this.#deliver(request, value),
        (err: unknown) => this.processingFailed(request, err),
      );
      return;
    }
    if (isFetchResponse(result)) {
      void sendResponse(request, result);
      return;
    }
    if (isBodySource(result)) {
      void pipeBody(request, result);
      return;
    }
    if (request.finished || request.disconnected) return;
    const what = typeof result === 'object' && result !== null ? 'an object' : String(result);
    this.processingFailed(
      request,
      new Error(
        `The resource for ${request.uri} returned ${what}: return a string, bytes, a stream, a Response, or NOT_DONE_YET and call finish() later`,
      ),
    );
  }

  /**
   * Answers a request whose rendering failed: an HttpError becomes its status page (its message shown
   * only when `expose`), anything else a logged 500. After the headers went out, the connection drops.
   */
  processingFailed(request: Request, error: unknown): void {
    if (request.disconnected || request.finished) return;
    const isHttp = error instanceof HttpError;
    if (!isHttp || (error.status >= 500 && !(error instanceof UnsupportedMethod))) {
      const brief = isHttp && !error.logStack;
      const text = error instanceof Error ? (brief ? error.message : (error.stack ?? error.message)) : String(error);
      this.logError(`Error rendering ${request.method} ${request.uri}: ${text}`);
    }
    if (request.startedWriting) {
      request.abortConnection();
      return;
    }
    resetResponse(request);
    this.#applyDefaultHeaders(request);
    if (isHttp) {
      request.setResponseCode(error.status);
      for (const [name, value] of Object.entries(error.headers)) request.setHeader(name, value);
      if (error.close) request.closeConnection();
      request.setHeader('Content-Type', 'text/html; charset=utf-8');
      request.writeWhole(errorPageHtml(error.status, reasonPhrase(error.status), this.#detail(request, error)));
      return;
    }
    request.setResponseCode(500);
    request.setHeader('Content-Type', 'text/html; charset=utf-8');
    request.writeWhole(this.displayTracebacks ? tracebackHtml(error, request) : PROCESSING_FAILED_HTML);
  }

  #detail(request: Request, error: HttpError): string {
    if (error instanceof UnsupportedMethod) {
      if (error.status === 501) return `I don't know how to treat a ${request.method} request.`;
      const allowed = error.allowed.join(', ');
      return `Your browser approached me (at ${request.uri}) with the method "${request.method}". I only allow the method${error.allowed.length === 1 ? '' : 's'} ${allowed} here.`;
    }
    if (error.expose) return error.message;
    return this.displayTracebacks ? (error.stack ?? error.message) : reasonPhrase(error.status);
  }

  /**
   * Answers a request the channel refused (bad framing, limits, a body too slow) with the Site's error
   * page and headers, access-logged, then closes. A request this Site is already answering (its body
   * turned out malformed) is logged once, as handled.
   */
  refuse(request: Request, status: number, detail: string): void {
    if (request.site !== this) {
      request.site = this;
      if (this.accessLog) request.whenDone(this.#log);
    }
    this.processingFailed(request, new HttpError(status, detail, { close: true }));
  }
}
