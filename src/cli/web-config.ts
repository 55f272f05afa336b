// The configuration of `trellis web` (and the same keys in config files), and the option table that
// fills it from the command line.
import { parseEndpoint, EndpointError, type Endpoint } from '../channels/endpoint.js';
import { CliError, type OptionSpec } from './options.js';
import { hasControlChars, hasCtl, isToken } from '../http/syntax.js';
import { checkPublicUrl, defaultProxyConfig, parseProxy, parseTrustProxy, type ProxyConfig } from './proxy-config.js';
import { parseSessionsUrl, type SessionsSpec } from '../session/open-store.js';
import { defaultProcessConfig, processOptions, type ProcessConfig } from './process-options.js';
import { isAccountName } from '../users/names.js';

/** Which resource serves `/`: the last root option given wins, as in twistd. */
export type RootChoice =
  | { kind: 'welcome' }
  | { kind: 'path'; dir: string }
  | { kind: 'vhost-path'; dir: string }
  | { kind: 'class'; spec: string }
  | { kind: 'app'; spec: string }
  | { kind: 'resource-script'; file: string }
  | { kind: 'user' };

/** How `--path` serves files (applied in buildRoot, so option order does not matter). */
export interface FilesConfig {
  /** `--index NAME` (repeatable): replaces the index names; null keeps the defaults. */
  indexNames: string[] | null;
  /** `--ignore-ext EXT` (repeatable), and `*` for `--allow-ignore-ext`. */
  ignoreExts: string[];
  /** `--mime-type TYPE`: the type for unknown extensions; null keeps application/octet-stream. */
  defaultType: string | null;
  /** `--mime-type .ext=TYPE` (repeatable). */
  mimeTypes: Array<[string, string]>;
  /**
   * `--processor .ext=KIND` (repeatable): KIND is a registered kind or MODULE#export. They come after
   * the default ones (`effectiveProcessors` in root.ts), so they override them.
   */
  processors: Array<[string, string]>;
  /** `--no-processors`: no processors at all, not even the defaults (`.rpy.ts`, `.rpy.js`, `.cgi`, `.php`); program files answer 403. */
  noProcessors: boolean;
  /** `--no-listing` sets false: directories without an index answer 403. */
  listing: boolean;
  /** `--cache-control VALUE`. */
  cacheControl: string | null;
  /** `--cgi-timeout`, `--cgi-max-processes`, `--cgi-pass-env`: what CGI processors are given. */
  cgi: { timeout: number | null; maxProcesses: number | null; passEnv: string[] };
}

/** Everything `trellis web` can be told. */
export interface WebConfig {
  root: RootChoice;
  /** Static file settings for a `path` root. */
  files: FilesConfig;
  /** HTTP(S) listeners, in the order given. Default: tcp:8080. */
  listen: Endpoint[];
  /** `--https PORT`: an ssl listener using `certificate`/`privkey`. */
  https: number[];
  /** `--certificate FILE`; null when not given (then `server.pem` if present, else a development certificate). */
  certificate: string | null;
  /** `--privkey FILE`; null when not given (as for `certificate`). */
  privkey: string | null;
  /** Headers added to every response (`--add-header "Name: value"`). */
  addHeaders: Array<[string, string]>;
  /**
   * Access log file; `-` for stdout (combined format); null for the default: a readable log on stdout
   * when it is a terminal, none otherwise. `--no-logfile` sets `''`: none at all.
   */
  logfile: string | null;
  /** `--cors[=ORIGINS]`: the origins allowed cross-origin access (`*` for any); null for no CORS headers. */
  cors: string[] | null;
  /** `--cors-credentials`: allow credentialed cross-origin requests (needs named origins). */
  corsCredentials: boolean;
  /** `--single`: serve the root's index.html for missing paths without an extension (single-page apps). */
  single: boolean;
  /** `--watch`: reload the `--class` module when files under its directory change. */
  watch: boolean;
  /** `--open`: open the first URL in a browser once serving. */
  open: boolean;
  displayTracebacks: boolean;
  /** `--ajp EP`: AJP13 listeners (Apache mod_proxy_ajp), in the order given. */
  ajp: Endpoint[];
  /** `--ajp-secret S`: the shared secret AJP requests must carry; required off loopback. */
  ajpSecret: string | null;
  /** `--mount PREFIX`: where the front end mounts the site, for gateways that do not say (AJP, Apache ProxyPass). */
  mount: string | null;
  /** `--fastcgi EP`: FastCGI responder listeners; a TCP endpoint without an interface binds 127.0.0.1. */
  fastcgi: Endpoint[];
  /** `--scgi EP`: SCGI listeners; a TCP endpoint without an interface binds 127.0.0.1. */
  scgi: Endpoint[];
  /** `--gateway-trusted-peers CIDR`: non-loopback peers FastCGI/SCGI accept (required to listen off loopback). */
  gatewayTrustedPeers: string[];
  /** `--trust-proxy`, `--vhost-monster`, `--public-url`, `--proxy` (src/cli/proxy-config.ts). */
  proxy: ProxyConfig;
  /**
   * `--max-connections-per-ip N`: open connections one client address may hold (default 256; with
   * `--workers`, each worker holds an equal share). `--trust-proxy` addresses are exempt.
   */
  maxConnectionsPerIp: number;
  /**
   * `--sessions URL`: the session store (memory:, sqlite:FILE, redis://..., rediss://...); null for the
   * default: memory in one process, a SQLite file in the state directory with `--workers` above 1.
   */
  sessions: SessionsSpec | null;
  /** `--pidfile`, `--daemon`, `--uid`, `--gid`, `--umask`, `--chdir`, `--errorlog`, `--log-format`, `--workers`. */
  process: ProcessConfig;
  /** `--app-kind node|fetch`: how to call an `--app` function; null detects it (src/app/detect.ts). */
  appKind: 'node' | 'fetch' | null;
  /**
   * `--no-light-response` sets false: a Fetch `--app` keeps undici's global `Response` instead of
   * Trellis's `LightResponse` (src/app/light-response.ts).
   */
  lightResponse: boolean;
  /** `--user-scripts`, `--user-vhost DOMAIN`: how the `--user` root serves users (docs/users.md). */
  users: { scripts: boolean; vhost: string | null };
  /** `--personal`, `--personal-group GROUP`: serve as a user's personal server on ~/.trellis-web.sock. */
  personal: { on: boolean; group: string | null };
}

/** A fresh configuration with the defaults. */
export function defaultWebConfig(): WebConfig {
  return {
    root: { kind: 'path', dir: '.' },
    files: {
      indexNames: null,
      ignoreExts: [],
      defaultType: null,
      mimeTypes: [],
      processors: [],
      noProcessors: false,
      listing: true,
      cacheControl: null,
      cgi: { timeout: null, maxProcesses: null, passEnv: [] },
    },
    listen: [],
    https: [],
    certificate: null,
    privkey: null,
    addHeaders: [],
    logfile: null,
    cors: null,
    corsCredentials: false,
    single: false,
    watch: false,
    open: false,
    displayTracebacks: false,
    ajp: [],
    ajpSecret: null,
    mount: null,
    fastcgi: [],
    scgi: [],
    gatewayTrustedPeers: [],
    proxy: defaultProxyConfig(),
    maxConnectionsPerIp: 256,
    sessions: null,
    process: defaultProcessConfig(),
    appKind: null,
    lightResponse: true,
    users: { scripts: false, vhost: null },
    personal: { on: false, group: null },
  };
}

function endpoint(text: string): Endpoint {
  try {
    return parseEndpoint(text);
  } catch (err) {
    if (err instanceof EndpointError) throw new CliError(err.message);
    throw err;
  }
}

/** One `; name=value` media-type parameter, the value a token or a quoted string. */
const PARAMETER = /\s*;\s*([^\s=;"]+)=("[^"\\\0-\x1f]*"|[^\s=;"]+)/y;

/** Whether `text` is a media type: `type/subtype` with optional parameters, tokens as `isToken` says (RFC 9110 §8.3.1). */
function isMediaType(text: string): boolean {
  const m = /^([^\s/;]+)\/([^\s/;]+)/.exec(text);
  if (!m || !isToken(m[1]!) || !isToken(m[2]!)) return false;
  PARAMETER.lastIndex = m[0].length;
  while (PARAMETER.lastIndex < text.length) {
    const p = PARAMETER.exec(text);
    if (!p || !isToken(p[1]!) || (!p[2]!.startsWith('"') && !isToken(p[2]!))) return false;
  }
  return true;
}

/** A gateway endpoint: a bare port or a TCP endpoint without an interface means loopback (SECURITY.md §5.1). */
function gatewayEndpoint(text: string): Endpoint {
  const ep = endpoint(/^\d+$/.test(text.trim()) ? `tcp:${text.trim()}` : text);
  if (ep.type === 'tcp' && ep.interface === undefined) ep.interface = '127.0.0.1';
  return ep;
}

/**
 * The `--cors` value: empty or `*` for any origin, else comma-separated origins, each
 * `scheme://host[:port]` exactly as browsers send it in `Origin` (no path, no trailing slash).
 */
export function parseCorsOrigins(text: string): string[] {
  if (text === '' || text === '*') return ['*'];
  const origins = text.split(',').map((s) => s.trim());
  for (const origin of origins) {
    let ok = false;
    try {
      const u = new URL(origin);
      ok = /^https?:$/.test(u.protocol) && u.origin === origin;
    } catch {
      ok = false;
    }
    if (!ok)
      throw new CliError(
        `--cors needs * or origins like https://app.example or http://localhost:3000 (comma-separated, no path), not "${origin}"`,
      );
  }
  return origins;
}

function port(text: string, option: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw new CliError(`--${option} needs a port number from 0 to 65535, not "${text}"`);
  return Number(text);
}

/** The options of `trellis web`. */
export const WEB_OPTIONS: Array<OptionSpec<WebConfig>> = [
  {
    name: 'port',
    repeatable: true,
    short: 'p',
    value: 'N|EP',
    help: 'HTTP port (or endpoint string); same as --listen',
    apply: (c, v) => void c.listen.push(/^\d+$/.test(v) ? { type: 'tcp', port: port(v, 'port') } : endpoint(v)),
  },
  {
    name: 'listen',
    repeatable: true,
    value: 'EP',
    help: 'listen on an endpoint: tcp:8080, tcp:8080:interface=127.0.0.1, ssl:8443:privateKey=K:certKey=C, unix:/path:mode=660 (repeatable; default tcp:8080)',
    apply: (c, v) => void c.listen.push(endpoint(v)),
  },
  {
    name: 'https',
    repeatable: true,
    value: 'PORT',
    help: 'HTTPS port (HTTP/2 and HTTP/1.1) using --certificate and --privkey; without them, server.pem if present, else a self-signed development certificate made at start-up',
    apply: (c, v) => void c.https.push(port(v, 'https')),
  },
  {
    name: 'certificate',
    short: 'c',
    value: 'FILE',
    help: 'TLS certificate, PEM (default server.pem)',
    apply: (c, v) => void (c.certificate = v),
  },
  {
    name: 'privkey',
    short: 'k',
    value: 'FILE',
    help: 'TLS private key, PEM (default: the certificate file)',
    apply: (c, v) => void (c.privkey = v),
  },
  {
    name: 'class',
    value: 'MODULE#export',
    help: 'serve a Resource class (or instance) exported by a .ts/.js module as the root',
    apply: (c, v) => void (c.root = { kind: 'class', spec: v }),
  },
  {
    name: 'app',
    value: 'MODULE#export',
    help: 'serve a Node app as the site: Express/Connect/Koa/Fastify, a (req, res) listener, a node:http Server, or a Fetch app (Hono, an object with fetch)',
    apply: (c, v) => void (c.root = { kind: 'app', spec: v }),
  },
  {
    name: 'app-kind',
    value: 'node|fetch',
    help: 'how to call an --app function: node for (req, res), fetch for (Request) => Response (default: by its parameters)',
    apply: (c, v) => {
      if (v !== 'node' && v !== 'fetch') throw new CliError(`--app-kind needs node or fetch, not "${v}"`);
      c.appKind = v;
    },
  },
  {
    name: 'no-light-response',
    help: "keep Node's own global Response for a Fetch --app (default: Trellis's LightResponse, made into undici's only when the app reads it)",
    apply: (c) => void (c.lightResponse = false),
  },
  {
    name: 'resource-script',
    value: 'FILE',
    help: 'serve one resource script (a .rpy.ts/.rpy.js module exporting `resource`) as the whole site, reloaded when it changes',
    apply: (c, v) => void (c.root = { kind: 'resource-script', file: v }),
  },
  {
    name: 'path',
    value: 'DIR',
    help: 'serve files from DIR (a file or a directory; default: the current directory)',
    apply: (c, v) => void (c.root = { kind: 'path', dir: v }),
  },
  {
    name: 'user',
    help: "serve each user's ~/public_html at /~NAME/ (users from /etc/passwd; nothing there executes), relay /~NAME.trellis/ to NAME's personal server; / lists them",
    apply: (c) => void (c.root = { kind: 'user' }),
  },
  {
    name: 'user-scripts',
    help: "with --user: run the --path processors (.rpy.ts, .cgi, .php) in user directories too, as the server's user (default: program files there answer 403)",
    apply: (c) => void (c.users.scripts = true),
  },
  {
    name: 'user-vhost',
    value: 'DOMAIN',
    help: "with --user: relay NAME.DOMAIN (e.g. alice.example.com for --user-vhost example.com) to NAME's personal server",
    apply: (c, v) => {
      const domain = v.toLowerCase().replace(/\.$/, '');
      if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(domain))
        throw new CliError(`--user-vhost needs a domain such as example.com, not "${v}"`);
      c.users.vhost = domain;
    },
  },
  {
    name: 'personal',
    help: "serve as this user's personal server on unix:~/.trellis-web.sock (mode 600) for a --user server to relay /~NAME.trellis/ to; forwarding headers are believed from the socket's peer only",
    apply: (c) => void (c.personal.on = true),
  },
  {
    name: 'personal-group',
    value: 'GROUP',
    help: 'with --personal: give the socket to GROUP with mode 660, for a main server running in that group (this user must be in it)',
    apply: (c, v) => {
      if (!isAccountName(v)) throw new CliError(`--personal-group needs a group name or number, not "${v}"`);
      c.personal.group = v;
    },
  },
  {
    name: 'vhost-path',
    value: 'DIR',
    help: 'serve each subdirectory of DIR as the virtual host of its name',
    apply: (c, v) => void (c.root = { kind: 'vhost-path', dir: v }),
  },
  {
    name: 'trust-proxy',
    repeatable: true,
    value: 'CIDR',
    help: 'believe X-Forwarded-*, Forwarded and X-App-* headers from these front ends (repeatable; default nobody)',
    apply: (c, v) => void c.proxy.trustProxy.push(...parseTrustProxy(v)),
  },
  {
    name: 'vhost-monster',
    help: 'mount a VHostMonster at /vhost (/vhost/http/HOST:PORT/...) for trusted front ends',
    apply: (c) => void (c.proxy.vhostMonster = true),
  },
  {
    name: 'public-url',
    value: 'URL',
    help: 'the public URL the site is served at, for front ends that send no headers',
    apply: (c, v) => void (c.proxy.publicUrl = checkPublicUrl(v)),
  },
  {
    name: 'proxy',
    repeatable: true,
    value: 'PATH=URL',
    help: 'reverse-proxy PATH to an http:// or UNIX-socket backend, e.g. /api=http://127.0.0.1:9000/ or /api=unix:/run/api.sock:/base (repeatable)',
    apply: (c, v) => void c.proxy.proxies.push(parseProxy(v)),
  },
  {
    name: 'index',
    repeatable: true,
    short: 'i',
    value: 'NAME',
    help: 'index file name for directories (repeatable; replaces index.html, index.htm, index)',
    apply: (c, v) => {
      if (!v || /[/\\\0]/.test(v)) throw new CliError(`--index needs a file name without slashes, not "${v}"`);
      (c.files.indexNames ??= []).push(v);
    },
  },
  {
    name: 'ignore-ext',
    repeatable: true,
    value: 'EXT',
    help: 'extension tried when a name is missing, e.g. .html so /page finds page.html (repeatable)',
    apply: (c, v) => {
      if (!/^\.?[^/\\\0]+$/.test(v)) throw new CliError(`--ignore-ext needs an extension like .html, not "${v}"`);
      c.files.ignoreExts.push(v.startsWith('.') || v === '*' ? v : `.${v}`);
    },
  },
  {
    name: 'allow-ignore-ext',
    help: 'let /name find name.<any extension>',
    apply: (c) => void c.files.ignoreExts.push('*'),
  },
  {
    name: 'mime-type',
    repeatable: true,
    short: 'm',
    value: 'TYPE|.ext=TYPE',
    help: 'type for unknown extensions (default application/octet-stream), or map one extension (repeatable)',
    apply: (c, v) => {
      const eq = v.indexOf('=');
      const ext = eq === -1 ? null : v.slice(0, eq);
      const type = eq === -1 ? v : v.slice(eq + 1);
      if (!isMediaType(type) || (ext !== null && !/^\.[^/\\\0=]+$/.test(ext))) {
        throw new CliError(`--mime-type needs TYPE or .ext=TYPE with a type like text/plain, not "${v}"`);
      }
      if (ext === null) c.files.defaultType = type;
      else c.files.mimeTypes.push([ext, type]);
    },
  },
  {
    name: 'processor',
    repeatable: true,
    value: '.ext=KIND',
    help: 'handle files with this extension by KIND: script, cgi, cgi:INTERPRETER (e.g. .pl=cgi:/usr/bin/perl), php, fastcgi:ADDRESS (e.g. .php=fastcgi:tcp:127.0.0.1:9000), asis, or MODULE#export (a function (path) => Resource) (repeatable); .rpy.ts/.rpy.js=script, .cgi=cgi and .php=php (with php-cgi) are on by default',
    apply: (c, v) => {
      const eq = v.indexOf('=');
      const ext = v.slice(0, eq);
      const kind = v.slice(eq + 1);
      if (eq === -1 || !/^\.[^/\\\0=]+$/.test(ext) || !kind)
        throw new CliError(`--processor needs .ext=KIND, e.g. .asis=asis, not "${v}"`);
      c.files.processors.push([ext, kind]);
    },
  },
  {
    name: 'no-processors',
    help: 'execute nothing, not even the default .cgi and .php; program files then answer 403',
    apply: (c) => void (c.files.noProcessors = true),
  },
  {
    name: 'cgi-timeout',
    value: 'SECONDS',
    help: 'longest run of a CGI script before its process group is killed (default 60)',
    apply: (c, v) => {
      if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > 86400)
        throw new CliError(`--cgi-timeout needs seconds from 0 to 86400, e.g. 30, not "${v}"`);
      c.files.cgi.timeout = Number(v) * 1000;
    },
  },
  {
    name: 'cgi-max-processes',
    value: 'N',
    help: 'CGI scripts running at once; past it 503 (default 32)',
    apply: (c, v) => {
      if (!/^\d{1,5}$/.test(v) || Number(v) < 1)
        throw new CliError(`--cgi-max-processes needs a whole number from 1 to 99999, not "${v}"`);
      c.files.cgi.maxProcesses = Number(v);
    },
  },
  {
    name: 'cgi-pass-env',
    repeatable: true,
    value: 'NAME',
    help: "hand this variable of the server's environment to CGI scripts, e.g. LANG (repeatable; default none, PATH is /usr/bin:/bin)",
    apply: (c, v) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) || /^HTTP_/i.test(v))
        throw new CliError(`--cgi-pass-env needs a variable name such as LANG (never HTTP_*), not "${v}"`);
      c.files.cgi.passEnv.push(v);
    },
  },
  {
    name: 'no-listing',
    help: 'answer 403 for directories without an index instead of listing them',
    apply: (c) => void (c.files.listing = false),
  },
  {
    name: 'cache-control',
    value: 'VALUE',
    help: 'Cache-Control header for files, e.g. "public, max-age=3600"',
    apply: (c, v) => {
      if (!v || hasControlChars(v))
        throw new CliError(`--cache-control needs a header value without control characters, not "${v}"`);
      c.files.cacheControl = v;
    },
  },
  {
    name: 'add-header',
    repeatable: true,
    value: '"Name: value"',
    help: 'add a header to every response, error pages included (repeatable)',
    apply: (c, v) => {
      const colon = v.indexOf(':');
      const name = colon === -1 ? '' : v.slice(0, colon).trim();
      const value = colon === -1 ? '' : v.slice(colon + 1).trim();
      if (!isToken(name) || hasControlChars(value)) {
        throw new CliError(`--add-header needs "Name: value" with a valid header name, not "${v}"`);
      }
      c.addHeaders.push([name, value]);
    },
  },
  {
    name: 'logfile',
    short: 'l',
    value: 'FILE',
    help: "access log in the combined format ('-' for stdout); default: a readable log on stdout when it is a terminal (coloured unless NO_COLOR is set), none otherwise",
    apply: (c, v) => {
      if (!v) throw new CliError("--logfile needs a file name, or '-' for stdout (--no-logfile turns the log off)");
      c.logfile = v;
    },
  },
  { name: 'no-logfile', help: 'no access log, not even on a terminal', apply: (c) => void (c.logfile = '') },
  {
    name: 'cors',
    value: 'ORIGINS',
    optionalValue: true,
    help: 'allow cross-origin requests from any origin, or only from --cors=https://a.example,http://localhost:3000; answers preflights (OPTIONS with Access-Control-Request-Method)',
    apply: (c, v) => void (c.cors = parseCorsOrigins(v)),
  },
  {
    name: 'cors-credentials',
    help: 'let --cors origins send cookies and credentials (Access-Control-Allow-Credentials)',
    apply: (c) => void (c.corsCredentials = true),
  },
  {
    name: 'single',
    help: "single-page app: a missing path without an extension (/users/42) gets --path's index.html; a missing /app.js stays 404",
    apply: (c) => void (c.single = true),
  },
  {
    name: 'watch',
    help: 'reload the --class module (and the files it imports) when a file in its directory changes',
    apply: (c) => void (c.watch = true),
  },
  {
    name: 'open',
    help: 'open the site in a browser once it is serving (nothing happens where there is no browser)',
    apply: (c) => void (c.open = true),
  },
  {
    name: 'display-tracebacks',
    help: 'show error stacks in 500 pages (never on a public site)',
    apply: (c) => void (c.displayTracebacks = true),
  },
  {
    name: 'notracebacks',
    short: 'n',
    help: 'do not show error stacks (the default)',
    apply: (c) => void (c.displayTracebacks = false),
  },
  {
    name: 'ajp',
    repeatable: true,
    value: 'EP',
    help: 'serve AJP13 (Apache mod_proxy_ajp) on an endpoint: 8009 or tcp:8009 (loopback), unix:/run/app.ajp (repeatable)',
    apply: (c, v) => void c.ajp.push(gatewayEndpoint(v)),
  },
  {
    name: 'ajp-secret',
    value: 'S',
    help: 'shared secret AJP requests must carry (Apache ProxyPass ... secret=S); required off loopback',
    apply: (c, v) => {
      if (!v || hasCtl(v)) throw new CliError('--ajp-secret needs a non-empty secret without control characters');
      c.ajpSecret = v;
    },
  },
  {
    name: 'mount',
    value: 'PREFIX',
    help: 'the path the front end serves the site under, for gateways that do not report it (AJP, Apache ProxyPass to FastCGI/SCGI); default: SCRIPT_NAME',
    apply: (c, v) => {
      if (!v.startsWith('/') || hasCtl(v) || /[?#]/.test(v))
        throw new CliError(`--mount needs a path starting with /, like /app, not "${v}"`);
      c.mount = v;
    },
  },
  {
    name: 'fastcgi',
    repeatable: true,
    value: 'EP',
    help: 'serve FastCGI (nginx fastcgi_pass, Apache mod_proxy_fcgi, lighttpd, HAProxy) on an endpoint: 9000 or tcp:9000 (loopback), unix:/run/app.fcgi (repeatable)',
    apply: (c, v) => void c.fastcgi.push(gatewayEndpoint(v)),
  },
  {
    name: 'scgi',
    repeatable: true,
    value: 'EP',
    help: 'serve SCGI (nginx scgi_pass, Apache mod_proxy_scgi, lighttpd mod_scgi) on an endpoint: 4000 or tcp:4000 (loopback), unix:/run/app.scgi (repeatable)',
    apply: (c, v) => void c.scgi.push(gatewayEndpoint(v)),
  },
  {
    name: 'gateway-trusted-peers',
    repeatable: true,
    value: 'CIDR',
    help: 'front-end addresses allowed to reach --fastcgi/--scgi off loopback, e.g. 10.0.0.0/8 (repeatable or comma-separated)',
    apply: (c, v) => void c.gatewayTrustedPeers.push(...v.split(',').map((s) => s.trim())),
  },
  {
    name: 'max-connections-per-ip',
    value: 'N',
    help: 'open connections one client address may hold (default 256); --trust-proxy front ends are exempt',
    apply: (c, v) => {
      if (!/^\d{1,7}$/.test(v) || Number(v) < 1)
        throw new CliError(`--max-connections-per-ip needs a number of 1 or more, not "${v}"`);
      c.maxConnectionsPerIp = Number(v);
    },
  },
  {
    name: 'sessions',
    value: 'URL',
    help: 'session store: memory: (default in one process), sqlite:FILE (default with --workers above 1: a file in the state directory), redis://[:password@]host:port/db or rediss:// (TLS) for several machines',
    apply: (c, v) => {
      try {
        c.sessions = parseSessionsUrl(v);
      } catch (err) {
        throw new CliError(`--sessions: ${(err as Error).message}`);
      }
    },
  },
  ...processOptions<WebConfig>(),
];
