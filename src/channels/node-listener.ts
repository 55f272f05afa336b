// Node's request objects into the neutral Request: node:http2 compatibility requests (HTTPS with
// HTTP/2), and node:http requests when a user mounts `Site.listener()` on their own server. Checks
// what Node's parser lets through but Trellis refuses, and writes the Request's response back.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { RequestHeaders } from '../http/headers.js';
import { Request, type Address, type ResponseSink } from '../request.js';
import type { Site, SiteLimits } from '../site.js';
import { H2_CANCEL, resetStream } from './h2-session.js';
import { isHost } from '../http/syntax.js';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/** Host header values accepted (SECURITY.md §6.3): a name or IPv4 with optional port, or a bracketed IPv6. */

/** Connection-specific fields that HTTP/2 forbids in responses (RFC 9113 §8.2.2). */
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Why a request is refused before it reaches the Site. */
export interface Refusal {
  status: number;
  detail: string;
}

/**
 * The checks Node's HTTP parser does not make (SECURITY.md §3.1, default limits). Pure: the request
 * line parts and raw header pairs in, a refusal or null out.
 *
 * | input                                   | result |
 * |-----------------------------------------|--------|
 * | target longer than `maxUriLength`       | 414    |
 * | more than `maxHeaderCount` fields       | 431    |
 * | header bytes over `maxHeaderBytes`      | 431    |
 * | two Host fields                         | 400    |
 * | Host not a host[:port]                  | 400    |
 * | Transfer-Encoding on HTTP/1.0           | 400    |
 * | Transfer-Encoding other than `chunked`  | 400    |
 */
export function checkRequestHead(
  uri: string,
  httpVersion: string,
  rawHeaders: readonly string[],
  limits: Pick<SiteLimits, 'maxUriLength' | 'maxHeaderCount' | 'maxHeaderBytes'>,
): Refusal | null {
  if (uri.length > limits.maxUriLength) return { status: 414, detail: `The request URI is longer than ${limits.maxUriLength} bytes.` };
  if (rawHeaders.length / 2 > limits.maxHeaderCount) {
    return { status: 431, detail: `The request has more than ${limits.maxHeaderCount} header fields.` };
  }
  let bytes = 0;
  let hosts = 0;
  let host: string | undefined;
  let te: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    bytes += name.length + value.length + 4;
    const lower = name.length === 4 || name.length === 17 ? name.toLowerCase() : '';
    if (lower === 'host') {
      hosts++;
      host = value;
    } else if (lower === 'transfer-encoding') {
      te = te === undefined ? value : `${te}, ${value}`;
    }
  }
  if (bytes > limits.maxHeaderBytes) return { status: 431, detail: `The request headers are larger than ${limits.maxHeaderBytes} bytes.` };
  if (hosts > 1) return { status: 400, detail: 'The request has more than one Host header.' };
  if (host !== undefined && host !== '' && !isHost(host)) return { status: 400, detail: 'The Host header is not a valid host.' };
  if (te !== undefined) {
    if (httpVersion === '1.0') return { status: 400, detail: 'Transfer-Encoding is not allowed in HTTP/1.0 requests.' };
    if (te.trim().toLowerCase() !== 'chunked') return { status: 400, detail: 'Only "Transfer-Encoding: chunked" is accepted.' };
  }
  return null;
}

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
function socketAddresses(socket: AddressedSocket, unixPath: string | null): { client: Address; local: Address } {
  let cached = socket[ADDRESSES];
  if (!cached) {
    cached = {
      client: socketAddress(socket.remoteAddress, socket.remoteFamily, socket.remotePort, unixPath),
      local: socketAddress(socket.localAddress, socket.remoteFamily, socket.localPort, unixPath),
    };
    socket[ADDRESSES] = cached;
  }
  return cached;
}

/** Normalises a socket's peer to an Address (IPv4-mapped IPv6 shown as IPv4). */
export function socketAddress(address: string | undefined, family: string | undefined, port: number | undefined, unixPath: string | null): Address {
  if (address === undefined) return { type: 'UNIX', path: unixPath };
  if (address.startsWith('::ffff:') && address.includes('.')) return { type: 'INET', host: address.slice(7), port: port ?? 0 };
  return { type: family === 'IPv6' ? 'INET6' : 'INET', host: address, port: port ?? 0 };
}

function h1Sink(req: IncomingMessage, res: ServerResponse): ResponseSink {
  let close = false;
  return {
    writeHead(code, reason, headers) {
      this.writeHeadFlat!(code, reason, headers.flat());
    },
    writeHeadFlat(code, reason, flat) {
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
  };
}

function h2Sink(res: Http2ServerResponse): ResponseSink {
  return {
    writeHead(code, _reason, headers) {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of headers) {
        const key = name.toLowerCase();
        if (H2_FORBIDDEN.has(key)) continue;
        const prev = out[key];
        if (prev === undefined) out[key] = value;
        else if (Array.isArray(prev)) prev.push(value);
        else out[key] = [prev, value];
      }
      res.writeHead(code, out);
    },
    write: (chunk) => res.write(chunk),
    end: (chunk) => (chunk ? res.end(chunk) : res.end()),
    onDrain: (listener) => res.once('drain', listener),
    abort: () => resetStream(res.stream, 2 /* INTERNAL_ERROR */),
  };
}

/** How long a body may run before its average rate is held to `bodyMinRate` (SECURITY.md §3.3). */
const BODY_RATE_GRACE_MS = 10_000;

/** What {@link watchBody} needs to know about one request body. */
interface BodyProgress {
  /** Body bytes (or connection bytes) received so far. */
  received(): number;
  /** Whether the resource is not taking bytes (a full buffer): then the client is not to blame. */
  held(): boolean;
  /** Whether the body is complete or the exchange is gone. */
  over(): boolean;
  /** Drops the exchange. */
  cut(): void;
}

/**
 * Drops an exchange whose body stalls (SECURITY.md §3.3): no progress for `bodyIdleTimeout`, or an
 * average under `bodyMinRate` bytes/s after the first 10 s. Time the resource spends not reading
 * (a full buffer) does not count against the client. HTTP/1.1 requests from node:http lose their
 * connection; an HTTP/2 stream is reset with CANCEL and the connection's other streams go on
 * (test/channels/http2-timeouts.test.ts).
 */
function watchBody(body: BodyProgress, limits: SiteLimits): void {
  const startBytes = body.received();
  let lastBytes = startBytes;
  let lastTick = Date.now();
  let lastProgress = lastTick;
  // Time the client is held to: the body's age minus the time the resource was not reading.
  let clientMs = 0;
  const timer = setInterval(() => {
    if (body.over()) {
      clearInterval(timer);
      return;
    }
    const now = Date.now();
    const tick = now - lastTick;
    lastTick = now;
    const bytes = body.received();
    if (body.held()) {
      lastBytes = bytes;
      lastProgress = now;
      return;
    }
    clientMs += tick;
    if (bytes !== lastBytes) {
      lastBytes = bytes;
      lastProgress = now;
    }
    const tooSlow = clientMs > BODY_RATE_GRACE_MS && (bytes - startBytes) / (clientMs / 1000) < limits.bodyMinRate;
    if (now - lastProgress >= limits.bodyIdleTimeout || tooSlow) {
      clearInterval(timer);
      body.cut();
    }
  }, Math.min(1000, limits.bodyIdleTimeout));
  timer.unref();
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

/**
 * An HTTP/2 request body's progress. The stream's DATA bytes are counted where node:http2 pushes
 * them into the stream: a 'data' listener would start the flow before the resource reads, and the
 * connection's byte count includes every other stream.
 */
function h2BodyProgress(req: Http2ServerRequest): BodyProgress {
  const stream = req.stream;
  let received = 0;
  const push = stream.push;
  stream.push = function countedPush(this: ServerHttp2Stream, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk instanceof Uint8Array) received += chunk.length;
    return push.call(this, chunk, encoding);
  };
  return {
    received: () => received,
    held: () =>
      stream.isPaused() ||
      req.readableLength >= req.readableHighWaterMark ||
      stream.readableLength >= stream.readableHighWaterMark,
    over: () => req.complete || stream.destroyed,
    cut: () => resetStream(stream, H2_CANCEL),
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
 * A Node request listener that serves `site`: usable with `http.createServer`, `https.createServer`
 * and `http2.createSecureServer({ allowHTTP1: true })`.
 */
export function nodeRequestListener(site: Site, options: NodeListenerOptions): (req: NodeRequest, res: NodeResponse) => void {
  const unixPath = options.unixPath ?? null;
  return (req, res) => {
    const isH2 = req.httpVersionMajor === 2;
    const socket = req.socket;
    const secure = options.secure || Boolean((socket as { encrypted?: boolean }).encrypted);
    let rawHeaders = req.rawHeaders;
    let headers: RequestHeaders;
    if (isH2) {
      const pairs: Array<[string, string]> = [];
      const r2 = req as Http2ServerRequest;
      const authority = r2.authority;
      if (authority) pairs.push(['Host', authority]);
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        const name = rawHeaders[i]!;
        if (name.charCodeAt(0) === 58 /* ':' */ || (authority && name === 'host')) continue;
        pairs.push([name, rawHeaders[i + 1]!]);
      }
      headers = new RequestHeaders(pairs);
      rawHeaders = pairs.flat();
    } else {
      headers = RequestHeaders.fromFlat(rawHeaders);
    }
    const framing = bodyFraming(rawHeaders);
    const contentLengthHeader = framing.contentLength;
    const hasBody = isH2 ? !(req as Http2ServerRequest).stream.endAfterHeaders : contentLengthHeader !== undefined || framing.chunked;
    const request = new Request({
      method: req.method!,
      uri: req.url!,
      clientproto: isH2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`,
      headers,
      body: hasBody ? (req as IncomingMessage) : null,
      ...socketAddresses(socket, unixPath),
      secure,
      sink: isH2 ? h2Sink(res as Http2ServerResponse) : h1Sink(req as IncomingMessage, res as ServerResponse),
      channel: isH2 ? 'h2' : 'http/1.1',
      contentLength: contentLengthHeader === undefined ? null : Number(contentLengthHeader),
    });
    const refusal = checkRequestHead(req.url!, req.httpVersion, rawHeaders, site.limits);
    if (refusal) {
      site.refuse(request, refusal.status, refusal.detail);
      return;
    }
    if (hasBody) {
      const progress = isH2 ? h2BodyProgress(req as Http2ServerRequest) : h1BodyProgress(req as IncomingMessage);
      watchBody(progress, site.limits);
    }
    site.handle(request);
    // Most responses are complete by now; only one still being written needs to hear that the
    // client left (events arrive after this synchronous turn, so none is missed). The Request ignores
    // it once its response is complete; `writableFinished` cannot tell, as an h2 stream the client
    // reset reports it true (test/channels/client-abort.test.ts).
    if (!request.finished) res.once('close', () => request.connectionLost(new Error('Connection lost')));
  };
}
