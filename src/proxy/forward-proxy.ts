// The forward proxy (Twisted's twisted.web.proxy.Proxy): absolute-form `http://` requests and CONNECT
// tunnels, opt-in, with an access policy checked after DNS resolution (SECURITY.md §6.1).
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, connect as netConnect } from 'node:net';
import { HttpError } from '../errors.js';
import { LAST_CHUNK, writeRequestHead, writeResponseHead } from '../http/head-writer.js';
import { hasControlChars, splitAuthority, unbracket } from '../http/syntax.js';
import { Resource, type RenderResult } from '../resource.js';
import { NOT_DONE_YET, upgradeOf, type Request } from '../request.js';
import { spliceSockets } from '../util/splice.js';
import { BackendPool, type BackendConnection, type ExchangeHandler } from './backend-client.js';
import { stripHopByHop } from './hop-by-hop.js';
import { exchangeFailure, failProxied } from './proxy-error.js';
import { TrustedProxies as CidrList, tcpPeer } from './trusted-proxies.js';

/**
 * Destinations refused by default: loopback, link-local, RFC 1918 and ULA, CGNAT, benchmarking,
 * multicast, reserved, `0.0.0.0/8` and `::` (SECURITY.md §6.1; RFC 6890 special-purpose registry).
 */
export const DENIED_DESTINATIONS: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fe80::/10',
  'fc00::/7',
  'ff00::/8',
  '64:ff9b::/96',
];

/** Who may use the proxy and where it may go. */
export interface ForwardProxyPolicy {
  /** Client ranges allowed. Default: loopback only (`127.0.0.0/8`, `::1`). */
  allowClients?: readonly string[];
  /** Ports absolute-form `http://` requests may reach. Default `[80, 443]`. */
  allowPorts?: readonly number[];
  /** Ports CONNECT may reach. Default `[443]`. */
  connectPorts?: readonly number[];
  /** Destination ranges refused. Default {@link DENIED_DESTINATIONS}. */
  denyDestinations?: readonly string[];
  /** Exceptions to `denyDestinations` (an intranet you mean to reach). Default none. */
  allowDestinations?: readonly string[];
  /** Name resolution; default `dns.lookup(host, { all: true })`. */
  lookup?: (host: string) => Promise<Array<{ address: string; family: number }>>;
  /** Time allowed to connect and for the origin to answer, ms. Default 30 s. */
  timeout?: number;
}

/** Most origins (address and port) with a pool of kept-alive connections at once. */
const MAX_POOLS = 256;

class Refused extends HttpError {
  constructor(status: number, message: string) {
    super(status, message, { expose: true, code: 'PROXY_REFUSED' });
  }
}

/**
 * A forward proxy as a resource: serve it as a Site's root (`new Site(new ForwardProxyResource())`)
 * on a listener of its own. Off unless you build it.
 *
 * - `GET http://host/path` (absolute-form) is fetched from `host` over HTTP/1.1; `https://` needs
 *   CONNECT. Origin-form requests are a 400: this resource is only a proxy.
 * - `CONNECT host:port` opens a TCP tunnel (HTTP/1.1 channel only).
 * - Policy (SECURITY.md §6.1): clients must be in `allowClients` (loopback by default); ports are
 *   80/443 for requests and 443 for CONNECT; the name is resolved first and every address checked
 *   against `denyDestinations` (loopback, link-local, private, multicast, ...), then the proxy
 *   connects to that exact address, so a second lookup cannot rebind it. Refusals are 403.
 * - Origins are fetched with Trellis's backend client: their answers pass the same strict parser as
 *   a reverse proxy's backends (a malformed framing is a 502).
 * - Redirects are passed through, never followed (§6.6). Pinned by test/proxy/forward-proxy.test.ts.
 */
export class ForwardProxyResource extends Resource {
  override isLeaf = true;
  readonly clients: CidrList;
  readonly denied: CidrList;
  readonly allowed: CidrList;
  readonly allowPorts: ReadonlySet<number>;
  readonly connectPorts: ReadonlySet<number>;
  readonly timeout: number;
  #pools = new Map<string, BackendPool>();
  #lookup: (host: string) => Promise<Array<{ address: string; family: number }>>;

  constructor(policy: ForwardProxyPolicy = {}) {
    super();
    this.clients = new CidrList(policy.allowClients ?? ['127.0.0.0/8', '::1']);
    this.denied = new CidrList(policy.denyDestinations ?? DENIED_DESTINATIONS);
    this.allowed = new CidrList(policy.allowDestinations ?? []);
    this.allowPorts = new Set(policy.allowPorts ?? [80, 443]);
    this.connectPorts = new Set(policy.connectPorts ?? [443]);
    this.timeout = policy.timeout ?? 30_000;
    this.#lookup = policy.lookup ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
  }

  /** Closes idle origin connections. */
  close(): void {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }

  /** Resolves `host` and returns the one address to connect to; throws a 403 when any address is refused. */
  async resolve(host: string): Promise<string> {
    const bare = unbracket(host);
    const addresses = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await this.#lookup(bare).catch(() => []);
    if (!addresses.length) throw new HttpError(502, `Could not resolve ${bare}.`, { expose: true, code: 'PROXY_DNS' });
    for (const { address } of addresses) {
      if (this.denied.contains(address) && !this.allowed.contains(address))
        throw new Refused(403, `The destination ${bare} is not allowed.`);
    }
    return addresses[0]!.address;
  }

  override render(request: Request): RenderResult {
    const peer = tcpPeer(request);
    if (!peer || peer.type === 'UNIX' || !this.clients.contains(peer.host))
      throw new Refused(403, 'This proxy does not serve your address.');
    if (request.method === 'CONNECT') return this.#connect(request);
    if (!/^http:\/\//i.test(request.uri)) {
      if (/^https:\/\//i.test(request.uri)) throw new Refused(400, 'Use CONNECT for https:// through this proxy.');
      throw new Refused(400, 'This is a proxy: send an absolute URL (http://host/path).');
    }
    let url: URL;
    try {
      url = new URL(request.uri);
    } catch {
      throw new Refused(400, 'The request URL is not valid.');
    }
    const port = url.port ? Number(url.port) : 80;
    if (!this.allowPorts.has(port)) throw new Refused(403, `Port ${port} is not allowed.`);
    return this.resolve(url.hostname).then((address) => {
      this.#fetch(request, url, address, port);
      return NOT_DONE_YET;
    });
  }

  /** The pool of kept-alive connections to one checked address; the oldest pool goes past {@link MAX_POOLS}. */
  #pool(address: string, port: number): BackendPool {
    const key = `${address} ${port}`;
    let pool = this.#pools.get(key);
    if (pool) return pool;
    if (this.#pools.size >= MAX_POOLS) {
      const [oldest, old] = this.#pools.entries().next().value as [string, BackendPool];
      this.#pools.delete(oldest);
      old.close();
    }
    pool = new BackendPool(address, port, { maxSockets: 64, connectTimeout: this.timeout });
    this.#pools.set(key, pool);
    return pool;
  }

  /**
   * Fetches `url` from `address` with Trellis's own HTTP/1.1 client (backend-client.ts), so the
   * origin's answer is read by the same strict parser and framing table as a reverse proxy's backend
   * (src/http/framing.ts): a malformed answer is a 502, silence past `timeout` a 504.
   */
  #fetch(request: Request, url: URL, address: string, port: number): void {
    const headers = stripHopByHop(request.requestHeaders.raw, { drop: new Set(['host', 'content-length']) });
    headers.unshift(['Host', url.host]);
    const chunked = request.contentLength === null && request.hasBody;
    if (request.contentLength !== null) headers.push(['Content-Length', String(request.contentLength)]);
    else if (chunked) headers.push(['Transfer-Encoding', 'chunked']);
    for (const [, value] of headers) {
      if (hasControlChars(value)) throw new Refused(400, 'A request header holds a control character.');
    }
    const head = writeRequestHead(request.method, `${url.pathname}${url.search}`, headers);
    const pool = this.#pool(address, port);
    pool.acquire(false, (conn, error) => {
      if (!conn) {
        failProxied(request, exchangeFailure(error!, 'origin'));
        return;
      }
      if (request.disconnected || request.finished) {
        pool.release(conn);
        return;
      }
      this.#exchange(request, conn, head, chunked);
    });
  }

  #exchange(request: Request, conn: BackendConnection, head: string, chunked: boolean): void {
    const handler: ExchangeHandler = {
      onHead: (res) => {
        if (request.disconnected) {
          exchange.abort();
          return;
        }
        request.setResponseCode(res.status, res.reason || undefined);
        const pairs: Array<[string, string]> = [];
        for (let i = 0; i + 1 < res.headers.length; i += 2) pairs.push([res.headers[i]!, res.headers[i + 1]!]);
        const kept = stripHopByHop(pairs);
        for (const name of ['date', 'server'])
          if (kept.some(([n]) => n.toLowerCase() === name)) request.removeResponseHeader(name);
        for (const [name, value] of kept) if (!hasControlChars(value)) request.addHeader(name, value);
      },
      onBody: (chunk) => {
        if (request.disconnected) return;
        // The chunk is a view into a shared read buffer: what goes on is a copy.
        if (!request.write(Buffer.from(chunk))) {
          exchange.pause();
          void request.drain().then(() => exchange.resume());
        }
      },
      onFlush: () => {},
      onEnd: () => {
        if (!request.disconnected && !request.finished) request.finish();
      },
      onUpgrade: (socket) => socket.destroy(),
      onError: (error) => failProxied(request, exchangeFailure(error, 'origin')),
    };
    const exchange = conn.start(head, handler, {
      head: request.method === 'HEAD',
      upgrade: false,
      timeout: this.timeout,
    });
    request.whenDone((r) => {
      if (r.disconnected) exchange.abort();
    });
    if (!request.hasBody) return;
    exchange.startBody();
    const body = request.stream();
    body.on('data', (chunk: Buffer) => {
      if (!(chunked ? exchange.writeChunk(chunk) : exchange.write(chunk))) {
        body.pause();
        exchange.onDrain(() => body.resume());
      }
    });
    body.once('end', () => exchange.end(chunked ? LAST_CHUNK : undefined));
    body.once('error', () => exchange.abort());
  }

  #connect(request: Request): RenderResult {
    const up = upgradeOf(request);
    if (!up) throw new Refused(501, 'CONNECT is only served on the HTTP/1.1 channel.');
    const authority = splitAuthority(request.uri);
    if (!authority) throw new Refused(400, 'CONNECT needs host:port.');
    const port = authority.port;
    if (!this.connectPorts.has(port)) throw new Refused(403, `CONNECT to port ${port} is not allowed.`);
    return this.resolve(authority.host).then(
      (address) =>
        new Promise<typeof NOT_DONE_YET>((resolve, reject) => {
          const upstream = netConnect({ host: address, port });
          const timer = setTimeout(() => upstream.destroy(new Error('timeout')), this.timeout);
          upstream.once('error', (err: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            reject(
              new HttpError(
                err.message === 'timeout' ? 504 : 502,
                `The destination could not be reached (${err.code ?? err.message}).`,
                { expose: true },
              ),
            );
          });
          upstream.once('connect', () => {
            clearTimeout(timer);
            if (request.disconnected) {
              upstream.destroy();
              resolve(NOT_DONE_YET);
              return;
            }
            up.take();
            const client = up.socket;
            client.write(writeResponseHead(200, 'Connection Established', []), 'latin1');
            if (up.head.length) upstream.write(up.head);
            spliceSockets(client, upstream);
            resolve(NOT_DONE_YET);
          });
        }),
    );
  }
}
