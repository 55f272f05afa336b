// What the FastCGI and SCGI listeners share: who may connect (loopback, UNIX sockets, or a trusted
// peer list), their options, and turning raw params into the strings cgi-params.ts reads.
import { BlockList, isIP, type Server, type Socket } from 'node:net';
import { CidrError, parseCidrs } from '../util/cidr.js';
import { Readable } from 'node:stream';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import { ListenError } from './listen.js';

/** Options of the FastCGI and SCGI listeners. */
export interface GatewayOptions {
  /**
   * The mount point to re-split the request path on, for front ends whose SCRIPT_NAME is not usable
   * (Apache `ProxyPass` to SCGI sends the whole path as SCRIPT_NAME). Default: none (SCRIPT_NAME and
   * PATH_INFO are trusted).
   */
  mount?: string | null;
  /**
   * CIDRs (`10.0.0.0/8`, `192.0.2.7`, `fd00::/8`) whose TCP connections are accepted. Default empty:
   * loopback peers only. UNIX-socket peers are always accepted (the socket file's mode guards them).
   */
  trustedPeers?: readonly string[];
  /** Idle time allowed between requests on a kept-alive connection. Default 60 s. */
  idleTimeout?: number;
  /** FastCGI requests in flight on one connection (multiplexing). Default 16 (SECURITY.md §5.2). */
  maxConcurrent?: number;
  /**
   * Connections open at once on the listener; past it new ones are closed on accept. Default 1024.
   * No per-IP cap applies: behind a front end every client shares its address (SECURITY.md §3.3).
   */
  maxConnections?: number;
  /**
   * FastCGI only: the front-end addresses of `FCGI_WEB_SERVER_ADDRS` (FastCGI spec §3.2). When
   * given, a TCP peer must be one of them (loopback included only if listed), in place of the
   * loopback and `trustedPeers` rule; UNIX-socket peers are unaffected. Default: not set.
   */
  webServerAddrs?: readonly string[] | null;
}

/** A trusted-peers value that is not an address or CIDR (or, from FCGI_WEB_SERVER_ADDRS, not an address): the one {@link CidrError}. */
export { CidrError as TrustedPeerError } from '../util/cidr.js';

/** Parses CIDRs into a BlockList (IPv4-mapped IPv6 peers match their IPv4 ranges). Throws a CidrError. */
export function parseTrustedPeers(cidrs: readonly string[]): BlockList {
  return parseCidrs(cidrs);
}

/**
 * Parses `FCGI_WEB_SERVER_ADDRS` (FastCGI spec §3.2): comma-separated IP addresses, blanks around
 * them ignored. Throws a TrustedPeerError naming an entry that is not an address.
 *
 * ```ts
 * parseWebServerAddrs('127.0.0.1, 10.0.0.5') // ['127.0.0.1', '10.0.0.5']
 * ```
 */
export function parseWebServerAddrs(text: string): string[] {
  const addrs = text
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  for (const a of addrs)
    if (!isIP(a)) throw new CidrError(a, 'an IP address (a comma-separated list such as 127.0.0.1,10.0.0.5)');
  return addrs;
}

/**
 * Whether `host` is a loopback address: 127.0.0.0/8 (also IPv4-mapped, `::ffff:127.0.0.2`), `::1`, or
 * the name `localhost` a listen interface may give. A peer address (`socket.remoteAddress`) and a
 * listen interface are judged alike. Pinned by test/channels/gateway.test.ts.
 */
export function isLoopback(host: string): boolean {
  if (host === '::1' || host === 'localhost') return true;
  const h = host.startsWith('::ffff:') ? host.slice(7) : host;
  return h.startsWith('127.') && isIP(h) === 4;
}

/**
 * Refuses a gateway listener that strangers could reach (SECURITY.md §5.1): a TCP endpoint on a
 * non-loopback interface (or on all interfaces) needs an explicit trusted-peers list. TLS endpoints
 * make no sense for a gateway. Throws a ListenError saying what to do.
 */
export function checkGatewayEndpoint(kind: string, ep: Endpoint, trustedPeers: readonly string[]): void {
  // An inherited socket is checked once it is known what it is (checkInheritedSocket).
  if (ep.type === 'unix' || ep.type === 'fd' || ep.type === 'systemd') return;
  if (ep.type === 'ssl')
    throw new ListenError(
      `--${kind} cannot use ${formatEndpoint(ep)}: gateways speak to a local front end over tcp: or unix:, not TLS`,
      'EGATEWAY',
    );
  const iface = ep.interface;
  if (iface !== undefined && isLoopback(iface)) return;
  if (trustedPeers.length) return;
  const where = iface === undefined ? 'all interfaces' : iface;
  throw new ListenError(
    `--${kind} ${formatEndpoint(ep)} listens on ${where}; add :interface=127.0.0.1, use a unix: socket, or name the front ends with --gateway-trusted-peers CIDR`,
    'EGATEWAY',
  );
}

/**
 * The accept-time check (SECURITY.md §5.1): UNIX peers pass, TCP peers must be loopback or in the
 * trusted list; with `only` (FCGI_WEB_SERVER_ADDRS, see parseOnlyPeers), TCP peers must be in it
 * instead. Returns false for a socket that must be dropped.
 */
export function peerAllowed(socket: Socket, trusted: BlockList | null, only: BlockList | null = null): boolean {
  const ip = socket.remoteAddress;
  if (ip === undefined) return socket.remoteFamily === undefined;
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (only) return only.check(ip, family);
  if (isLoopback(ip)) return true;
  if (!trusted) return false;
  return trusted.check(ip, family);
}

/** Exact addresses as a BlockList for {@link peerAllowed}'s `only` (IPv4-mapped IPv6 peers match their IPv4 entries). */
export function parseOnlyPeers(addrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const a of addrs) list.addAddress(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  return list;
}

/**
 * The start-time check for an inherited listening socket (`fd:N`), once it is known what it is: a
 * TCP socket bound beyond loopback needs `--gateway-trusted-peers` or FCGI_WEB_SERVER_ADDRS
 * (SECURITY.md §5.1), as a `tcp:` endpoint would. Throws a ListenError saying what to do.
 */
export function checkInheritedSocket(kind: string, ep: Endpoint, server: Server, explicitPeers: boolean): void {
  const address = server.address();
  if (!address || typeof address !== 'object' || isLoopback(address.address) || explicitPeers) return;
  throw new ListenError(
    `--${kind} ${formatEndpoint(ep)} is a TCP socket on ${address.address}:${address.port}; name the front ends with --gateway-trusted-peers CIDR or FCGI_WEB_SERVER_ADDRS, or have the front end bind 127.0.0.1 or a UNIX socket`,
    'EGATEWAY',
  );
}

/**
 * Params as strings: `HTTP_*` values are decoded as latin1 (what node:http does with header bytes);
 * every other value as UTF-8 (paths and names the front end decoded). A later duplicate replaces an
 * earlier one. `into` is a new Map unless given (SCGI hands cgi-params' CgiVariables straight in).
 */
export function paramsToMap(pairs: ReadonlyArray<readonly [string, Buffer]>): Map<string, string>;
export function paramsToMap<T extends { set(name: string, value: string): unknown }>(
  pairs: ReadonlyArray<readonly [string, Buffer]>,
  into: T,
): T;
export function paramsToMap(
  pairs: ReadonlyArray<readonly [string, Buffer]>,
  into: { set(name: string, value: string): unknown } = new Map<string, string>(),
): unknown {
  for (const [name, value] of pairs) into.set(name, value.toString(name.startsWith('HTTP_') ? 'latin1' : 'utf8'));
  return into;
}

/**
 * A request body fed by a channel, with backpressure: `feed` returns false once the reader has
 * enough buffered, and `onWanted` runs when it asks for more (the channel then resumes its socket).
 */
export class GatewayBody extends Readable {
  #onWanted: () => void;

  constructor(onWanted: () => void) {
    super({ highWaterMark: 64 * 1024 });
    this.#onWanted = onWanted;
    // A body the resource never reads is destroyed with an error when the front end goes away;
    // with no reader attached that error must not become an uncaught exception.
    this.on('error', () => {});
  }

  override _read(): void {
    this.#onWanted();
  }

  /** Adds body bytes; false when the reader is behind and the channel should pause. */
  feed(chunk: Buffer): boolean {
    if (this.destroyed) return true;
    return this.push(chunk);
  }

  /** Marks the end of the body. */
  close(): void {
    if (!this.destroyed) this.push(null);
  }
}
