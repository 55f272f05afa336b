// The configuration of `trellis web` (and the same keys in config files), and the option table that
// fills it from the command line.
import { parseEndpoint, EndpointError, type Endpoint } from '../channels/endpoint.js';
import { CliError, type OptionSpec } from './options.js';
import { hasControlChars, hasCtl, isToken } from '../http/syntax.js';
import { checkPublicUrl, defaultProxyConfig, parseProxy, parseTrustProxy, type ProxyConfig } from './proxy-config.js';

/** Which resource serves `/`: the last root option given wins, as in twistd. */
export type RootChoice =
  | { kind: 'welcome' }
  | { kind: 'path'; dir: string }
  | { kind: 'vhost-path'; dir: string }
  | { kind: 'class'; spec: string };

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
  /** `--processor .ext=KIND` (repeatable): KIND is a registered kind or MODULE#export. */
  processors: Array<[string, string]>;
  /** `--no-processors`: no processors at all, not even the defaults. */
  noProcessors: boolean;
  /** `--no-listing` sets false: directories without an index answer 403. */
  listing: boolean;
  /** `--cache-control VALUE`. */
  cacheControl: string | null;
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
  certificate: string;
  privkey: string;
  /** Headers added to every response (`--add-header "Name: value"`). */
  addHeaders: Array<[string, string]>;
  /** Access log file; `-` for stdout; null for none. */
  logfile: string | null;
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
}

/** A fresh configuration with the defaults. */
export function defaultWebConfig(): WebConfig {
  return {
    root: { kind: 'path', dir: '.' },
    files: { indexNames: null, ignoreExts: [], defaultType: null, mimeTypes: [], processors: [], noProcessors: false, listing: true, cacheControl: null },
    listen: [],
    https: [],
    certificate: 'server.pem',
    privkey: 'server.pem',
    addHeaders: [],
    logfile: null,
    displayTracebacks: false,
    ajp: [],
    ajpSecret: null,
    mount: null,
    fastcgi: [],
    scgi: [],
    gatewayTrustedPeers: [],
    proxy: defaultProxyConfig(),
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

function port(text: string, option: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new CliError(`--${option} needs a port number from 0 to 65535, not "${text}"`);
  return Number(text);
}

/** The options of `trellis web`. */
export const WEB_OPTIONS: Array<OptionSpec<WebConfig>> = [
  {
    name: 'port', repeatable: true,
    short: 'p',
    value: 'N|EP',
    help: 'HTTP port (or endpoint string); same as --listen',
    apply: (c, v) => void c.listen.push(/^\d+$/.test(v) ? { type: 'tcp', port: port(v, 'port') } : endpoint(v)),
  },
  {
    name: 'listen', repeatable: true,
    value: 'EP',
    help: 'listen on an endpoint: tcp:8080, tcp:8080:interface=127.0.0.1, ssl:8443:privateKey=K:certKey=C, unix:/path:mode=660 (repeatable; default tcp:8080)',
    apply: (c, v) => void c.listen.push(endpoint(v)),
  },
  { name: 'https', repeatable: true, value: 'PORT', help: 'HTTPS port (HTTP/2 and HTTP/1.1) using --certificate and --privkey', apply: (c, v) => void c.https.push(port(v, 'https')) },
  { name: 'certificate', short: 'c', value: 'FILE', help: 'TLS certificate, PEM (default server.pem)', apply: (c, v) => void (c.certificate = v) },
  { name: 'privkey', short: 'k', value: 'FILE', help: 'TLS private key, PEM (default server.pem)', apply: (c, v) => void (c.privkey = v) },
  {
    name: 'class',
    value: 'MODULE#export',
    help: 'serve a Resource class (or instance) exported by a .ts/.js module as the root',
    apply: (c, v) => void (c.root = { kind: 'class', spec: v }),
  },
  { name: 'path', value: 'DIR', help: 'serve files from DIR (a file or a directory; default: the current directory)', apply: (c, v) => void (c.root = { kind: 'path', dir: v }) },
  { name: 'vhost-path', value: 'DIR', help: 'serve each subdirectory of DIR as the virtual host of its name', apply: (c, v) => void (c.root = { kind: 'vhost-path', dir: v }) },
  {
    name: 'trust-proxy', repeatable: true,
    value: 'CIDR',
    help: 'believe X-Forwarded-*, Forwarded and X-App-* headers from these front ends (repeatable; default nobody)',
    apply: (c, v) => void c.proxy.trustProxy.push(...parseTrustProxy(v)),
  },
  { name: 'vhost-monster', help: 'mount a VHostMonster at /vhost (/vhost/http/HOST:PORT/...) for trusted front ends', apply: (c) => void (c.proxy.vhostMonster = true) },
  { name: 'public-url', value: 'URL', help: 'the public URL the site is served at, for front ends that send no headers', apply: (c, v) => void (c.proxy.publicUrl = checkPublicUrl(v)) },
  { name: 'proxy', repeatable: true, value: 'PATH=URL', help: 'reverse-proxy PATH to an http:// backend, e.g. /api=http://127.0.0.1:9000/ (repeatable)', apply: (c, v) => void c.proxy.proxies.push(parseProxy(v)) },
  {
    name: 'index', repeatable: true,
    short: 'i',
    value: 'NAME',
    help: 'index file name for directories (repeatable; replaces index.html, index.htm, index)',
    apply: (c, v) => {
      if (!v || /[/\\\0]/.test(v)) throw new CliError(`--index needs a file name without slashes, not "${v}"`);
      (c.files.indexNames ??= []).push(v);
    },
  },
  {
    name: 'ignore-ext', repeatable: true,
    value: 'EXT',
    help: 'extension tried when a name is missing, e.g. .html so /page finds page.html (repeatable)',
    apply: (c, v) => {
      if (!/^\.?[^/\\\0]+$/.test(v)) throw new CliError(`--ignore-ext needs an extension like .html, not "${v}"`);
      c.files.ignoreExts.push(v.startsWith('.') || v === '*' ? v : `.${v}`);
    },
  },
  { name: 'allow-ignore-ext', help: 'let /name find name.<any extension>', apply: (c) => void c.files.ignoreExts.push('*') },
  {
    name: 'mime-type', repeatable: true,
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
    name: 'processor', repeatable: true,
    value: '.ext=KIND',
    help: 'handle files with this extension by KIND: asis, or MODULE#export (a function (path) => Resource) (repeatable)',
    apply: (c, v) => {
      const eq = v.indexOf('=');
      const ext = v.slice(0, eq);
      const kind = v.slice(eq + 1);
      if (eq === -1 || !/^\.[^/\\\0=]+$/.test(ext) || !kind) throw new CliError(`--processor needs .ext=KIND, e.g. .asis=asis, not "${v}"`);
      c.files.processors.push([ext, kind]);
    },
  },
  { name: 'no-processors', help: 'serve every file as it is (no processors)', apply: (c) => void (c.files.noProcessors = true) },
  { name: 'no-listing', help: 'answer 403 for directories without an index instead of listing them', apply: (c) => void (c.files.listing = false) },
  {
    name: 'cache-control',
    value: 'VALUE',
    help: 'Cache-Control header for files, e.g. "public, max-age=3600"',
    apply: (c, v) => {
      if (!v || hasControlChars(v)) throw new CliError(`--cache-control needs a header value without control characters, not "${v}"`);
      c.files.cacheControl = v;
    },
  },
  {
    name: 'add-header', repeatable: true,
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
  { name: 'logfile', short: 'l', value: 'FILE', help: "access log in the combined format ('-' for stdout)", apply: (c, v) => void (c.logfile = v) },
  { name: 'display-tracebacks', help: 'show error stacks in 500 pages (never on a public site)', apply: (c) => void (c.displayTracebacks = true) },
  { name: 'notracebacks', short: 'n', help: 'do not show error stacks (the default)', apply: (c) => void (c.displayTracebacks = false) },
  {
    name: 'ajp', repeatable: true,
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
      if (!v.startsWith('/') || hasCtl(v) || /[?#]/.test(v)) throw new CliError(`--mount needs a path starting with /, like /app, not "${v}"`);
      c.mount = v;
    },
  },
  {
    name: 'fastcgi', repeatable: true,
    value: 'EP',
    help: 'serve FastCGI (nginx fastcgi_pass, Apache mod_proxy_fcgi, lighttpd, HAProxy) on an endpoint: 9000 or tcp:9000 (loopback), unix:/run/app.fcgi (repeatable)',
    apply: (c, v) => void c.fastcgi.push(gatewayEndpoint(v)),
  },
  {
    name: 'scgi', repeatable: true,
    value: 'EP',
    help: 'serve SCGI (nginx scgi_pass, Apache mod_proxy_scgi, lighttpd mod_scgi) on an endpoint: 4000 or tcp:4000 (loopback), unix:/run/app.scgi (repeatable)',
    apply: (c, v) => void c.scgi.push(gatewayEndpoint(v)),
  },
  {
    name: 'gateway-trusted-peers', repeatable: true,
    value: 'CIDR',
    help: 'front-end addresses allowed to reach --fastcgi/--scgi off loopback, e.g. 10.0.0.0/8 (repeatable or comma-separated)',
    apply: (c, v) => void c.gatewayTrustedPeers.push(...v.split(',').map((s) => s.trim())),
  },
];
