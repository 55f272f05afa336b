// The trusted-proxy list (SECURITY.md §6.4) and the reading of forwarding headers it allows:
// X-Forwarded-For/-Proto/-Host/-Port/-Prefix, RFC 7239 Forwarded, and web2's X-App-Location/-Scheme.
import { type BlockList, isIP } from 'node:net';
import { parseCidrs, plainIp } from '../util/cidr.js';
import type { Address, Request } from '../request.js';
import { hasCtl, isHost } from '../http/syntax.js';

/** Host values accepted from a forwarding header (the same shape as SECURITY.md §6.3's Host rule). */
const HOST_PORT = /^\[?(.*?)\]?(?::(\d+))?$/;

/** Thrown for a CIDR that cannot be parsed; the CLI turns it into a one-line error. */
export { CidrError } from '../util/cidr.js';

/**
 * A list of IP ranges (CIDR or single addresses), checked with `contains(ip)`.
 *
 * ```ts
 * const trusted = new TrustedProxies(['127.0.0.1', '10.0.0.0/8']);
 * trusted.contains('10.1.2.3'); // true
 * ```
 */
export class TrustedProxies {
  readonly ranges: readonly string[];
  #list: BlockList;

  /** Throws a CidrError for an entry that is not an address or `address/prefix` (src/util/cidr.ts). */
  constructor(ranges: Iterable<string> = []) {
    const kept = [...ranges];
    this.#list = parseCidrs(kept);
    this.ranges = kept.map((text) => text.trim());
  }

  /** An empty list trusts nobody (the default). */
  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /** Whether `ip` falls in one of the ranges. Non-IP text (UNIX sockets, `unknown`) is never trusted. */
  contains(ip: string | null | undefined): boolean {
    if (!ip) return false;
    const plain = plainIp(ip);
    const family = isIP(plain);
    if (!family) return false;
    return this.#list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** The TCP peers of requests whose client address was replaced, so later checks still see the real peer. */
const peers = new WeakMap<Request, Address | null>();

/** The TCP peer of `request`: what the channel reported, even after a trusted proxy named the client. */
export function tcpPeer(request: Request): Address | null {
  return peers.has(request) ? peers.get(request)! : request.getClientAddress();
}

/** Whether `request` came straight from a peer in `trusted`. UNIX-socket peers are trusted only when `trustUnix`. */
export function fromTrustedPeer(request: Request, trusted: TrustedProxies, trustUnix = false): boolean {
  const peer = tcpPeer(request);
  if (!peer) return false;
  if (peer.type === 'UNIX') return trustUnix;
  return trusted.contains(peer.host);
}

/** Splits a comma-separated header list (several fields concatenated in order) into trimmed items. */
function listItems(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) for (const item of v.split(',')) if (item.trim()) out.push(item.trim());
  return out;
}

/** Strips the port (and brackets) of an X-Forwarded-For item or a Forwarded `for=` value. */
function nodeIp(item: string): string {
  let s = item.trim();
  if (s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
  if (s.startsWith('[')) return s.slice(1, s.indexOf(']') === -1 ? undefined : s.indexOf(']'));
  if (isIP(s)) return s;
  const colon = s.lastIndexOf(':');
  return colon > 0 && s.indexOf(':') === colon ? s.slice(0, colon) : s;
}

/**
 * The client IP from a chain of hops (oldest first) and the TCP peer: walk from the right, skipping
 * hops in `trusted`; the first untrusted (or the leftmost) one is the client (SECURITY.md §6.4).
 *
 * | chain                  | peer      | trusted        | client   |
 * |------------------------|-----------|----------------|----------|
 * | `1.2.3.4`              | 10.0.0.1  | 10.0.0.0/8     | 1.2.3.4  |
 * | `6.6.6.6, 1.2.3.4`     | 10.0.0.1  | 10.0.0.0/8     | 1.2.3.4  |
 * | `1.2.3.4, 10.0.0.2`    | 10.0.0.1  | 10.0.0.0/8     | 1.2.3.4  |
 * | `1.2.3.4`              | 5.5.5.5   | 10.0.0.0/8     | 5.5.5.5  |
 */
export function clientFromChain(chain: readonly string[], peer: string, trusted: TrustedProxies): string {
  if (!trusted.contains(peer)) return peer;
  let client = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    const ip = nodeIp(chain[i]!);
    if (!isIP(plainIp(ip))) return client;
    client = plainIp(ip);
    if (!trusted.contains(client)) return client;
  }
  return client;
}

/** One element of an RFC 7239 `Forwarded` header: its parameters, names lower-cased, quotes removed. */
export function parseForwarded(values: readonly string[]): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const value of values) {
    // Elements are comma-separated, pairs semicolon-separated; quoted strings may hold either.
    for (const element of value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
      const params: Record<string, string> = {};
      for (const pair of element.match(/(?:[^;"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
        const eq = pair.indexOf('=');
        if (eq === -1) continue;
        const name = pair.slice(0, eq).trim().toLowerCase();
        let v = pair.slice(eq + 1).trim();
        if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
        params[name] = v;
      }
      out.push(params);
    }
  }
  return out;
}

/** What the forwarding headers say about the public side of a request. */
export interface PublicView {
  /** The client IP, or null to keep the TCP peer. */
  client: string | null;
  /** `http` or `https`, or null to keep the channel's. */
  scheme: 'http' | 'https' | null;
  /** `host[:port]`, validated, or null. */
  host: string | null;
  /** The mount path the front end stripped, as decoded segments (`/app/` → `['app']`), or null. */
  prefix: string[] | null;
}

function lastOf(request: Request, name: string): string | undefined {
  const values = listItems(request.requestHeaders.getAll(name));
  return values.at(-1);
}

function scheme(value: string | undefined): 'http' | 'https' | null {
  const v = value?.trim().toLowerCase();
  return v === 'http' || v === 'https' ? v : null;
}

/**
 * Splits a mount path into decoded segments: `/app/` and `/app` give `['app']`, `/` gives `[]`.
 * Returns null for a value that is not an absolute path (or holds `.`/`..` segments or controls).
 */
export function prefixSegments(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (!v.startsWith('/') || hasCtl(v) || /[?#\\]/.test(v)) return null;
  const segments: string[] = [];
  for (const raw of v.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === '.' || seg === '..' || seg.includes('/')) return null;
    segments.push(seg);
  }
  return segments;
}

/**
 * Reads the forwarding headers of `request`. Call only for a trusted peer. Each value is validated:
 * a Host must look like a host, a scheme must be `http` or `https`, a prefix an absolute path;
 * anything else is ignored. Where several headers say the same thing, the order is: X-App-* (set
 * by the front end's own configuration), then `Forwarded`, then X-Forwarded-*. For hosts, schemes
 * and prefixes the last (nearest) value of a list wins.
 */
export function readForwarded(request: Request, trusted: TrustedProxies): PublicView {
  const view: PublicView = { client: null, scheme: null, host: null, prefix: null };
  const forwarded = parseForwarded(request.requestHeaders.getAll('forwarded'));
  const peer = tcpPeer(request);
  const peerIp = peer && peer.type !== 'UNIX' ? peer.host : null;

  const xff = listItems(request.requestHeaders.getAll('x-forwarded-for'));
  const fwdFor = forwarded.map((e) => e.for).filter((v): v is string => v !== undefined);
  const chain = fwdFor.length ? fwdFor : xff;
  if (chain.length) {
    // A trusted UNIX-socket peer is the front end itself: the walk starts at the chain's last hop.
    const client = peerIp
      ? clientFromChain(chain, peerIp, trusted)
      : clientFromChain(chain.slice(0, -1), nodeIp(chain.at(-1)!), trusted);
    if (isIP(client)) view.client = client;
  }

  const last = forwarded.at(-1);
  view.scheme =
    scheme(request.requestHeaders.get('x-app-scheme')) ??
    scheme(last?.proto) ??
    scheme(lastOf(request, 'x-forwarded-proto'));

  let host = last?.host ?? lastOf(request, 'x-forwarded-host');
  if (host !== undefined && (host === '' || !isHost(host))) host = undefined;
  const xfPort = lastOf(request, 'x-forwarded-port');
  if (host !== undefined && xfPort && /^\d{1,5}$/.test(xfPort) && !/:\d+$/.test(host)) host = `${host}:${xfPort}`;
  if (host !== undefined) {
    const port = HOST_PORT.exec(host)![2];
    if (port !== undefined && Number(port) > 65535) host = undefined;
  }
  view.host = host ?? null;

  view.prefix =
    prefixSegments(request.requestHeaders.get('x-app-location')) ??
    prefixSegments(lastOf(request, 'x-forwarded-prefix'));
  return view;
}

/** The scheme's default port. */
export function defaultPort(secure: boolean): number {
  return secure ? 443 : 80;
}

/**
 * Applies a public view to `request`: client address, scheme and host (through `setHost`), and the
 * mount prefix pushed onto `prepath` so `prePathURL()`, `URLPath()` and redirects built from
 * `prepath` carry it. Remembers the TCP peer for {@link tcpPeer}.
 */
export function applyPublicView(request: Request, view: PublicView): void {
  if (!peers.has(request)) peers.set(request, request.getClientAddress());
  if (view.client) {
    request.setClientAddress({ type: view.client.includes(':') ? 'INET6' : 'INET', host: view.client, port: 0 });
  }
  if (view.scheme || view.host) {
    const secure = view.scheme ? view.scheme === 'https' : request.isSecure();
    const hostText = view.host ?? request.getHeader('host') ?? '';
    const m = HOST_PORT.exec(hostText);
    const host = m?.[1] || request.getRequestHostname();
    // A new scheme without a host keeps the host name; its port is the new scheme's default unless named.
    const port = m?.[2] ? Number(m[2]) : defaultPort(secure);
    request.setHost(host, port, secure);
  }
  if (view.prefix?.length) request.prepath.push(...view.prefix);
}

/** Options of {@link trustForwarded}. */
export interface TrustOptions {
  /** Peers whose forwarding headers are believed. Default: none. */
  trusted: TrustedProxies;
  /** Believe a peer on a UNIX socket (a front end on the same machine). Default false. */
  trustUnix?: boolean;
}

/**
 * The rule `--trust-proxy` installs: when the TCP peer is trusted, apply what its forwarding headers
 * say; otherwise change nothing. Runs at most once per request. Returns whether anything was applied.
 * Pinned by test/proxy/trusted-proxies.test.ts ("untrusted peer changes nothing").
 */
export function trustForwarded(request: Request, options: TrustOptions): boolean {
  if (peers.has(request)) return false;
  if (!fromTrustedPeer(request, options.trusted, options.trustUnix ?? false)) {
    peers.set(request, request.getClientAddress());
    return false;
  }
  applyPublicView(request, readForwarded(request, options.trusted));
  return true;
}
