// What a Request is made of and what it talks to: the parts a channel reads, the sink it writes to, the
// site context it is served in, and the markers render methods return. No behaviour beyond `upgradeOf`.
import type { Readable, Duplex, Transform } from 'node:stream';
import type { RequestHeaders } from '../http/headers.js';
import type { SessionStore } from '../session/session.js';
import type { Request } from '../request.js';

// The markers are symbols at run time (registered, so two copies of the package agree) and branded
// types at compile time: a `unique symbol` would widen to `symbol` in an inferred return type, and a
// handler returning `NOT_DONE_YET` would then no longer match `RenderResult`.
declare const marker: unique symbol;
/** The type of {@link NOT_DONE_YET}. */
export type NotDoneYet = symbol & { readonly [marker]: 'NOT_DONE_YET' };
/** The type of {@link CACHED}. */
export type Cached = symbol & { readonly [marker]: 'CACHED' };

/** Returned by a render method that will call `write`/`finish` itself later. */
export const NOT_DONE_YET = Symbol.for('trellis.NOT_DONE_YET') as NotDoneYet;
/**
 * Returned by `setLastModified`/`setETag` when the response is already decided (304 or 412); a
 * handler returns it as it is and the Site answers without a body.
 */
export const CACHED = Symbol.for('trellis.CACHED') as Cached;

/**
 * What the site serving a request gives it (Twisted's `request.site`), installed by `Site.handle`:
 * its root resource, its session store, its error path and error log, and a way in from the top.
 * The request layer knows this shape only, never the Site itself.
 */
export interface SiteContext {
  /** The site's root resource (`VHostMonsterResource` starts traversal there again). */
  readonly resource: object;
  readonly sessionStore: SessionStore;
  /** Answers `request` with the error page for `error`, or drops the connection if it already answered. */
  processingFailed(request: Request, error: unknown): void;
  /** Writes a line to the site's error log (a CGI script's stderr, a refused program file). */
  logError(message: string): void;
  /** Serves a request made inside the site from the top: CGI local redirects (RFC 3875 §6.2.2). */
  handle(request: Request): void;
}

/** A network address: TCP (IPv4 or IPv6) or a UNIX socket. */
export type Address = { type: 'INET' | 'INET6'; host: string; port: number } | { type: 'UNIX'; path: string | null };

/**
 * What a channel provides to send the response, the one shape every channel implements in full.
 * `write` returns false when the channel's buffer is full; the channel then calls the `onDrain`
 * listener once it has room again.
 */
export interface ResponseSink {
  /** Sends the status and the header fields, as one flat `[name, value, name, value, ...]` list. */
  writeHead(code: number, reason: string, fields: string[]): void;
  /**
   * What a channel that keys fields by lower-case name (HTTP/2) may have in place of `writeHead`:
   * `keys[i]` is the lower-case name of the field line `fields[2i]`, `fields[2i + 1]`, and the
   * Set-Cookie values follow in `cookies`. The lists are the Request's own: read them during the
   * call, never keep or change them.
   */
  writeKeyedHead?(
    code: number,
    keys: readonly string[],
    fields: readonly string[],
    cookies: readonly string[] | null,
  ): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): void;
  /** Ends with a UTF-8 text body (a channel may send the head and this body in one write). */
  endText(text: string): void;
  onDrain(listener: () => void): void;
  /** Drops the connection (used when a response fails after its headers were sent). */
  abort(): void;
  /** Asks the channel to close the connection after this response (where it has one to keep). */
  closeAfterResponse(): void;
  /**
   * Bytes written to this sink that the channel still holds (not yet handed to the OS), or null when
   * it cannot tell. Zero means every chunk written so far was let go of, so its memory may be reused.
   */
  queuedBytes(): number | null;
  /**
   * The trailer fields (flat `[name, value, ...]`, already checked) to send after the body when `end`
   * or `endText` comes next. Only channels that carry trailers have it (HTTP/1.1 on a chunked
   * response, HTTP/2); elsewhere a response's trailers are dropped.
   */
  setTrailers?(fields: string[]): void;
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
  /**
   * Where the channel puts the body's trailer fields once the body has ended (HTTP/1.1 chunked,
   * HTTP/2); the forbidden ones (src/http/trailers.ts) are left out. Default none.
   */
  trailers?: RequestHeaders | null;
  /** The raw connection of an Upgrade or CONNECT request (HTTP/1.1), or of an RFC 8441 WebSocket stream (HTTP/2). Default none. */
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
  /**
   * Over HTTP/2, the `:protocol` of an extended CONNECT (RFC 8441): `websocket`. The request is then
   * `CONNECT` with no Upgrade field, and `socket` takes the HTTP/1.1 answer (`101`) a WebSocket
   * server writes and turns it into the stream's response. Undefined over HTTP/1.1.
   */
  protocol?: string;
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
