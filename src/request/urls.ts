// Where a Request came from and where it is answered: client and local addresses, TLS, the public
// host (`setHost`), and the URLs built from them (`prePathURL`, links). `Request` extends it.
import { encodePath, encodePathSegment } from '../http/path.js';
import { URLPath } from '../url-path.js';
import type { Address, RequestParts } from './parts.js';
import { RequestReading } from './reading.js';

const HOST_PORT = /^\[?(.*?)\]?(?::(\d+))?$/;

/** A request's addresses and URLs. See {@link Request}. */
export class RequestURLs extends RequestReading {
  #client: Address | null;
  #local: Address | null;
  #secure: boolean;
  #forceSecure = false;
  #host: { host: string; port: number } | null = null;
  #rootURL: string | null = null;

  constructor(init: RequestParts) {
    super(init);
    this.#client = init.client;
    this.#local = init.local;
    this.#secure = init.secure;
  }

  // Plain values as properties; the Twisted-style getters below stay as aliases.

  /** The client's address (as the channel or a trusted gateway reports it); `getClientAddress()`. */
  get clientAddress(): Address | null {
    return this.#client;
  }

  /** The client's IP as text, or null (UNIX sockets); `getClientIP()`. */
  get clientIP(): string | null {
    return this.getClientIP();
  }

  /** Whether the request came over TLS (or a trusted front end said so); `isSecure()`. */
  get secure(): boolean {
    return this.isSecure();
  }

  /** The host and port this request was addressed to; `getHost()`. */
  get host(): { host: string; port: number } {
    return this.getHost();
  }

  /** The host name the client asked for, without port or brackets; `getRequestHostname()`. */
  get hostname(): string {
    return this.getRequestHostname();
  }

  /** The site's root URL once `rememberRootURL()` was called, else null; `getRootURL()`. */
  get rootURL(): string | null {
    return this.#rootURL;
  }

  /** The client's address (as the channel or a trusted gateway reports it). */
  getClientAddress(): Address | null {
    return this.#client;
  }

  /** The client's IP as text, or null (UNIX sockets). */
  getClientIP(): string | null {
    const c = this.#client;
    return c && c.type !== 'UNIX' ? c.host : null;
  }

  /** Replaces the client address (used by trusted-proxy handling and gateways). */
  setClientAddress(address: Address | null): void {
    this.#client = address;
  }

  /** Whether the request came over TLS (or a trusted front end said so through `setHost`). */
  isSecure(): boolean {
    return this.#forceSecure || this.#secure;
  }

  /** The host and port this request was addressed to: the local address, or what `setHost` set. */
  getHost(): { host: string; port: number } {
    if (this.#host) return this.#host;
    const l = this.#local;
    if (l && l.type !== 'UNIX') return { host: l.host, port: l.port };
    return { host: this.getRequestHostname(), port: this.#defaultPort() };
  }

  /**
   * Says this request really reached `host:port` (over TLS when `secure`): rewrites the Host header
   * (with the port unless it is the scheme's default) so every generated URL uses it. Virtual-host
   * rewriting and trusted proxies call this.
   */
  setHost(host: string, port: number, secure = false): void {
    this.#forceSecure = secure;
    this.#secure = secure;
    this.#host = { host, port };
    const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    this.requestHeaders.set('Host', port === (secure ? 443 : 80) ? bracketed : `${bracketed}:${port}`);
  }

  #defaultPort(): number {
    return this.isSecure() ? 443 : 80;
  }

  /** The host name the client asked for (Host header without port or brackets), else the local address. */
  getRequestHostname(): string {
    const header = this.requestHeaders.get('host');
    if (header) return HOST_PORT.exec(header)![1]!;
    const l = this.#local;
    return l && l.type !== 'UNIX' ? l.host : 'localhost';
  }

  #urlPort(): number {
    const header = this.requestHeaders.get('host');
    if (header) {
      const port = HOST_PORT.exec(header)![2];
      return port ? Number(port) : this.#defaultPort();
    }
    return this.getHost().port;
  }

  /** `scheme://host[:port]`, the port left out when it is the scheme's default. */
  origin(): string {
    const secure = this.isSecure();
    const host = this.getRequestHostname();
    const port = this.#urlPort();
    const shownHost = host.includes(':') ? `[${host}]` : host;
    const shownPort = port === (secure ? 443 : 80) ? '' : `:${port}`;
    return `${secure ? 'https' : 'http'}://${shownHost}${shownPort}`;
  }

  /** The absolute URL of the resource being rendered: origin plus the encoded `prepath`. */
  prePathURL(): string {
    return `${this.origin()}${encodePath(this.prepath)}`;
  }

  /** `prePathURL()` as a {@link URLPath}, to build links relative to the current resource. */
  URLPath(): URLPath {
    return URLPath.fromString(this.prePathURL());
  }

  /** Remembers the current `prePathURL()` as the site's root URL. */
  rememberRootURL(): void {
    this.#rootURL = this.prePathURL();
  }

  getRootURL(): string | null {
    return this.#rootURL;
  }

  /** A relative link to the child `name` of the resource being rendered. */
  childLink(name: string): string {
    const lpp = this.postpath.length;
    if (lpp > 1) return '../'.repeat(lpp - 1) + name;
    if (lpp === 1) return name;
    const last = this.prepath.at(-1);
    return last ? `${encodePathSegment(last)}/${name}` : name;
  }

  /** A relative link to the sibling `name` of the resource being rendered. */
  sibLink(name: string): string {
    return this.postpath.length ? '../'.repeat(this.postpath.length) + name : name;
  }
}
