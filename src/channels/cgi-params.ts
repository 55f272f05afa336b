// CGI/1.1 meta-variables (RFC 3875) into the neutral Request: the params FastCGI and SCGI carry and
// the environment of a CGI process all go through here, so every gateway mounts a site the same way.
import type { Readable } from 'node:stream';
import { DROPPED_HTTP_VARIABLES, headerNameFromVariable } from '../http/cgi-variables.js';
import { RequestHeaders } from '../http/headers.js';
import { hasControlChars, isContentLength, isToken } from '../http/syntax.js';
import { encodePath, splitPath } from '../request.js';
import type { Address, Request, RequestParts, ResponseSink } from '../request.js';
import type { Site } from '../site.js';
import { hostAddress } from './address.js';
import { serveParts, standIn, type Refusal, type RequestHolder } from './boundary.js';
import { RELAY_MARK } from './cgi/relay-mark.js';
import { isUnder, mountSegments, mountedLength } from './mount.js';

/** Meta-variables as a gateway delivers them: FastCGI/SCGI params, or a CGI process's environment. */
export type CgiParams = ReadonlyMap<string, string> | Readonly<Record<string, string | undefined>> | CgiVariables;

/** Why a gateway request is refused before it reaches the Site (a 400-equivalent). */
export type CgiRefusal = Refusal;

/** The pieces of a Request that the meta-variables describe. */
export interface CgiRequestParts extends RequestParts {
  method: string;
  /** Request-target, still percent-encoded, with `?query` when there is one. */
  uri: string;
  clientproto: string;
  headers: RequestHeaders;
  client: Address | null;
  local: Address | null;
  secure: boolean;
  /** Decoded segments of the mount point (SCRIPT_NAME, or the configured `mount`). */
  prepath: string[];
  /** Decoded segments the Site still has to traverse. */
  postpath: string[];
  /** CONTENT_LENGTH, or null when absent or empty (then the body runs to the end of the stream). */
  contentLength: number | null;
}

/** Options of {@link parseCgiParams}. */
export interface CgiParseOptions {
  /**
   * The mount point to use instead of SCRIPT_NAME, for front ends that do not report one usefully
   * (Apache `ProxyPass` to FastCGI/SCGI sends SCRIPT_NAME = the whole path; lighttpd's is its prefix
   * key plus a segment, see `gateway`; mod_python's SCRIPT_NAME is undefined). The request
   * path is re-split on it: `/app` + `/app/a/b` → prepath `[app]`, postpath `[a, b]`. Default: none
   * (trust SCRIPT_NAME and PATH_INFO).
   */
  mount?: string | null;
  /**
   * The request came through a gateway to a long-running server (FastCGI, SCGI), not from a CGI
   * process. lighttpd's mod_fastcgi and mod_scgi report as SCRIPT_NAME their prefix key plus the rest
   * of the path's next segment (under key `/` without `fix-root-scriptname`, the first segment of
   * every path: `/blog/post` → `/blog` + `/post`), which says nothing of where the site is mounted; so
   * from lighttpd (`SERVER_SOFTWARE` `lighttpd/...`) a gateway request is mounted at the root unless
   * `mount` is given (`--mount /app` for a site lighttpd serves under `/app`). A request relayed by
   * `trellis cgi --relay` (`TRELLIS_RELAY=1`) keeps its SCRIPT_NAME: lighttpd's mod_cgi sets it right.
   * Default false.
   */
  gateway?: boolean;
}

/** Options of {@link serveCgiParams}. */
export interface CgiRequestOptions extends CgiParseOptions {
  /** The request body; null when there is none. */
  body: Readable | null;
  sink: ResponseSink;
  /** Channel name for logs: `fastcgi`, `scgi`, `cgi`. */
  channel: string;
  /** Body length the channel knows better than CONTENT_LENGTH (e.g. none: pass undefined). */
  contentLength?: number | null;
}

const PROTOCOL = /^HTTP\/\d(\.\d)?$/;
const PORT = /^\d{1,5}$/;
const HTTPS_ON = /^(on|1)$/i;
/** SERVER_NAME: `[v6]` or `host`, with an optional `:port`; a bare IPv6 address has no port. */
const SERVER_NAME = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*))(?::(\d{1,5}))?$/;

/** Header names already worked out, by variable; emptied when full, so it stays small whatever arrives. */
const headerNames = new Map<string, string | null>();
const HEADER_NAME_CACHE_SIZE = 256;

/** The header an `HTTP_*` variable carries, or null when it is dropped or does not make a token. */
function headerFor(variable: string): string | null {
  const known = headerNames.get(variable);
  if (known !== undefined) return known;
  const header = DROPPED_HTTP_VARIABLES.has(variable) ? null : headerNameFromVariable(variable);
  const result = header !== null && isToken(header) ? header : null;
  if (variable.length <= 64) {
    if (headerNames.size >= HEADER_NAME_CACHE_SIZE) headerNames.clear();
    // Keyed by a copy: the variable may be a slice of a whole params stream, which it would keep alive.
    headerNames.set(Buffer.from(variable, 'utf16le').toString('utf16le'), result);
  }
  return result;
}

/** Repeated `HTTP_*` variables are found by a linear search up to this many headers, then by an index. */
const LINEAR_HEADER_SEARCH = 32;

/**
 * The meta-variables a Request is built from, gathered one pair at a time: a gateway's decoder feeds
 * it as it reads (`set`, as on a Map) and nothing else is kept. A later duplicate replaces an earlier
 * one. `HTTP_*` variables become headers here, in the order first given; variables the mapping does
 * not use are dropped.
 *
 * ```ts
 * const vars = new CgiVariables().set('REQUEST_METHOD', 'GET').set('REQUEST_URI', '/a?b=1');
 * parseCgiParams(vars);
 * ```
 */
export class CgiVariables {
  method = '';
  protocol = '';
  contentType = '';
  contentLength = '';
  https = '';
  scheme = '';
  serverName = '';
  serverPort = '';
  serverAddr = '';
  remoteAddr = '';
  remotePort = '';
  scriptName = '';
  serverSoftware = '';
  /** `TRELLIS_RELAY` was set: a CGI program relayed the request. */
  relayed = false;
  pathInfo = '';
  query = '';
  requestUri: string | undefined = undefined;
  /** `HTTP_*` variables kept as headers: variable names, header names and values side by side. */
  readonly variables: string[] = [];
  readonly headerNames: string[] = [];
  readonly headerValues: string[] = [];
  #headerIndex: Map<string, number> | null = null;
  /** Used variables whose current value holds a control character. */
  #controlled: Set<string> | null = null;

  /** Copies a Map or an environment record (a CgiVariables is returned as it is). */
  static from(params: CgiParams): CgiVariables {
    if (params instanceof CgiVariables) return params;
    const vars = new CgiVariables();
    if (params instanceof Map) {
      for (const [name, value] of params as ReadonlyMap<string, string>) vars.set(name, value);
      return vars;
    }
    const record = params as Readonly<Record<string, string | undefined>>;
    for (const name of Object.keys(record)) {
      const value = record[name];
      if (value !== undefined) vars.set(name, value);
    }
    return vars;
  }

  /**
   * Records one variable. `clean` means the caller knows the value holds no control character other
   * than HTAB (the FastCGI decoder learns that while reading the bytes); otherwise a value the
   * mapping uses is checked here.
   */
  set(name: string, value: string, clean = false): this {
    if (name.startsWith('HTTP_')) {
      if (name.length > 5) this.#header(name, value, clean);
      return this;
    }
    switch (name) {
      case 'REQUEST_METHOD':
        this.method = value;
        break;
      case 'SERVER_PROTOCOL':
        this.protocol = value;
        break;
      case 'CONTENT_TYPE':
        this.contentType = value;
        break;
      case 'CONTENT_LENGTH':
        this.contentLength = value;
        break;
      case 'HTTPS':
        this.https = value;
        break;
      case 'REQUEST_SCHEME':
        this.scheme = value;
        break;
      case 'SERVER_NAME':
        this.serverName = value;
        break;
      case 'SERVER_PORT':
        this.serverPort = value;
        break;
      case 'SERVER_ADDR':
        this.serverAddr = value;
        break;
      case 'REMOTE_ADDR':
        this.remoteAddr = value;
        break;
      case 'REMOTE_PORT':
        this.remotePort = value;
        break;
      case 'SCRIPT_NAME':
        this.scriptName = value;
        break;
      case 'SERVER_SOFTWARE':
        this.serverSoftware = value;
        break;
      case RELAY_MARK:
        this.relayed = value === '1';
        return this;
      case 'PATH_INFO':
        this.pathInfo = value;
        break;
      case 'QUERY_STRING':
        this.query = value;
        break;
      case 'REQUEST_URI':
        this.requestUri = value === '' ? undefined : value;
        break;
      default:
        return this;
    }
    this.#check(name, value, clean);
    return this;
  }

  #check(name: string, value: string, clean: boolean): void {
    if (!clean && hasControlChars(value)) (this.#controlled ??= new Set()).add(name);
    else this.#controlled?.delete(name);
  }

  #header(variable: string, value: string, clean: boolean): void {
    const header = headerFor(variable);
    if (header === null) return;
    this.#check(variable, value, clean);
    const at = this.#headerIndex ? (this.#headerIndex.get(variable) ?? -1) : this.variables.indexOf(variable);
    if (at !== -1) {
      this.headerValues[at] = value;
      return;
    }
    const count = this.variables.push(variable);
    this.headerNames.push(header);
    this.headerValues.push(value);
    if (this.#headerIndex) this.#headerIndex.set(variable, count - 1);
    else if (count > LINEAR_HEADER_SEARCH) this.#headerIndex = new Map(this.variables.map((v, i) => [v, i]));
  }

  /**
   * A used variable whose value holds CR, LF, NUL or another control (not HTAB), or null; of several,
   * the first by name, so the answer does not depend on the order duplicates arrived in.
   */
  get controlled(): string | null {
    if (!this.#controlled?.size) return null;
    let first: string | null = null;
    for (const name of this.#controlled) if (first === null || name < first) first = name;
    return first;
  }
}

/**
 * The last SCRIPT_NAME split, and its segments (never changed): a front end sends the same one each
 * time. Holding one SCRIPT_NAME may hold the params text it was cut from (at most 64 KiB).
 */
let lastScriptName = '';
let lastScriptSegments: readonly string[] = [];

function scriptSegmentsOf(scriptName: string): readonly string[] {
  if (scriptName !== lastScriptName) {
    lastScriptSegments = mountSegments(scriptName);
    lastScriptName = scriptName;
  }
  return lastScriptSegments;
}

/** A host and a port variable as an Address (a port that is not digits counts as 0), or null without a host. */
function address(host: string, port: string): Address | null {
  return hostAddress(host, port && PORT.test(port) ? Number(port) : 0);
}

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/**
 * Turns CGI/1.1 meta-variables into the pieces of a Request, or a refusal. Pure.
 *
 * | variables                                                   | result |
 * |-------------------------------------------------------------|--------|
 * | REQUEST_URI `/app/a%20b?x=1`, SCRIPT_NAME `/app`            | uri as given, prepath `[app]`, postpath `[a b]` |
 * | no REQUEST_URI: SCRIPT_NAME `/app`, PATH_INFO `/a b`, QUERY_STRING `x=1` | uri `/app/a%20b?x=1`, same split |
 * | SCRIPT_NAME `""` or `/` or absent                           | mounted at the root: prepath `[]` |
 * | REQUEST_URI not under SCRIPT_NAME (an internal rewrite)     | uri rebuilt from SCRIPT_NAME + PATH_INFO |
 * | option `mount: '/app'`                                      | SCRIPT_NAME ignored; the path is re-split on `/app` |
 * | HTTP_X_FOO `1`                                              | header `X-Foo: 1` |
 * | HTTP_PROXY, HTTP_CONTENT_LENGTH, HTTP_CONTENT_TYPE          | dropped (httpoxy, SECURITY.md §2.3–2.4) |
 * | CONTENT_TYPE / CONTENT_LENGTH non-empty                     | Content-Type / Content-Length headers |
 * | HTTP_HOST absent                                            | Host built from SERVER_NAME (+ SERVER_PORT) |
 * | HTTPS `on`/`1`, or REQUEST_SCHEME `https`                   | secure |
 * | REMOTE_ADDR + REMOTE_PORT; SERVER_ADDR + SERVER_PORT        | client; local address |
 * | any value used with CR, LF, NUL or another control (not HTAB) | 400 (SECURITY.md §2.5, §5.3) |
 * | REQUEST_METHOD missing or not a token; CONTENT_LENGTH not digits | 400 |
 *
 * Empty variables count as absent (nginx sends `CONTENT_LENGTH ""` on a GET). Values are trusted as
 * far as the gateway socket is trusted: the address, host and scheme they report are taken as given.
 */
export function parseCgiParams(params: CgiParams, options: CgiParseOptions = {}): CgiRequestParts | CgiRefusal {
  const vars = CgiVariables.from(params);
  const refuse = (detail: string): CgiRefusal => ({ status: 400, detail });
  const lighttpdGateway = options.gateway && !vars.relayed && vars.serverSoftware.startsWith('lighttpd/');
  const mount = options.mount ?? (lighttpdGateway ? '/' : null);

  const method = vars.method;
  if (!method || !isToken(method)) return refuse('The gateway sent no valid REQUEST_METHOD.');
  const bad = vars.controlled;
  if (bad !== null) return refuse(`The gateway variable ${bad} holds control characters.`);
  const clientproto = vars.protocol && PROTOCOL.test(vars.protocol) ? vars.protocol : 'HTTP/1.0';

  // Headers: HTTP_* in the order given, then CONTENT_TYPE/CONTENT_LENGTH.
  const names = vars.headerNames;
  const values = vars.headerValues;
  const headerPairs: Array<[string, string]> = new Array(names.length);
  let hasHost = false;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === 'Host') hasHost = true;
    headerPairs[i] = [name, values[i]!];
  }
  if (vars.contentType) headerPairs.push(['Content-Type', vars.contentType]);
  let contentLength: number | null = null;
  if (vars.contentLength) {
    if (!isContentLength(vars.contentLength)) return refuse('The gateway sent a CONTENT_LENGTH that is not a number.');
    contentLength = Number(vars.contentLength);
    headerPairs.push(['Content-Length', vars.contentLength]);
  }

  // Host: HTTP_HOST when the client sent one; else what the server says it is.
  const serverPort = vars.serverPort;
  const secure = (vars.https !== '' && HTTPS_ON.test(vars.https)) || vars.scheme.toLowerCase() === 'https';
  // SERVER_NAME may carry a port (HAProxy) and may be a bare IPv6 address.
  const named = vars.serverName && (!hasHost || !vars.serverAddr) ? SERVER_NAME.exec(vars.serverName) : null;
  if (!hasHost && named) {
    const [, bracketed, bare, namedPort] = named;
    const host = bracketed !== undefined ? `[${bracketed}]` : bare!.includes(':') ? `[${bare}]` : bare!;
    const port = namedPort ?? serverPort;
    headerPairs.push(['Host', !port || port === (secure ? '443' : '80') ? host : `${host}:${port}`]);
  }
  const headers = new RequestHeaders(headerPairs);
  const client = address(vars.remoteAddr, vars.remotePort);
  const local = address(vars.serverAddr || (named ? (named[1] ?? named[2] ?? '') : ''), serverPort);

  // The path: REQUEST_URI when it agrees with SCRIPT_NAME + PATH_INFO, else rebuilt from them.
  const { pathInfo, query, requestUri } = vars;
  const scriptSegments = scriptSegmentsOf(vars.scriptName);
  const rebuilt = () => {
    const segments = [...scriptSegments, ...(pathInfo ? pathInfo.replace(/^\//, '').split('/') : [])];
    const path = encodePath(segments);
    return query ? `${path}?${query}` : path;
  };
  let uri = requestUri ?? rebuilt();
  let path = pathOf(uri);
  let segments = uri.charCodeAt(0) === 47 /* / */ ? splitPath(path.slice(1)) : uri === '*' ? [] : null;
  if (requestUri !== undefined && uri.charCodeAt(0) === 47 && segments === null)
    return refuse('The request path is not valid percent-encoded UTF-8.');
  if (requestUri !== undefined && mount === null && (segments === null || !isUnder(segments, scriptSegments))) {
    uri = rebuilt();
    path = pathOf(uri);
    segments = splitPath(path.slice(1));
  }
  if (segments === null) return refuse('The request path is not valid percent-encoded UTF-8.');
  // Every variable used was checked above; only percent-decoding can bring a control character in.
  if (path.includes('%')) {
    for (const segment of segments) {
      if (hasControlChars(segment)) return refuse('The request path holds control characters.');
    }
  }

  const prepathLength = mount === null ? scriptSegments.length : mountedLength(segments, mountSegments(mount));
  // A request for the bare mount (`/app`) has the mount as its whole path: nothing left to traverse.
  const prepath = segments.slice(0, prepathLength);
  const postpath = prepathLength === 0 ? segments : segments.slice(prepathLength);
  return { method, uri, clientproto, headers, client, local, secure, prepath, postpath, contentLength };
}

/** Whether {@link parseCgiParams} refused the request. */
export function isCgiRefusal(value: CgiRequestParts | CgiRefusal): value is CgiRefusal {
  return 'status' in value;
}

/**
 * Serves the request the meta-variables describe through the channel boundary: its parts, `prepath`
 * set to the mount point, to `site.handle()`; a refused one, as a stand-in `GET /`, to `site.refuse()`
 * (a 400 page). `holder.request` is set before the Site runs. Returns the Request, so the channel can
 * say when the front end goes away (`connectionLost`).
 *
 * ```ts
 * ex.request = serveCgiParams(site, params, { body, sink, channel: 'fastcgi' });
 * ```
 */
export function serveCgiParams(
  site: Site,
  params: CgiParams,
  options: CgiRequestOptions,
  holder: RequestHolder | null = null,
): Request {
  const parts = parseCgiParams(params, {
    ...(options.mount === undefined ? {} : { mount: options.mount }),
    gateway: options.channel !== 'cgi',
  });
  if (isCgiRefusal(parts)) {
    const stand = standIn(options.channel, { clientproto: 'HTTP/1.0', body: options.body });
    return serveParts(site, stand, options.sink, parts, holder);
  }
  parts.body = options.body;
  parts.channel = options.channel;
  if (options.contentLength !== undefined) parts.contentLength = options.contentLength;
  return serveParts(site, parts, options.sink, null, holder);
}
