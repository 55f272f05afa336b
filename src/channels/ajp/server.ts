// The AJP13 channel: serves a Site to Apache mod_proxy_ajp (and other AJP web servers) on persistent
// connections, one request at a time per connection, with CPING/CPONG between requests.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { RequestHeaders, fieldPairs } from '../../http/headers.js';
import { hasControlChars, isToken, parseContentLength } from '../../http/syntax.js';
import { encodePathSegment, splitPath, type Request, type RequestParts, type ResponseSink } from '../../request.js';
import type { Site } from '../../site.js';
import { hostAddress } from '../address.js';
import { connectionLost, serveParts, standIn, type Refusal } from '../boundary.js';
import type { Endpoint } from '../endpoint.js';
import { isLoopback, parseTrustedPeers, peerAllowed } from '../gateway.js';
import { ListenError, bindServer, capConnectionsPerIp, type ChannelServer, type Listener } from '../listen.js';
import { mountSegments, mountedLength } from '../mount.js';
import { inRanges } from '../../util/cidr.js';
import {
  AJP_CPING,
  AJP_DEFAULT_PACKET_SIZE,
  AJP_FORWARD_REQUEST,
  AJP_MAX_PACKET_SIZE,
  cpongPacket,
  endResponsePacket,
  getBodyChunkPacket,
  isAjpError,
  parseBodyChunk,
  parseForwardRequest,
  readFrame,
  sendBodyChunkPackets,
  sendHeadersPacket,
  type AjpForwardRequest,
} from './packets.js';

/**
 * `req_attribute` names accepted by default: what Apache mod_proxy_ajp sends (AJP_REMOTE_PORT,
 * AJP_LOCAL_ADDR, and AJP_SSL_PROTOCOL under TLS). Anything else is refused with 403 (the Ghostcat
 * lesson, CVE-2020-1938; SECURITY.md §5.1): attributes are never trusted to name paths or files.
 */
export const DEFAULT_AJP_REQUEST_ATTRIBUTES: readonly string[] = [
  'AJP_REMOTE_PORT',
  'AJP_LOCAL_ADDR',
  'AJP_SSL_PROTOCOL',
];

/** Options of {@link createAjpServer} and {@link listenAjp}. */
export interface AjpOptions {
  /** Shared secret every request must carry (attribute 0x0C); null for none. Required off loopback. Default null. */
  secret?: string | null;
  /** Mount point: the leading path the web server forwards under (`ProxyPass /app ajp://...`). Default: none. */
  mount?: string | null;
  /** `req_attribute` names accepted. Default {@link DEFAULT_AJP_REQUEST_ATTRIBUTES}. */
  allowedRequestAttributes?: readonly string[];
  /** Packet size both ends agreed on (Apache `ProxyIOBufferSize`). Default 8192; at most 65536. */
  packetSize?: number;
  /** How long an idle pooled connection stays open. Default 5 minutes (Apache keeps its pool). */
  idleTimeout?: number;
  /**
   * CIDRs of web servers allowed to connect besides loopback and UNIX peers (`--gateway-trusted-peers`);
   * others are disconnected on accept. Default empty: any peer that reaches the socket (off loopback
   * the secret is then the guard).
   */
  trustedPeers?: readonly string[];
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * The parts of the Request a FORWARD_REQUEST describes (all but its body and length), or why it is
 * refused: 403 without the shared secret or with an attribute not allowed, 400 for a malformed method,
 * header or control character, 414, 431. With `mount`, a path under it has the mount as its prepath
 * (`mount.ts`, as for the CGI-family gateways). Pure.
 */
export function forwardRequestParts(
  fr: AjpForwardRequest,
  options: {
    secret: Buffer | null;
    allowed: ReadonlySet<string>;
    mount: string[] | null;
    maxHeaderCount: number;
    maxUriLength: number;
  },
): Refusal | RequestParts {
  if (options.secret) {
    const given = fr.attributes.get('secret');
    if (given === undefined || !timingSafeEqual(digest(given), options.secret))
      return { status: 403, detail: 'The AJP request does not carry the shared secret.' };
  }
  for (const [name] of fr.requestAttributes) {
    if (!options.allowed.has(name))
      return { status: 403, detail: 'The AJP request carries a request attribute that is not allowed.' };
  }
  if (!isToken(fr.method)) return { status: 400, detail: 'The AJP request method is not a token.' };
  if (fr.headers.length > options.maxHeaderCount)
    return { status: 431, detail: `The request has more than ${options.maxHeaderCount} header fields.` };
  for (const [name, value] of fr.headers) {
    if (!isToken(name) || hasControlChars(value))
      return { status: 400, detail: 'The AJP request carries a malformed header.' };
  }
  const query = fr.attributes.get('query_string') ?? '';
  for (const value of [
    fr.reqUri,
    query,
    fr.protocol,
    fr.remoteAddr ?? '',
    fr.serverName ?? '',
    ...fr.attributes.values(),
  ]) {
    if (hasControlChars(value)) return { status: 400, detail: 'The AJP request holds control characters.' };
  }
  if (!fr.reqUri.startsWith('/')) return { status: 400, detail: 'The AJP request URI is not a path.' };
  // req_uri arrives decoded: re-encode it segment by segment so the Request sees a normal target.
  const path = fr.reqUri.split('/').map(encodePathSegment).join('/');
  const uri = query ? `${path}?${query}` : path;
  if (uri.length > options.maxUriLength)
    return { status: 414, detail: `The request URI is longer than ${options.maxUriLength} bytes.` };
  const headers = new RequestHeaders(fr.headers);
  if (!headers.has('host') && fr.serverName) {
    const def = fr.isSsl ? 443 : 80;
    headers.set('Host', fr.serverPort === def ? fr.serverName : `${fr.serverName}:${fr.serverPort}`);
  }
  const attr = new Map(fr.requestAttributes);
  const remotePort = Number(attr.get('AJP_REMOTE_PORT') ?? 0) || 0;
  const client = hostAddress(fr.remoteAddr, remotePort);
  const local = hostAddress(attr.get('AJP_LOCAL_ADDR') ?? fr.serverName, fr.serverPort);
  const parts: RequestParts = {
    method: fr.method,
    uri,
    clientproto: fr.protocol,
    headers,
    client,
    local,
    secure: fr.isSsl,
    channel: 'ajp',
  };
  const segments = options.mount ? splitPath(path.slice(1)) : null;
  const mounted = segments && options.mount ? mountedLength(segments, options.mount) : 0;
  if (segments && mounted > 0) {
    parts.prepath = segments.slice(0, mounted);
    parts.postpath = segments.slice(mounted);
  }
  return parts;
}

/**
 * Refuses to serve AJP where anyone could reach it without the secret (SECURITY.md §5.1; Ghostcat,
 * CVE-2020-1938): a TCP endpoint with no interface is bound to 127.0.0.1; an explicit non-loopback
 * interface needs `secret`. Returns the endpoint to bind.
 */
export function ajpEndpoint(ep: Endpoint, secret: string | null | undefined): Endpoint {
  if (ep.type === 'ssl')
    throw new ListenError('AJP does not run over TLS; use tcp:PORT:interface=127.0.0.1 or unix:/path', 'EAJPSSL');
  if (ep.type === 'fd' || ep.type === 'systemd')
    throw new ListenError(
      'AJP listens on a socket of its own; use tcp:PORT:interface=127.0.0.1 or unix:/path',
      'EAJPFD',
    );
  if (ep.type === 'unix') return ep;
  if (ep.interface === undefined) return { ...ep, interface: '127.0.0.1' };
  if (!isLoopback(ep.interface) && !secret) {
    throw new ListenError(
      `refusing to serve AJP on ${ep.interface}:${ep.port} without a secret; bind to 127.0.0.1 (tcp:${ep.port}:interface=127.0.0.1) or a UNIX socket, or set --ajp-secret and the same secret= on the web server`,
      'EAJPSECRET',
    );
  }
  return ep;
}

/** What one connection is doing. */
type State = 'idle' | 'request' | 'closed';

/**
 * One AJP connection: a small state machine over framed packets. Between requests only
 * FORWARD_REQUEST and CPING are accepted; during a request only the body packets the container
 * asked for (plus the one the web server pushes unasked). Anything else, and any malformed or
 * oversized packet, closes the connection (SECURITY.md §5.2). Buffered input is bounded by one
 * packet; the body is only requested when the resource reads it. A packet that starts arriving
 * between requests must be whole within `headerTimeout` (20 s) of its first byte, or the connection
 * closes (pinned in test/channels/ajp/server.test.ts).
 */
class AjpConnection {
  #state: State = 'idle';
  #buffer: Buffer = Buffer.alloc(0);
  /** The Request being answered (set by the channel boundary before the Site runs). */
  request: Request | null = null;
  #body: Readable | null = null;
  /** Body packets the web server will still send (pushed first chunk, answers to GET_BODY_CHUNK). */
  #expectedBodyPackets = 0;
  /** Body bytes still to come (Infinity for a chunked body); 0 once the body is complete. */
  #bodyRemaining = 0;
  #wantBody = false;
  #reuse = true;
  #timer: NodeJS.Timeout | null = null;
  /** Whether the timer is the head deadline of a packet that started arriving while idle. */
  #headArmed = false;

  constructor(
    readonly socket: Socket,
    readonly site: Site,
    readonly options: {
      secret: Buffer | null;
      allowed: ReadonlySet<string>;
      mount: string[] | null;
      packetSize: number;
      idleTimeout: number;
    },
    readonly idle: Set<AjpConnection>,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
    this.#goIdle();
  }

  #armTimer(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.socket.destroy(), ms);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #goIdle(): void {
    this.#state = 'idle';
    this.#headArmed = false;
    this.idle.add(this);
    this.#armTimer(this.options.idleTimeout);
  }

  #fail(): void {
    this.#state = 'closed';
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      const frame = readFrame(this.#buffer, offset, this.options.packetSize);
      if ('need' in frame) break;
      if (isAjpError(frame)) {
        this.#fail();
        return;
      }
      offset = frame.next;
      this.#onPacket(frame.payload);
      if ((this.#state as State) === 'closed') return;
    }
    this.#buffer = offset === this.#buffer.length ? Buffer.alloc(0) : Buffer.from(this.#buffer.subarray(offset));
    // A packet on its way while idle must arrive whole within headerTimeout of its first byte,
    // however slowly it keeps coming: the deadline is armed once, not at every piece.
    if (this.#state !== 'idle') return;
    if (this.#buffer.length && !this.#headArmed) {
      this.#headArmed = true;
      this.#armTimer(this.site.limits.headerTimeout);
    } else if (!this.#buffer.length && this.#headArmed) {
      this.#headArmed = false;
      this.#armTimer(this.options.idleTimeout);
    }
  }

  #onPacket(payload: Buffer): void {
    if (this.#expectedBodyPackets > 0) {
      this.#expectedBodyPackets--;
      this.#onBodyPacket(payload);
      return;
    }
    // An empty data packet unasked is harmless: lighttpd sends one for `Content-Length: 0`.
    if (payload.length === 0 || (payload.length === 2 && payload.readUInt16BE(0) === 0)) return;
    if (this.#state !== 'idle') {
      this.#fail();
      return;
    }
    const code = payload[0];
    if (code === AJP_CPING && payload.length === 1) {
      this.socket.write(cpongPacket());
      return;
    }
    if (code !== AJP_FORWARD_REQUEST) {
      this.#fail();
      return;
    }
    this.#startRequest(payload);
  }

  #startRequest(payload: Buffer): void {
    const fr = parseForwardRequest(payload);
    if (isAjpError(fr)) {
      this.#fail();
      return;
    }
    this.idle.delete(this);
    this.#clearTimer();
    this.#state = 'request';
    this.#reuse = true;
    const limits = this.site.limits;
    const { maxHeaderCount, maxUriLength } = limits;
    const checked = forwardRequestParts(fr, { ...this.options, maxHeaderCount, maxUriLength });

    const headers = new RequestHeaders(fr.headers);
    const lengthText = headers.get('content-length');
    const chunked = /chunked/i.test(headers.get('transfer-encoding') ?? '');
    const declared = parseContentLength(lengthText);
    if (lengthText !== undefined && declared === null) {
      this.#fail();
      return;
    }
    // Content-Length > 0: the web server pushes the first chunk unasked. Chunked: nothing is pushed.
    this.#bodyRemaining = declared !== null ? declared : chunked ? Infinity : 0;
    this.#expectedBodyPackets = declared !== null && declared > 0 ? 1 : 0;
    this.#wantBody = false;
    this.#body = this.#bodyRemaining > 0 ? this.#makeBody() : null;
    if (this.#expectedBodyPackets) this.#armTimer(this.site.limits.bodyIdleTimeout);

    const sink = this.#sink();
    if ('status' in checked) {
      this.#reuse = false;
      serveParts(this.site, standIn('ajp', { body: this.#body }), sink, checked, this);
      return;
    }
    checked.body = this.#body;
    checked.contentLength = declared;
    serveParts(this.site, checked, sink, null, this);
  }

  #makeBody(): Readable {
    const body = new Readable({
      highWaterMark: 64 * 1024,
      read: () => {
        this.#wantBody = true;
        this.#askForBody();
      },
    });
    // A body cut short is destroyed with an error; when the resource never reads it, nobody else
    // listens, and the error must not become an uncaught exception.
    body.on('error', () => {});
    return body;
  }

  #askForBody(): void {
    if (!this.#wantBody || this.#expectedBodyPackets > 0 || this.#bodyRemaining === 0 || this.#state !== 'request')
      return;
    const ask = Math.min(
      this.options.packetSize - 6,
      this.#bodyRemaining === Infinity ? this.options.packetSize - 6 : this.#bodyRemaining,
    );
    this.#expectedBodyPackets = 1;
    this.socket.write(getBodyChunkPacket(ask));
    this.#armTimer(this.site.limits.bodyIdleTimeout);
  }

  #onBodyPacket(payload: Buffer): void {
    if (this.#state !== 'request' || !this.#body || this.#body.destroyed) {
      // The response already ended (or the body was dropped): discard the late chunk.
      return;
    }
    this.#clearTimer();
    const data = parseBodyChunk(payload);
    if (data.length === 0) {
      if (this.#bodyRemaining !== Infinity && this.#bodyRemaining > 0) {
        this.#body.destroy(new Error('The web server ended the body before Content-Length'));
        this.#bodyRemaining = 0;
        this.#reuse = false;
        return;
      }
      this.#bodyRemaining = 0;
      this.#body.push(null);
      return;
    }
    if (data.length > this.#bodyRemaining) {
      this.#fail();
      return;
    }
    this.#bodyRemaining -= data.length;
    this.#wantBody = this.#body.push(Buffer.from(data));
    if (this.#bodyRemaining === 0) this.#body.push(null);
    else this.#askForBody();
  }

  #sink(): ResponseSink {
    const socket = this.socket;
    const size = this.options.packetSize;
    let ended = false;
    return {
      writeHead: (code, reason, flat) => {
        const packet = sendHeadersPacket(code, reason, fieldPairs(flat), size);
        if (!packet) {
          const uri = this.request?.uri ?? '?';
          const fit = `do not fit one ${size}-byte packet; connection dropped`;
          this.site.logError(`AJP: the response headers for ${uri} ${fit}`);
          this.#fail();
          return;
        }
        socket.write(packet);
      },
      write: (chunk) => {
        if (this.#state === 'closed') return false;
        let ok = true;
        for (const p of sendBodyChunkPackets(chunk, size)) ok = socket.write(p);
        return ok;
      },
      end: (chunk) => {
        if (ended) return;
        ended = true;
        if (this.#state === 'closed') return;
        if (chunk?.length) for (const p of sendBodyChunkPackets(chunk, size)) socket.write(p);
        this.#endRequest();
      },
      endText(text) {
        this.end(Buffer.from(text));
      },
      onDrain: (listener) => void socket.once('drain', listener),
      abort: () => this.#fail(),
      closeAfterResponse: () => {
        this.#reuse = false;
      },
      queuedBytes: () => null,
    };
  }

  #endRequest(): void {
    // A body the resource did not read to its end would leave packets in flight: do not reuse.
    const unread = this.#bodyRemaining > 0;
    if (unread) this.#body?.destroy();
    const reuse = this.#reuse && !unread;
    this.socket.write(endResponsePacket(reuse));
    this.request = null;
    this.#body = null;
    if (!reuse) {
      this.#state = 'closed';
      this.socket.end();
      return;
    }
    this.#goIdle();
  }

  #onClose(): void {
    this.#state = 'closed';
    this.#clearTimer();
    this.idle.delete(this);
    this.#body?.destroy();
    if (this.request) connectionLost(this.request, new Error('The AJP connection closed'));
    this.request = null;
  }

  /** Closes the connection if it is between requests (shutdown). */
  closeIfIdle(): void {
    if (this.#state === 'idle' && this.#buffer.length === 0) this.#fail();
  }
}

/**
 * A server speaking AJP13 for `site` (a net.Server and its `closeIdle`).
 *
 * ```ts
 * const server = createAjpServer(site, { secret: process.env.AJP_SECRET });
 * ```
 */
export function createAjpServer(site: Site, options: AjpOptions = {}): ChannelServer {
  const packetSize = options.packetSize ?? AJP_DEFAULT_PACKET_SIZE;
  if (!Number.isInteger(packetSize) || packetSize < 1024 || packetSize > AJP_MAX_PACKET_SIZE) {
    throw new RangeError(`AJP packet size must be 1024 to ${AJP_MAX_PACKET_SIZE}`);
  }
  const mount = options.mount ? mountSegments(options.mount) : null;
  const settings = {
    secret: options.secret ? digest(options.secret) : null,
    allowed: new Set(options.allowedRequestAttributes ?? DEFAULT_AJP_REQUEST_ATTRIBUTES),
    mount: mount?.length ? mount : null,
    packetSize,
    idleTimeout: options.idleTimeout ?? 5 * 60_000,
  };
  const idle = new Set<AjpConnection>();
  const trusted = options.trustedPeers?.length ? parseTrustedPeers(options.trustedPeers) : null;
  const server = createServer((socket) => {
    if (trusted && !peerAllowed(socket, trusted)) {
      socket.destroy();
      return;
    }
    new AjpConnection(socket, site, settings, idle);
  });
  // The front end (Apache on this host, or a trusted peer) carries every client over its own address.
  const exempt = (ip: string) => isLoopback(ip) || site.isUncapped(ip) || (trusted !== null && inRanges(trusted, ip));
  capConnectionsPerIp(server, site.limits.maxConnectionsPerIp, exempt);
  return {
    server,
    closeIdle: () => {
      for (const c of [...idle]) c.closeIfIdle();
    },
  };
}

/**
 * Serves `site` over AJP13 on `ep`. TCP endpoints without an interface bind to 127.0.0.1; a
 * non-loopback interface without `secret` is refused with a ListenError (SECURITY.md §5.1).
 */
export async function listenAjp(site: Site, ep: Endpoint, options: AjpOptions = {}): Promise<Listener> {
  const bound = ajpEndpoint(ep, options.secret);
  return bindServer(createAjpServer(site, options), bound, { scheme: 'ajp' });
}
