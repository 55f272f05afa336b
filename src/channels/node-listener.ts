// Node's request objects into the neutral Request when a user mounts `toNodeListener(site)` on their own
// server: node:http requests read here (with the checks Node's parser does not make and the body
// stall watchdog), node:http2 compatibility requests handed on as the HTTP/2 streams they carry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import { fieldPairs, RequestHeaders } from '../http/headers.js';
import { allowedTrailers } from '../http/trailers.js';
import type { Address, ResponseSink } from '../request.js';
import type { Site } from '../site.js';
import { socketAddresses } from './address.js';
import { watchBody, type BodyProgress } from './body-watch.js';
import { connectionLost, serveParts } from './boundary.js';
import { checkRequestHead } from './head-checks.js';
import { serveHttp2Stream } from './http2/stream.js';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/**
 * Content-Length and whether Transfer-Encoding is present, read from the raw header list (Node builds
 * `req.headers` lazily; this avoids building it on the hot path).
 */
function bodyFraming(rawHeaders: readonly string[]): { contentLength: string | undefined; chunked: boolean } {
  let contentLength: string | undefined;
  let chunked = false;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = rawHeaders[i + 1];
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') chunked = true;
  }
  return { contentLength, chunked };
}

const ADDRESSES = Symbol('trellis.addresses');
type AddressedSocket = Socket & { [ADDRESSES]?: { client: Address; local: Address } };

/** The peer and local addresses of a socket, worked out once per connection (kept-alive requests reuse them). */
function cachedAddresses(socket: AddressedSocket, unixPath: string | null): { client: Address; local: Address } {
  return (socket[ADDRESSES] ??= socketAddresses(socket, unixPath));
}

function h1Sink(req: IncomingMessage, res: ServerResponse): ResponseSink {
  let close = false;
  return {
    writeHead(code, reason, flat) {
      if (close) flat.push('Connection', 'close');
      res.writeHead(code, reason, flat);
    },
    write: (chunk) => res.write(chunk),
    end: (chunk) => (chunk ? res.end(chunk) : res.end()),
    // A string body joins the header block in one write; a Buffer would go out as a second chunk.
    endText: (text) => res.end(text),
    onDrain: (listener) => res.once('drain', listener),
    abort: () => req.socket.destroy(),
    closeAfterResponse: () => {
      close = true;
    },
    queuedBytes: () => null,
    // node:http sends them on a chunked response only.
    setTrailers: (fields) => {
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i + 1 < fields.length; i += 2) pairs.push([fields[i]!, fields[i + 1]!]);
      res.addTrailers(pairs);
    },
  };
}

/** The trailers of a chunked node:http request body, filled in when it ends. */
function h1Trailers(req: IncomingMessage): RequestHeaders {
  const trailers = new RequestHeaders();
  req.once('end', () => {
    for (const [name, value] of allowedTrailers(fieldPairs(req.rawTrailers))) trailers.append(name, value);
  });
  return trailers;
}

/** A node:http request body's progress, read from its socket. */
function h1BodyProgress(req: IncomingMessage): BodyProgress {
  const socket = req.socket;
  return {
    received: () => socket.bytesRead,
    held: () => req.readableLength >= req.readableHighWaterMark || socket.isPaused(),
    over: () => req.complete || socket.destroyed,
    cut: () => socket.destroy(),
  };
}

/** Options of {@link nodeRequestListener}. */
export interface NodeListenerOptions {
  /** Whether the listener sits behind TLS (sets `isSecure()` when the socket does not say). */
  secure: boolean;
  /** The UNIX socket path, reported as the local address. */
  unixPath?: string | null;
}

/**
 * A Node request listener that serves `site`, for mounting a Site in a server of your own:
 *
 * ```ts
 * http.createServer(toNodeListener(site)).listen(8080);
 * http2.createSecureServer({ key, cert, allowHTTP1: true }, toNodeListener(site));
 * ```
 *
 * Trellis's own listeners (`trellis web`, `listen()`) do not go through it: they run Trellis's own
 * HTTP/1.1 and HTTP/2 channels. Same as {@link nodeRequestListener} with `secure: false`.
 */
export function toNodeListener(site: Site): (req: NodeRequest, res: NodeResponse) => void {
  return nodeRequestListener(site, { secure: false });
}

/**
 * A Node request listener that serves `site`: usable with `http.createServer`, `https.createServer`
 * and `http2.createSecureServer({ allowHTTP1: true })`. node:http requests are read here; an HTTP/2
 * request goes on as its stream, served like Trellis's own HTTP/2 (`http2/stream.ts`).
 */
export function nodeRequestListener(
  site: Site,
  options: NodeListenerOptions,
): (req: NodeRequest, res: NodeResponse) => void {
  const unixPath = options.unixPath ?? null;
  return (req, res) => {
    const socket = req.socket;
    const secure = options.secure || Boolean((socket as { encrypted?: boolean }).encrypted);
    if (req.httpVersionMajor === 2) {
      const r2 = req as Http2ServerRequest;
      serveHttp2Stream(site, r2.stream, r2.headers, r2.rawHeaders, { secure, compat: true });
      return;
    }
    const h1 = req as IncomingMessage;
    const rawHeaders = h1.rawHeaders;
    const framing = bodyFraming(rawHeaders);
    const contentLengthHeader = framing.contentLength;
    const hasBody = contentLengthHeader !== undefined || framing.chunked;
    const addresses = cachedAddresses(socket, unixPath);
    const parts = {
      method: h1.method!,
      uri: h1.url!,
      clientproto: `HTTP/${h1.httpVersion}`,
      headers: RequestHeaders.fromFlat(rawHeaders),
      body: hasBody ? h1 : null,
      client: addresses.client,
      local: addresses.local,
      secure,
      channel: 'http/1.1',
      contentLength: contentLengthHeader === undefined ? null : Number(contentLengthHeader),
      trailers: framing.chunked ? h1Trailers(h1) : null,
    };
    const refusal = checkRequestHead(h1.url!, h1.httpVersion, rawHeaders, site.limits);
    if (hasBody && !refusal) watchBody(h1BodyProgress(h1), site.limits);
    const request = serveParts(site, parts, h1Sink(h1, res as ServerResponse), refusal);
    if (refusal) return;
    // Most responses are complete by now; only one still being written needs to hear that the
    // client left (events arrive after this synchronous turn, so none is missed). The Request ignores
    // it once its response is complete; `writableFinished` cannot tell, as an h2 stream the client
    // reset reports it true (test/channels/client-abort.test.ts).
    if (!request.finished) res.once('close', () => connectionLost(request));
  };
}
