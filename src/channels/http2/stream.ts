// HTTP/2 streams into the neutral Request on node:http2's core stream API (the server's 'stream'
// event), without its compatibility layer: the header block checked and turned into request parts,
// the body fed with backpressure under the stall watchdog, the response sent with `respond()`.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { RequestHeaders } from '../../http/headers.js';
import { headerKey } from '../../http/response-headers.js';
import { listHas } from '../../http/syntax.js';
import { allowedTrailers } from '../../http/trailers.js';
import type { Address, ResponseSink, UpgradeSocket } from '../../request.js';
import type { Site } from '../../site.js';
import { socketAddresses, type SocketLike } from '../address.js';
import { watchBody, type BodyProgress } from '../body-watch.js';
import { connectionLost, serveParts, type Refusal } from '../boundary.js';
import { GatewayBody } from '../gateway.js';
import { H2_CANCEL, H2_INTERNAL_ERROR, resetStream, whenStreamCloses } from '../h2-session.js';
import { checkRequestHead } from '../head-checks.js';
import { H2_CONNECTION_FIELDS, addField } from './fields.js';
import { H2Tunnel } from './tunnel.js';

const CONNECT_REFUSED: Refusal = {
  status: 405,
  detail: 'Over HTTP/2 only a WebSocket CONNECT (RFC 8441, :protocol websocket) is supported.',
};
const EXPECT_REFUSED: Refusal = { status: 417, detail: 'Only "Expect: 100-continue" is supported.' };

/** `respond()` options, shared by every stream (node:http2 copies them). */
const RESPOND_END = Object.freeze({ endStream: true });
const RESPOND_OPEN = Object.freeze({ endStream: false });
const RESPOND_TRAILING = Object.freeze({ waitForTrailers: true });

/** Stream errors arrive as the stream's close (and its reset code); this keeps them from being uncaught. */
function ignoreError(): void {}

/** Options of {@link serveHttp2Stream}. */
export interface Http2StreamOptions {
  /** Whether the connection is TLS (`isSecure()`). */
  secure: boolean;
  /**
   * The stream came through node:http2's compatibility layer (a user's own server with
   * `toNodeListener(site)`), which has already answered CONNECT and `Expect`. Default false.
   */
  compat?: boolean;
}

const ADDRESSES = Symbol('trellis.h2.addresses');
type AddressedSession = { socket: SocketLike; [ADDRESSES]?: { client: Address; local: Address } };

/**
 * The response side of one stream. The head goes out with `respond()` when the Request sends it,
 * ending the stream at once when no body can follow (HEAD, 204, 304, `Content-Length: 0`); node:http2
 * sends the HEADERS and DATA frames of one turn in one write, so a small body leaves with its head
 * and ends the stream in the same DATA frame.
 */
class StreamSink implements ResponseSink {
  readonly #stream: ServerHttp2Stream;
  readonly #head: boolean;
  /** The client sent `TE: trailers` (gRPC does): every response with a body keeps room for trailers. */
  readonly #teTrailers: boolean;
  #trailers: OutgoingHttpHeaders | null = null;

  constructor(stream: ServerHttp2Stream, head: boolean, teTrailers: boolean) {
    this.#stream = stream;
    this.#head = head;
    this.#teTrailers = teTrailers;
  }

  /** Sends `:status` and the fields of a flat list (names in any case), as {@link writeKeyedHead} does. */
  writeHead(code: number, _reason: string, flat: string[]): void {
    const keys: string[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) keys.push(headerKey(flat[i]!));
    this.writeKeyedHead(code, keys, flat, null);
  }

  /** Sends `:status` and the fields (names in lower case, repeated fields as lists), never a connection field. */
  writeKeyedHead(
    code: number,
    keys: readonly string[],
    fields: readonly string[],
    cookies: readonly string[] | null,
  ): void {
    // HTTP/2 has no reason phrase and no interim final status (RFC 9113 §8.3.2).
    if (code < 200 || code > 599) throw new RangeError(`HTTP/2 cannot send the status ${code}`);
    const stream = this.#stream;
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    const out: OutgoingHttpHeaders = { ':status': code };
    const bodyless = this.#head || code === 204 || code === 304;
    let zeroLength = false;
    let trailerDeclared = false;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (H2_CONNECTION_FIELDS.has(key)) continue;
      const value = fields[2 * i + 1]!;
      if (key === 'content-length' && value === '0') zeroLength = true;
      else if (key === 'trailer') trailerDeclared = true;
      addField(out, key, value);
    }
    if (cookies !== null) for (const cookie of cookies) addField(out, 'set-cookie', cookie);
    // Trailers need the stream left open after the last DATA (a trailing HEADERS frame ends it,
    // RFC 9113 §8.1): asked for by a `Trailer` field or the client's `TE: trailers`. A response of
    // no content with declared trailers (gRPC's trailers-only answer) still gets them.
    const trailing = !bodyless && (trailerDeclared || (this.#teTrailers && !zeroLength));
    if (!trailing) {
      stream.respond(out, bodyless || zeroLength ? RESPOND_END : RESPOND_OPEN);
      return;
    }
    stream.respond(out, RESPOND_TRAILING);
    stream.once('wantTrailers', () => {
      if (!stream.closed && !stream.destroyed) stream.sendTrailers(this.#trailers ?? {});
    });
  }

  /** Kept for the trailing HEADERS frame (names in lower case, as HTTP/2 has them). */
  setTrailers(fields: string[]): void {
    const out: OutgoingHttpHeaders = {};
    for (let i = 0; i + 1 < fields.length; i += 2) addField(out, fields[i]!.toLowerCase(), fields[i + 1]!);
    this.#trailers = out;
  }

  write(chunk: Buffer): boolean {
    if (this.#over()) return true;
    return this.#stream.write(chunk);
  }

  end(chunk?: Buffer): void {
    if (this.#over()) return;
    if (chunk && chunk.length > 0) this.#stream.end(chunk);
    else this.#stream.end();
  }

  endText(text: string): void {
    if (this.#over()) return;
    this.#stream.end(text, 'utf8');
  }

  onDrain(listener: () => void): void {
    this.#stream.once('drain', listener);
  }

  abort(): void {
    resetStream(this.#stream, H2_INTERNAL_ERROR);
  }

  /** A stream has no connection of its own to close. */
  closeAfterResponse(): void {}

  /** node:http2 does not say how much of a stream's output the session still holds. */
  queuedBytes(): number | null {
    return null;
  }

  /** No more body can go out: the stream ended (a bodyless head ends it too), was reset, or is gone. */
  #over(): boolean {
    const stream = this.#stream;
    return stream.writableEnded || stream.closed || stream.destroyed;
  }
}

/** The raw connection of an RFC 8441 WebSocket stream, made when a resource takes it. */
function tunnelFor(stream: ServerHttp2Stream): UpgradeSocket {
  let tunnel: H2Tunnel | null = null;
  return {
    get socket() {
      return (tunnel ??= new H2Tunnel(stream));
    },
    head: Buffer.alloc(0),
    protocol: 'websocket',
    take() {},
  };
}

/**
 * An HTTP/2 request body: DATA from the stream fed into a {@link GatewayBody}, the stream paused
 * while the resource has enough buffered. Nothing is read until the resource first asks (then a
 * `100 Continue` goes out if the client is waiting for one, RFC 9110 §10.1.1). The stream's DATA
 * bytes are counted where node:http2 pushes them, so the watchdog sees them whether or not the
 * resource reads.
 */
function streamBody(
  stream: ServerHttp2Stream,
  expectContinue: boolean,
  trailers: RequestHeaders,
): { body: GatewayBody; progress: BodyProgress } {
  let received = 0;
  let complete = false;
  const push = stream.push;
  stream.push = function countedPush(this: ServerHttp2Stream, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk === null) complete = true;
    else if (chunk instanceof Uint8Array) received += chunk.length;
    return push.call(this, chunk, encoding);
  };
  // A trailing HEADERS frame arrives before the end of the DATA it follows is read.
  stream.once('trailers', (_fields: IncomingHttpHeaders, _flags: number, raw: string[]) => {
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
    for (const [name, value] of allowedTrailers(pairs)) trailers.append(name, value);
  });
  let flowing = false;
  const body = new GatewayBody(() => {
    if (!flowing) {
      flowing = true;
      if (expectContinue && !complete && !stream.headersSent && !stream.closed && !stream.destroyed) {
        stream.additionalHeaders({ ':status': 100 });
      }
      stream.on('data', (chunk: Buffer) => {
        if (!body.feed(chunk)) stream.pause();
      });
      stream.once('end', () => body.close());
    } else if (stream.isPaused()) {
      stream.resume();
    }
  });
  stream.once('close', () => {
    if (!stream.readableEnded) body.destroy(new Error('The client reset the stream before the body ended.'));
  });
  const progress: BodyProgress = {
    received: () => received,
    held: () =>
      stream.isPaused() ||
      body.readableLength >= body.readableHighWaterMark ||
      stream.readableLength >= stream.readableHighWaterMark,
    over: () => complete || stream.destroyed,
    cut: () => resetStream(stream, H2_CANCEL),
  };
  return { body, progress };
}

/**
 * Serves one HTTP/2 request stream (`headers`, `rawHeaders` as node:http2 gives them with the
 * 'stream' event) through `site`. The request carries the `:authority` as its one `Host` field (a
 * `host` field is used only without one, RFC 9113 §8.3.1), and is refused as on every channel:
 *
 * | request                                              | answer |
 * |------------------------------------------------------|--------|
 * | the head checks of `checkRequestHead` (URI, fields, Host) | 414, 431, 400 |
 * | CONNECT (no tunnels over HTTP/2) but RFC 8441's `:protocol websocket` | 405 |
 * | `Expect` other than `100-continue`                   | 417 |
 *
 * A WebSocket CONNECT (RFC 8441) gets `request.upgrade`, a tunnel over the stream (`tunnel.ts`) that
 * a resource may take as NodeAppResource does; unless taken it is answered as any request would be.
 *
 * A client reset or a lost connection before the response is complete fails `notifyFinish()`; a
 * response failing after its head resets the stream (INTERNAL_ERROR); a stalled body resets it
 * (CANCEL, `body-watch.ts`). These resets are the server's own and never count as the client's
 * Rapid Reset (`h2-session.ts`). Pinned by test/channels/http2-stream.test.ts,
 * test/channels/http2-timeouts.test.ts and the channel matrix (test/helpers/matrix.ts).
 */
export function serveHttp2Stream(
  site: Site,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  options: Http2StreamOptions,
): void {
  stream.on('error', ignoreError);
  const session = stream.session as unknown as AddressedSession | undefined;
  if (stream.destroyed || !session) return;
  const addresses = (session[ADDRESSES] ??= socketAddresses(session.socket, null));
  const method = headers[':method'] as string;
  const authority = (headers[':authority'] ?? headers.host) as string | undefined;
  const pairs: Array<[string, string]> = [];
  const flat: string[] = [];
  if (authority) {
    pairs.push(['Host', authority]);
    flat.push('Host', authority);
  }
  let contentLength: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.charCodeAt(0) === 58 /* ':' */ || (authority && name === 'host')) continue;
    const value = rawHeaders[i + 1]!;
    // node:http2 hands names in lower case (RFC 9113 §8.2.1).
    if (name.length === 14 && name === 'content-length') contentLength = value;
    pairs.push([name, value]);
    flat.push(name, value);
  }
  const uri = (headers[':path'] as string | undefined) ?? authority ?? '';
  // RFC 8441: an extended CONNECT for a WebSocket is a tunnel the resource may take, not a body.
  const websocket =
    method === 'CONNECT' && !options.compat && headers[':protocol'] === 'websocket' && headers[':path'] !== undefined;
  const hasBody = !stream.endAfterHeaders && !websocket;
  const expect = options.compat ? undefined : headers.expect;
  const expectContinue = expect !== undefined && expect.toLowerCase() === '100-continue';
  const trailers = hasBody ? new RequestHeaders() : null;
  const reading = trailers !== null ? streamBody(stream, expectContinue, trailers) : null;
  const refusal =
    checkRequestHead(uri, '2.0', flat, site.limits) ??
    (method === 'CONNECT' && !options.compat && !websocket ? CONNECT_REFUSED : null) ??
    (expect !== undefined && !expectContinue ? EXPECT_REFUSED : null);
  if (reading && !refusal) watchBody(reading.progress, site.limits);
  const parts = {
    method,
    uri,
    clientproto: 'HTTP/2',
    headers: new RequestHeaders(pairs),
    body: reading?.body ?? null,
    client: addresses.client,
    local: addresses.local,
    secure: options.secure,
    channel: 'h2',
    contentLength: contentLength === undefined ? null : Number(contentLength),
    trailers,
    upgrade: websocket ? tunnelFor(stream) : null,
  };
  const te = headers.te;
  const sink = new StreamSink(stream, method === 'HEAD', te !== undefined && listHas(String(te), 'trailers'));
  const request = serveParts(site, parts, sink, refusal);
  if (refusal) return;
  // Most responses are complete by now; only one still being written needs to hear that the
  // client left (events arrive after this synchronous turn, so none is missed). A reset closes the
  // stream's writable side too, so only the Request knows whether its response was complete: once
  // it is, connectionLost() does nothing. On a guarded session this rides on the guard's listener.
  if (!request.finished) whenStreamCloses(stream, () => connectionLost(request));
}
