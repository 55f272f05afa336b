// The reading side of a Request: the request line, the path as segments, headers, query and form
// arguments, cookies, credentials and the body. `Request` extends it (by way of `RequestURLs`).
import { Readable } from 'node:stream';
import { HttpError } from '../errors.js';
import { RequestHeaders } from '../http/headers.js';
import { parseCookies } from '../http/cookies.js';
import { parseQuery, parseMultipart, type Args, type UploadedFile } from '../http/form.js';
import { splitSegments } from '../http/path.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits, type RequestParts, type UpgradeSocket } from './parts.js';

/** What a request says: everything a resource reads from it. See {@link Request}. */
export class RequestReading {
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
  /** Files from a multipart body, after `parseForm()`. */
  files: UploadedFile[] = [];
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS;
  /** Set by the Site when the path could not be decoded. */
  readonly badPath: boolean;
  /**
   * The raw connection of an Upgrade or CONNECT request, for a resource to take (a WebSocket
   * pass-through, a CONNECT tunnel); null for an ordinary request and on channels that have none.
   */
  readonly upgrade: UpgradeSocket | null;
  #body: Readable | null;
  #trailers: RequestHeaders | null;
  #contentLength: number | null;
  #bodyUsed = false;
  #bodyBuffer: Promise<Buffer> | null = null;
  #args: Args | null = null;
  #cookies: Record<string, string> | null = null;

  /** Reads what a channel parsed: the request line, the path split into segments, the body. */
  constructor(init: RequestParts) {
    this.method = init.method;
    this.uri = init.uri;
    this.clientproto = init.clientproto;
    this.requestHeaders = init.headers;
    this.channel = init.channel ?? 'http';
    this.#body = init.body ?? null;
    this.#trailers = init.trailers ?? null;
    this.#contentLength = init.contentLength ?? null;
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

  /**
   * The trailer fields the client sent after the body (RFC 9110 §6.5), read like `requestHeaders`.
   * Filled once the body has been read to its end, on the channels that carry them (an HTTP/1.1
   * chunked body, HTTP/2); empty before that, and always empty elsewhere. Fields that may not be
   * trailers (framing, routing, authentication, `Content-*`, ...: src/http/trailers.ts) are left out.
   * They are never merged into `requestHeaders`.
   *
   * ```ts
   * const body = await request.readBody();
   * const digest = request.trailers.get('content-digest');
   * ```
   */
  get trailers(): RequestHeaders {
    return (this.#trailers ??= new RequestHeaders());
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
      body.once('error', (err) =>
        reject(
          err instanceof HttpError
            ? err
            : new HttpError(400, 'The request body could not be read.', { cause: err, close: true }),
        ),
      );
      body.once('close', () => {
        if (!body.readableEnded)
          reject(new HttpError(400, 'The request body was cut short.', { code: 'BODY_INCOMPLETE', close: true }));
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
        throw new HttpError(413, `The request body is larger than ${this.limits.maxBodySize} bytes.`, {
          code: 'BODY_TOO_LARGE',
          close: true,
        });
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

  /** The request headers (`requestHeaders`): `request.headers.get('accept')`. */
  get headers(): RequestHeaders {
    return this.requestHeaders;
  }

  /** HTTP Basic user name, or '' when absent or malformed; `getUser()`. */
  get user(): string {
    return this.#basicAuth()[0];
  }

  /** HTTP Basic password, or '' when absent or malformed; `getPassword()`. */
  get password(): string {
    return this.#basicAuth()[1];
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
}
