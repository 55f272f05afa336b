// CGI/1.1 meta-variables (RFC 3875) into the neutral Request: the params FastCGI and SCGI carry and
// the environment of a CGI process all go through here, so every gateway mounts a site the same way.
import type { Readable } from 'node:stream';
import { RequestHeaders, hasControlChars, isToken } from '../http/headers.js';
import { Request, encodePathSegment, splitPath, type Address, type ResponseSink } from '../request.js';
import type { Site } from '../site.js';

/** Meta-variables as a gateway delivers them: FastCGI/SCGI params, or a CGI process's environment. */
export type CgiParams = ReadonlyMap<string, string> | Readonly<Record<string, string | undefined>>;

/** Why a gateway request is refused before it reaches the Site (a 400-equivalent). */
export interface CgiRefusal {
  status: number;
  detail: string;
}

/** The pieces of a Request that the meta-variables describe. */
export interface CgiRequestParts {
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
   * (Apache `ProxyPass` to FastCGI/SCGI sends SCRIPT_NAME = the whole path; lighttpd mounted at `/`
   * without `fix-root-scriptname` does the same; mod_python's SCRIPT_NAME is undefined). The request
   * path is re-split on it: `/app` + `/app/a/b` → prepath `[app]`, postpath `[a, b]`. Default: none
   * (trust SCRIPT_NAME and PATH_INFO).
   */
  mount?: string | null;
}

/** Options of {@link requestFromCgiParams}. */
export interface CgiRequestOptions extends CgiParseOptions {
  /** The request body; null when there is none. */
  body: Readable | null;
  sink: ResponseSink;
  /** Channel name for logs: `fastcgi`, `scgi`, `cgi`. */
  channel: string;
  /** Body length the channel knows better than CONTENT_LENGTH (e.g. none: pass undefined). */
  contentLength?: number | null;
}

/** Header names the CGI variables carry outside HTTP_* (RFC 3875 §4.1.2, §4.1.3). */
const CONTENT_VARIABLES: ReadonlyArray<readonly [string, string]> = [
  ['CONTENT_TYPE', 'Content-Type'],
  ['CONTENT_LENGTH', 'Content-Length'],
];

/**
 * HTTP_* variables never turned into headers: `HTTP_PROXY` is the httpoxy vector (SECURITY.md §2.4,
 * CVE-2016-5385); `HTTP_CONTENT_*` would contradict the authoritative CONTENT_* variables (§2.3).
 */
const DROPPED_HTTP_VARIABLES = new Set(['HTTP_PROXY', 'HTTP_CONTENT_LENGTH', 'HTTP_CONTENT_TYPE']);

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PROTOCOL = /^HTTP\/\d(\.\d)?$/;
const DIGITS = /^\d{1,15}$/;
const PORT = /^\d{1,5}$/;
/** SERVER_NAME: `[v6]` or `host`, with an optional `:port`; a bare IPv6 address has no port. */
const SERVER_NAME = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*))(?::(\d{1,5}))?$/;

function lookup(params: CgiParams): (name: string) => string | undefined {
  if (params instanceof Map) return (name) => (params as ReadonlyMap<string, string>).get(name);
  const record = params as Readonly<Record<string, string | undefined>>;
  return (name) => (Object.hasOwn(record, name) ? record[name] : undefined);
}

function entries(params: CgiParams): Iterable<[string, string | undefined]> {
  return params instanceof Map ? (params as ReadonlyMap<string, string>).entries() : Object.entries(params as Record<string, string | undefined>);
}

/** `HTTP_ACCEPT_LANGUAGE` → `Accept-Language`. */
export function headerNameFromVariable(variable: string): string {
  return variable
    .slice(5)
    .toLowerCase()
    .split('_')
    .map((word) => (word ? word[0]!.toUpperCase() + word.slice(1) : word))
    .join('-');
}

/** Splits a decoded CGI path (SCRIPT_NAME, PATH_INFO, a mount) into segments; `""` and `/` are the root. */
function decodedSegments(path: string): string[] {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? [] : trimmed.replace(/^\/+/, '').split('/');
}

function startsWith(list: readonly string[], prefix: readonly string[]): boolean {
  if (prefix.length > list.length) return false;
  for (let i = 0; i < prefix.length; i++) if (list[i] !== prefix[i]) return false;
  return true;
}

function address(host: string | undefined, port: string | undefined): Address | null {
  if (!host) return null;
  const p = port && PORT.test(port) ? Number(port) : 0;
  return { type: host.includes(':') ? 'INET6' : 'INET', host, port: p };
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
  const raw = lookup(params);
  let bad: string | null = null;
  const get = (name: string): string | undefined => {
    const value = raw(name);
    if (value === undefined || value === '') return undefined;
    if (bad === null && hasControlChars(value)) bad = name;
    return value;
  };
  const refuse = (detail: string): CgiRefusal => ({ status: 400, detail });

  const method = get('REQUEST_METHOD');
  if (!method || !METHOD.test(method)) return refuse('The gateway sent no valid REQUEST_METHOD.');
  const protocolValue = get('SERVER_PROTOCOL');
  const clientproto = protocolValue && PROTOCOL.test(protocolValue) ? protocolValue : 'HTTP/1.0';

  // Headers: HTTP_* in the order given, then CONTENT_TYPE/CONTENT_LENGTH.
  const headerPairs: Array<[string, string]> = [];
  for (const [name, value] of entries(params)) {
    if (!name.startsWith('HTTP_') || name.length === 5 || value === undefined || DROPPED_HTTP_VARIABLES.has(name)) continue;
    const header = headerNameFromVariable(name);
    if (!isToken(header)) continue;
    if (hasControlChars(value)) return refuse(`The gateway variable ${name} holds control characters.`);
    headerPairs.push([header, value]);
  }
  let contentLength: number | null = null;
  for (const [variable, header] of CONTENT_VARIABLES) {
    const value = get(variable);
    if (value === undefined) continue;
    if (variable === 'CONTENT_LENGTH') {
      if (!DIGITS.test(value)) return refuse('The gateway sent a CONTENT_LENGTH that is not a number.');
      contentLength = Number(value);
    }
    headerPairs.push([header, value]);
  }
  const headers = new RequestHeaders(headerPairs);

  // Host: HTTP_HOST when the client sent one; else what the server says it is.
  const serverName = get('SERVER_NAME');
  const serverPort = get('SERVER_PORT');
  const secure = /^(on|1)$/i.test(get('HTTPS') ?? '') || (get('REQUEST_SCHEME') ?? '').toLowerCase() === 'https';
  // SERVER_NAME may carry a port (HAProxy) and may be a bare IPv6 address.
  const named = serverName ? SERVER_NAME.exec(serverName) : null;
  if (!headers.has('host') && named) {
    const [, bracketed, bare, namedPort] = named;
    const host = bracketed !== undefined ? `[${bracketed}]` : bare!.includes(':') ? `[${bare}]` : bare!;
    const port = namedPort ?? serverPort;
    headers.set('Host', !port || port === (secure ? '443' : '80') ? host : `${host}:${port}`);
  }
  const client = address(get('REMOTE_ADDR'), get('REMOTE_PORT'));
  const local = address(get('SERVER_ADDR') ?? (named ? (named[1] ?? named[2]) : undefined), serverPort);

  // The path: REQUEST_URI when it agrees with SCRIPT_NAME + PATH_INFO, else rebuilt from them.
  const scriptName = get('SCRIPT_NAME') ?? '';
  const pathInfo = get('PATH_INFO') ?? '';
  const query = get('QUERY_STRING') ?? '';
  const requestUri = get('REQUEST_URI');
  if (bad !== null) return refuse(`The gateway variable ${bad} holds control characters.`);

  const scriptSegments = decodedSegments(scriptName);
  const rebuilt = () => {
    const segments = [...scriptSegments, ...(pathInfo ? pathInfo.replace(/^\//, '').split('/') : [])];
    const path = `/${segments.map(encodePathSegment).join('/')}`;
    return query ? `${path}?${query}` : path;
  };
  let uri = requestUri ?? rebuilt();
  const pathOf = (target: string) => {
    const q = target.indexOf('?');
    return q === -1 ? target : target.slice(0, q);
  };
  let segments = uri.startsWith('/') ? splitPath(pathOf(uri).slice(1)) : uri === '*' ? [] : null;
  if (requestUri !== undefined && uri.startsWith('/') && segments === null) return refuse('The request path is not valid percent-encoded UTF-8.');
  if (requestUri !== undefined && options.mount == null && (segments === null || !startsWith(segments, scriptSegments))) {
    uri = rebuilt();
    segments = splitPath(pathOf(uri).slice(1));
  }
  if (segments === null) return refuse('The request path is not valid percent-encoded UTF-8.');
  for (const segment of segments) {
    if (hasControlChars(segment)) return refuse('The request path holds control characters.');
  }

  let prepathLength = scriptSegments.length;
  if (options.mount != null) {
    const mountSegments = decodedSegments(options.mount);
    prepathLength = startsWith(segments, mountSegments) ? mountSegments.length : 0;
  }
  // A request for the bare mount (`/app`) has the mount as its whole path: nothing left to traverse.
  const prepath = segments.slice(0, prepathLength);
  const postpath = segments.slice(prepathLength);
  return { method, uri, clientproto, headers, client, local, secure, prepath, postpath, contentLength };
}

/** Whether {@link parseCgiParams} refused the request. */
export function isCgiRefusal(value: CgiRequestParts | CgiRefusal): value is CgiRefusal {
  return 'status' in value;
}

/**
 * Builds the Request the meta-variables describe, with `prepath` set to the mount point, or a
 * refusal with a stand-in Request (`GET /`) to answer it through `site.refuse()`.
 *
 * ```ts
 * const { request, refusal } = requestFromCgiParams(params, { body, sink, channel: 'fastcgi' });
 * if (refusal) site.refuse(request, refusal.status, refusal.detail);
 * else site.handle(request);
 * ```
 */
export function requestFromCgiParams(params: CgiParams, options: CgiRequestOptions): { request: Request; refusal: CgiRefusal | null } {
  const parts = parseCgiParams(params, options.mount === undefined ? {} : { mount: options.mount });
  if (isCgiRefusal(parts)) {
    const request = new Request({
      method: 'GET',
      uri: '/',
      clientproto: 'HTTP/1.0',
      headers: new RequestHeaders(),
      body: options.body,
      client: null,
      local: null,
      secure: false,
      sink: options.sink,
      channel: options.channel,
    });
    return { request, refusal: parts };
  }
  const request = new Request({
    method: parts.method,
    uri: parts.uri,
    clientproto: parts.clientproto,
    headers: parts.headers,
    body: options.body,
    client: parts.client,
    local: parts.local,
    secure: parts.secure,
    sink: options.sink,
    channel: options.channel,
    contentLength: options.contentLength === undefined ? parts.contentLength : options.contentLength,
  });
  request.prepath = parts.prepath;
  request.postpath = parts.postpath;
  return { request, refusal: null };
}

/**
 * Builds the Request and hands it to the Site (or refuses it there with a 400). Returns the Request
 * so the channel can call `connectionLost()` on it when the front end goes away.
 */
export function serveCgiParams(site: Site, params: CgiParams, options: CgiRequestOptions): Request {
  const { request, refusal } = requestFromCgiParams(params, options);
  if (refusal) site.refuse(request, refusal.status, refusal.detail);
  else site.handle(request);
  return request;
}
