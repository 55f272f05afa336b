// The reverse proxy's forwarding policy as pure functions from data to data: the fields of the request
// a backend gets, and which of the backend's response fields reach the client and how.
import { bracket, hasControlChars, listHas, unbracket } from '../http/syntax.js';
import { writeRequestHead } from '../http/head-writer.js';
import { encodePath } from '../request.js';
import { HOP_BY_HOP, connectionListed, stripHopByHop } from './hop-by-hop.js';

/**
 * One backend server. A UNIX-socket backend has `socketPath`; its `host` and `port` are then
 * `localhost` and 80, what its Host field and Location rewriting go by.
 */
export interface Backend {
  host: string;
  port: number;
  socketPath?: string;
}

/** What the forwarding policy reads of the client's request. */
export interface ClientRequest {
  method: string;
  /** The request's fields as received, in order, duplicates kept. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** The client's Host (the first), if any. */
  host: string | undefined;
  /** The body length when it is known; null for none or a body of unknown length. */
  contentLength: number | null;
  hasBody: boolean;
  /** The TCP peer's address; null over a Unix socket or a gateway that does not say. */
  peerIp: string | null;
  /** The client's address as the Site believes it (after `--trust-proxy`); null when it has none. */
  clientIp: string | null;
  /** Whether the client connection is TLS. */
  secure: boolean;
  /** Decoded segments of the public path the proxy is mounted at. */
  prepath: readonly string[];
}

/** The forwarding options of ReverseProxyResource that shape the backend request (defaults there). */
export interface ForwardingOptions {
  /** The backend's base path, without a trailing slash (`''` for `/`). */
  basePath: string;
  preserveHost: boolean;
  xForwarded: boolean;
  forwarded: boolean;
  forwardedPrefix: boolean;
  /**
   * `append`: X-Forwarded-For is the client's list plus the TCP peer. `client`: only the client's
   * address as the Site resolved it, for a backend that trusts this proxy alone (a personal server).
   */
  forwardedFor: 'append' | 'client';
}

/**
 * Request fields dropped from the client's before forwarding: those the proxy sets itself, `Proxy`
 * (httpoxy, SECURITY.md §2.4), and `X-Real-IP`, which backends take as the client's address and the
 * proxy does not vouch for.
 */
export const OWN_FIELDS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'expect',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-prefix',
  'x-forwarded-port',
  'proxy',
  'x-real-ip',
]);

/** Whether the request asks for a WebSocket (RFC 6455 §4.1: a GET with `Upgrade: websocket`). */
export function wantsWebSocket(method: string, upgrade: string | undefined): boolean {
  if (method !== 'GET' || upgrade === undefined) return false;
  return listHas(upgrade, 'websocket');
}

/**
 * The fields of the request sent to `backend` (SECURITY.md §6.5, §2.3, §3.1, §4.4):
 *
 * | client sends                                | backend gets                                         |
 * |---------------------------------------------|------------------------------------------------------|
 * | `Host: public`                              | `Host: backend:port` (`:80` omitted)                 |
 * | `Host: public`, option `preserveHost`       | `Host: public`                                       |
 * | hop-by-hop fields, fields named in `Connection` | nothing (`TE: trailers` stays; hop-by-hop.ts)    |
 * | `Upgrade: websocket` on a WebSocket route   | `Upgrade: websocket`, `Connection: Upgrade`          |
 * | `Upgrade: h2c`, `HTTP2-Settings`            | nothing                                              |
 * | a name holding `_`, `Proxy`, `X-Real-IP`, `Expect`, X-Forwarded-Proto/-Host/-Prefix/-Port | nothing |
 * | `X-Forwarded-For: a` from peer `p`          | `X-Forwarded-For: a, p`; with `xForwarded: false`, `a` |
 * | the same, option `forwardedFor: 'client'`   | `X-Forwarded-For: c`, the client the Site resolved   |
 * | any request                                 | `X-Forwarded-Proto`, `X-Forwarded-Host: public`      |
 * | mounted at `/app`, base path `/`            | `X-Forwarded-Prefix: /app`                           |
 * | `Forwarded: x` (option `forwarded`)         | `Forwarded: x`, then `Forwarded: x, for=p;proto=…;host="public"` |
 * | a body of known length                      | one `Content-Length`                                 |
 * | a body of unknown length (chunked, HTTP/2)  | `Transfer-Encoding: chunked` (not on a WebSocket route) |
 */
export function backendRequestFields(
  request: ClientRequest,
  backend: Backend,
  options: ForwardingOptions,
  websocket: boolean,
): Array<[string, string]> {
  const headers = stripHopByHop(request.headers, { keepUpgrade: websocket, drop: OWN_FIELDS });
  const publicHost = request.host;
  const host = options.preserveHost
    ? (publicHost ?? bracket(backend.host))
    : backend.port === 80
      ? bracket(backend.host)
      : `${bracket(backend.host)}:${backend.port}`;
  const xff: string[] = [];
  const prior: string[] = [];
  const out: Array<[string, string]> = [['Host', host]];
  for (const pair of headers) {
    const name = pair[0];
    // CGI- and WSGI-style backends map `-` to `_`, so `Transfer_Encoding` would be read there as the
    // real field: a name with `_` is dropped (SECURITY.md §2.3).
    if (name.includes('_')) continue;
    const n = name.length;
    if (n === 15 && name.toLowerCase() === 'x-forwarded-for') {
      xff.push(pair[1]);
      continue;
    }
    if (n === 9 && name.toLowerCase() === 'forwarded') prior.push(pair[1]);
    out.push(pair);
  }
  // Re-framed from the parsed request (SECURITY.md §3.1): one Content-Length, or chunked for a body
  // of unknown length whatever the method (a GET body would otherwise go unframed) and whatever
  // carried it (an HTTP/2 body without content-length has no Transfer-Encoding to go by).
  if (request.contentLength !== null) out.push(['Content-Length', String(request.contentLength)]);
  else if (request.hasBody && !websocket) out.push(['Transfer-Encoding', 'chunked']);
  const peerIp = request.peerIp;
  const proto = request.secure ? 'https' : 'http';
  if (options.xForwarded) {
    if (options.forwardedFor === 'client') xff.splice(0, xff.length, ...(request.clientIp ? [request.clientIp] : []));
    else if (peerIp) xff.push(peerIp);
    if (xff.length) out.push(['X-Forwarded-For', xff.join(', ')]);
    out.push(['X-Forwarded-Proto', proto]);
    if (publicHost) out.push(['X-Forwarded-Host', publicHost]);
    if (options.forwardedPrefix && options.basePath === '' && request.prepath.length) {
      out.push(['X-Forwarded-Prefix', encodePath(request.prepath)]);
    }
  } else if (xff.length) {
    out.push(['X-Forwarded-For', xff.join(', ')]);
  }
  if (options.forwarded) {
    const node = peerIp ? (peerIp.includes(':') ? `"[${peerIp}]"` : peerIp) : 'unknown';
    const element = `for=${node};proto=${proto}${publicHost ? `;host="${publicHost}"` : ''}`;
    out.push(['Forwarded', [...prior, element].join(', ')]);
  }
  return out;
}

/**
 * The request line and fields, CRLF CRLF included. Every value is checked for controls (SECURITY.md
 * §6.7), all in one test of them joined: a TypeError names the failure.
 */
export function requestHead(method: string, target: string, fields: ReadonlyArray<readonly [string, string]>): string {
  // Every value is checked for controls (SECURITY.md §6.7), all in one test of them joined.
  let values = '';
  for (const pair of fields) values += pair[1];
  if (hasControlChars(values)) throw new TypeError('a forwarded field holds a control character');
  return writeRequestHead(method, target, fields);
}

/** Where the proxy is reached publicly; read only when a Location names a backend. */
export interface PublicURL {
  /** The public URL of the proxy's mount, without a trailing slash (`https://example.com/app`). */
  readonly mount: string;
  /** The public origin (`https://example.com`). */
  readonly origin: string;
}

/**
 * The public form of a `Location` or `Content-Location` value (SECURITY.md §6.6; Apache's
 * ProxyPassReverse): a URL naming one of `backends`' origins (http, port 80 by default) becomes the
 * public URL. Anything else is returned unchanged.
 *
 * | value (base path `/base`, backend 127.0.0.1:8080) | result                          |
 * |---------------------------------------------------|---------------------------------|
 * | `http://127.0.0.1:8080/base/x?q#f`                | `<mount>/x?q#f`                 |
 * | `http://127.0.0.1:8080/other`                     | `<origin>/other`                |
 * | `http://127.0.0.1:9090/base/x`, `https://…`, `/x`, `elsewhere.example` | unchanged  |
 */
export function rewriteLocation(
  value: string,
  backends: readonly Backend[],
  basePath: string,
  publicURL: PublicURL,
): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  if (url.protocol !== 'http:') return value;
  const port = url.port ? Number(url.port) : 80;
  const host = unbracket(url.hostname).toLowerCase();
  if (!backends.some((b) => b.host.toLowerCase() === host && b.port === port)) return value;
  const tail = url.search + url.hash;
  if (url.pathname === basePath || url.pathname.startsWith(`${basePath}/`)) {
    return publicURL.mount + url.pathname.slice(basePath.length) + tail;
  }
  return publicURL.origin + url.pathname + tail;
}

/**
 * Name lengths of the response fields {@link clientResponseFields} looks at: hop-by-hop ones, Date,
 * Server, (Content-)Location.
 */
const HANDLED_LENGTHS: Uint8Array = (() => {
  const lengths = new Uint8Array(64);
  for (const name of [...HOP_BY_HOP, 'date', 'server', 'location', 'content-location']) lengths[name.length] = 1;
  return lengths;
})();

/** The client's share of a backend response's fields. */
export interface ClientResponseFields {
  /** Fields for the client, flat (`name, value, ...`), names as the backend sent them. */
  fields: string[];
  /** The backend sent Date: it replaces the Site's. */
  date: boolean;
  /** The backend sent Server: it replaces the Site's. */
  server: boolean;
}

/**
 * The backend's response fields as the client gets them (SECURITY.md §6.5, §6.6), `flat` being the
 * parser's `name, value, ...` list and `connectionNames` whether a Connection field names any:
 *
 * | backend sends                                  | client gets                              |
 * |------------------------------------------------|------------------------------------------|
 * | hop-by-hop fields, fields named in `Connection` | nothing (never Content-Length)          |
 * | `Date`, `Server`                               | the backend's, in place of the Site's    |
 * | `Location`, `Content-Location`                 | `location(value)`, dropped if that holds a control |
 * | `Location`, `location` null                    | as sent                                  |
 * | anything else                                  | as sent, in order, duplicates kept       |
 */
export function clientResponseFields(
  flat: readonly string[],
  connectionNames: boolean,
  location: ((value: string) => string) | null,
): ClientResponseFields {
  const listed = connectionNames ? connectionListed(flat) : null;
  const fields: string[] = [];
  let date = false;
  let server = false;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    let value = flat[i + 1]!;
    // Only names of these lengths can be hop-by-hop or need handling here; the rest pass as they are.
    if (HANDLED_LENGTHS[name.length] === 1 || listed) {
      const key = name.toLowerCase();
      if (HOP_BY_HOP.has(key) || listed?.has(key)) continue;
      if (key === 'date') date = true;
      else if (key === 'server') server = true;
      else if (location && (key === 'location' || key === 'content-location')) {
        value = location(value);
        if (hasControlChars(value)) continue;
      }
    }
    fields.push(name, value);
  }
  return { fields, date, server };
}
