// The environment of a CGI script (RFC 3875 §4): built from scratch for each request, from the
// request as the public sees it, plus a short documented allow-list, never the server's own.
import { HttpError } from '../errors.js';
import { variableForHeader } from '../http/cgi-variables.js';
import { encodePathSegment, isDotSegment } from '../http/path.js';
import { hasCtl } from '../http/syntax.js';
import type { Request } from '../request.js';
import { VERSION } from '../version.js';

/** `PATH` given to scripts unless configured (SECURITY.md §2.3). */
export const DEFAULT_CGI_PATH = '/usr/bin:/bin';

/** Options of {@link cgiEnvironment}: what a script gets besides the request's meta-variables. */
export interface CgiEnvironmentOptions {
  /** `PATH` for the script. Default `/usr/bin:/bin`. */
  path?: string;
  /**
   * Names of the server's own environment variables copied to the script when set (e.g.
   * `['LANG', 'TZ']`). Names starting `HTTP_` are never copied. Default none.
   */
  passEnv?: readonly string[];
  /** Fixed variables for the script (meta-variables of the request win over them). Default none. */
  env?: Readonly<Record<string, string>>;
  /** Where `passEnv` reads from. Default `process.env`. */
  serverEnv?: Readonly<Record<string, string | undefined>>;
}

/** The script a request runs: its file, and the document root `PATH_TRANSLATED` maps into. */
export interface CgiScriptFacts {
  /** Absolute path of the script (`SCRIPT_FILENAME`). */
  filename: string;
  /** The document root (`DOCUMENT_ROOT`), or null when the script has none. */
  documentRoot: string | null;
  /**
   * `PATH_TRANSLATED`: the document-root path of PATH_INFO, already checked to lie inside the root
   * (see `translatePathInfo`); null leaves it unset.
   */
  pathTranslated: string | null;
  /** `CONTENT_LENGTH` of the body the script will read on stdin, or null when there is none. */
  contentLength: number | null;
}

const SAFE_VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks the decoded segments of SCRIPT_NAME or PATH_INFO (SECURITY.md §2.5): a segment holding a
 * control (CR, LF, NUL, ...), a `/` or `\` (from `%2F`/`%5C`, which would let `..%2F..` climb out
 * through PATH_TRANSLATED), or a dot-segment is a 400.
 */
export function checkScriptSegments(segments: readonly string[], what: 'SCRIPT_NAME' | 'PATH_INFO'): void {
  for (const segment of segments) {
    if (hasCtl(segment) || segment.includes('/') || segment.includes('\\') || isDotSegment(segment)) {
      throw new HttpError(400, `The request path cannot be given to a script as ${what}.`, { code: 'BAD_SCRIPT_PATH' });
    }
  }
}

/** The last origin {@link serverNameAndPort} parsed, and its answer: a site's requests mostly share one. */
let lastOrigin = '';
let lastNameAndPort = { name: '', port: '' };

/** The host and port of the public origin (`scheme://host[:port]`), as SERVER_NAME and SERVER_PORT. */
function serverNameAndPort(request: Request): { name: string; port: string } {
  const origin = request.origin();
  if (origin === lastOrigin) return lastNameAndPort;
  const url = new URL(origin);
  const name = url.hostname.replace(/^\[(.*)\]$/, '$1');
  lastNameAndPort = { name, port: url.port || (url.protocol === 'https:' ? '443' : '80') };
  lastOrigin = origin;
  return lastNameAndPort;
}

/**
 * The meta-variables that depend on the script only, not on the request: GATEWAY_INTERFACE,
 * SERVER_SOFTWARE, SCRIPT_FILENAME and DOCUMENT_ROOT (when the script has one), in the order
 * {@link cgiMetaVariables} sets them. A FastCGI client encodes them once per script.
 */
export function scriptMetaVariables(
  script: Pick<CgiScriptFacts, 'filename' | 'documentRoot'>,
): Array<[string, string]> {
  const pairs: Array<[string, string]> = [
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['SERVER_SOFTWARE', `Trellis/${VERSION}`],
    ['SCRIPT_FILENAME', script.filename],
  ];
  if (script.documentRoot !== null) pairs.push(['DOCUMENT_ROOT', script.documentRoot]);
  return pairs;
}

/**
 * The CGI/1.1 meta-variables (RFC 3875 §4.1) of `request` as the public sees it, plus the ones PHP
 * and FastCGI applications expect (SCRIPT_FILENAME, DOCUMENT_ROOT, REQUEST_URI, REQUEST_SCHEME,
 * HTTPS): the one builder for a CGI script's environment ({@link cgiEnvironment}) and a FastCGI
 * application's PARAMS (`FastCGIClientResource`). Throws a 400 HttpError for a path that cannot be
 * given to a script (`checkScriptSegments`). Pure.
 *
 * | variable          | value |
 * |-------------------|-------|
 * | `SCRIPT_NAME`     | `/` + the decoded `prepath`: mount, public prefix of a trusted front end, the script |
 * | `PATH_INFO`       | `/` + the decoded `postpath`, set only when there is one |
 * | `PATH_TRANSLATED` | `script.pathTranslated`, set only with PATH_INFO |
 * | `REQUEST_URI`     | SCRIPT_NAME and PATH_INFO percent-encoded, then `?` and the query: the public URL's path |
 * | `QUERY_STRING`    | the raw query, `''` when none; never argv (SECURITY.md §2.5) |
 * | `SERVER_NAME`/`SERVER_PORT`/`HTTPS`/`REQUEST_SCHEME` | the public origin (`--trust-proxy`, `setHost`) |
 * | `REMOTE_ADDR`/`REMOTE_PORT` | the client (through trusted proxies); `''` for a UNIX-socket client |
 * | `CONTENT_TYPE`/`CONTENT_LENGTH` | the body's type; `script.contentLength` |
 * | `HTTP_*`          | each header named `[A-Za-z0-9-]+` but Proxy, Content-*, Transfer-Encoding; `, `-joined |
 * | `HTTP_COOKIE`     | the Cookie fields joined with `; ` |
 * | `HTTP_PROXY`      | never (httpoxy, SECURITY.md §2.4) |
 * | `GATEWAY_INTERFACE`, `SERVER_SOFTWARE`, `SCRIPT_FILENAME`, `DOCUMENT_ROOT` | {@link scriptMetaVariables} |
 *
 * Pinned by test/cgi/environment.test.ts and test/fcgi-client/fastcgi-client.test.ts.
 */
export function cgiMetaVariables(request: Request, script: CgiScriptFacts): Record<string, string> {
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  visitMetaVariables(request, script, true, (name, value) => {
    env[name] = value;
  });
  return env;
}

/**
 * Gives each meta-variable of {@link cgiMetaVariables} to `emit`, in order, each name once (headers
 * first, so no meta-variable can be overwritten by one); without `withScript`, the
 * {@link scriptMetaVariables} are left out for the caller to add. Throws a 400 HttpError for a path
 * that cannot be given to a script.
 */
export function visitMetaVariables(
  request: Request,
  script: CgiScriptFacts,
  withScript: boolean,
  emit: (name: string, value: string) => void,
): void {
  checkScriptSegments(request.prepath, 'SCRIPT_NAME');
  checkScriptSegments(request.postpath, 'PATH_INFO');
  // Repeated fields are joined; most requests have none, so the Map is only made for a repeat.
  const raw = request.requestHeaders.raw;
  const variables: Array<string | null> = [];
  let joined: Map<string, string> | null = null;
  for (const [name] of raw) {
    const variable = variableForHeader(name);
    variables.push(variable);
    if (variable === null) continue;
    if (joined === null && variables.indexOf(variable) !== variables.length - 1) joined = new Map();
  }
  if (joined === null) {
    for (let i = 0; i < raw.length; i++) {
      const variable = variables[i];
      if (variable) emit(variable, raw[i]![1]);
    }
  } else {
    for (let i = 0; i < raw.length; i++) {
      const variable = variables[i];
      if (!variable) continue;
      const earlier = joined.get(variable);
      const separator = variable === 'HTTP_COOKIE' ? '; ' : ', ';
      joined.set(variable, earlier === undefined ? raw[i]![1] : `${earlier}${separator}${raw[i]![1]}`);
    }
    for (const [variable, value] of joined) emit(variable, value);
  }

  const prepath = request.prepath;
  const postpath = request.postpath;
  const scriptName = prepath.length ? `/${prepath.join('/')}` : '';
  const pathInfo = postpath.length ? `/${postpath.join('/')}` : '';
  const encodedPath = [...prepath, ...postpath].map(encodePathSegment).join('/');
  const { name, port } = serverNameAndPort(request);
  const secure = request.isSecure();
  if (withScript) {
    emit('GATEWAY_INTERFACE', 'CGI/1.1');
    emit('SERVER_SOFTWARE', `Trellis/${VERSION}`);
  }
  emit('SERVER_PROTOCOL', request.clientproto === 'HTTP/2' ? 'HTTP/2.0' : request.clientproto);
  emit('SERVER_NAME', name);
  emit('SERVER_PORT', port);
  emit('REQUEST_SCHEME', secure ? 'https' : 'http');
  if (secure) emit('HTTPS', 'on');
  emit('REQUEST_METHOD', request.method);
  emit('SCRIPT_NAME', scriptName);
  if (pathInfo) emit('PATH_INFO', pathInfo);
  if (pathInfo && script.pathTranslated !== null) emit('PATH_TRANSLATED', script.pathTranslated);
  const query = request.queryString;
  emit('QUERY_STRING', query);
  emit('REQUEST_URI', query ? `/${encodedPath}?${query}` : `/${encodedPath}`);
  if (withScript) {
    emit('SCRIPT_FILENAME', script.filename);
    if (script.documentRoot !== null) emit('DOCUMENT_ROOT', script.documentRoot);
  }
  const client = request.getClientAddress();
  if (client && client.type !== 'UNIX') {
    emit('REMOTE_ADDR', client.host);
    emit('REMOTE_PORT', String(client.port));
  } else {
    // A UNIX-socket client has no address; never pretend it is loopback, which scripts may trust.
    emit('REMOTE_ADDR', '');
  }
  if (script.contentLength !== null) emit('CONTENT_LENGTH', String(script.contentLength));
  const type = request.getHeader('content-type');
  if (type !== undefined) emit('CONTENT_TYPE', type);
}

/**
 * The environment for a script answering `request`, from scratch: the request's meta-variables
 * ({@link cgiMetaVariables}), plus `PATH` and the allow-list: `PATH` is `options.path` (default
 * `/usr/bin:/bin`); of the server's environment only `passEnv`, never a name starting `HTTP_`; the
 * meta-variables win over `options.env`. Throws a 400 HttpError for a path that cannot be given to a
 * script. Pure apart from reading `process.env` for `passEnv`.
 *
 * Pinned by test/cgi/environment.test.ts.
 */
export function cgiEnvironment(
  request: Request,
  script: CgiScriptFacts,
  options: CgiEnvironmentOptions = {},
): Record<string, string> {
  const meta = cgiMetaVariables(request, script);
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  env.PATH = options.path ?? DEFAULT_CGI_PATH;
  const serverEnv = options.serverEnv ?? process.env;
  for (const name of options.passEnv ?? []) {
    const value = serverEnv[name];
    if (value !== undefined && SAFE_VARIABLE.test(name) && !name.startsWith('HTTP_')) env[name] = value;
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (SAFE_VARIABLE.test(name)) env[name] = value;
  }
  Object.assign(env, meta);
  delete env.HTTP_PROXY;
  return env;
}
