// `trellis web`, written as a plugin like any other: its options are WEB_OPTIONS (web-config.ts), its
// build makes the Site and names its listeners; serving (the process options, the banner),
// --save-config, --config-dir and SIGHUP are the command runner's (run.ts).
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { openAccessLog, terminalAccessLog, type AccessLog } from '../access-log.js';
import type { Endpoint } from '../channels/endpoint.js';
import { Site } from '../site.js';
import { PERSONAL_SOCKET_NAME, PERSONAL_SUFFIX, personalSocketPath } from '../users/names.js';
import { SourceWatcher } from '../util/source-watcher.js';
import { statIs } from '../util/stat-is.js';
import { definePlugin, type PluginOption, type PluginOptionValues } from './app.js';
import { UNWRAPPED, type WrappedSiteDefinition } from './app-plan.js';
import { DEV_CERTIFICATE } from './dev-certificate.js';
import { loadExport, nextModuleGeneration } from './load-module.js';
import { CliError } from './options.js';
import { OptionError } from './plugin.js';
import { wrapRoot } from './proxy-config.js';
import { buildRoot, describeProcessors, toResource } from './root.js';
import { declareServiceFiles, runPluginCommand } from './run.js';
import { defaultWebConfig, WEB_OPTIONS, type WebConfig } from './web-config.js';
import { isWorker, perWorkerCap } from './workers.js';
import { describeSessions, openSessionStore, resolveSessionsSpec, type SessionsSpec } from '../session/open-store.js';
import type { SessionStore } from '../session/session.js';
import { defaultSessionFile } from './state-dir.js';

export { DEV_CERTIFICATE } from './dev-certificate.js';

const USAGE = 'Usage: trellis web [options]\n\nServe a site over HTTP, HTTPS (with HTTP/2) and UNIX sockets.';

/** What `trellis web --help` shows after the options. */
const EXAMPLES: ReadonlyArray<readonly [string, string]> = [
  ['serve the current directory on http://localhost:8080/', 'trellis web'],
  ['serve ./public on port 3000, open it in a browser', 'trellis web --path ./public --port 3000 --open'],
  [
    'a single-page app: unknown routes get index.html, with CORS for any origin',
    'trellis web --path dist --single --cors',
  ],
  ['your own Resource, reloaded when its files change', 'trellis web --class ./site.ts#Root --watch'],
  ['HTTPS and HTTP/2 on 8443 with a development certificate made at start-up', 'trellis web --https 8443'],
  [
    'only on this machine, access log to a file',
    'trellis web --listen tcp:8080:interface=127.0.0.1 --logfile access.log',
  ],
  [
    'keep these options in a file and serve it (SIGHUP reads it again)',
    'trellis web --path ./public --save-config site.json && trellis run site.json',
  ],
];

/** Checks what no single option can: combinations. */
function checkCombinations(config: WebConfig): void {
  if (config.corsCredentials && (!config.cors || config.cors.includes('*'))) {
    throw new OptionError(
      'cors-credentials',
      '--cors-credentials needs named origins, e.g. --cors=https://app.example (browsers refuse credentials with any origin)',
    );
  }
  if (config.single && config.root.kind !== 'path')
    throw new OptionError('single', "--single only applies to --path; serve the app's files with --path DIR --single");
  if (config.users.scripts && config.root.kind !== 'user')
    throw new OptionError(
      'user-scripts',
      '--user-scripts only applies to --user; add --user to serve user directories',
    );
  if (config.users.vhost !== null && config.root.kind !== 'user')
    throw new OptionError(
      'user-vhost',
      '--user-vhost only applies to --user; add --user to relay NAME.DOMAIN to personal servers',
    );
  if (config.personal.group !== null && !config.personal.on)
    throw new OptionError(
      'personal-group',
      '--personal-group only applies to --personal; add --personal to serve on ~/.trellis-web.sock',
    );
  if (config.personal.group !== null && (config.listen.length || config.https.length)) {
    throw new OptionError(
      'personal-group',
      '--personal-group sets the group of ~/.trellis-web.sock; with --listen give unix:PATH:group=GROUP instead',
    );
  }
  if (config.personal.on && config.root.kind === 'user')
    throw new OptionError(
      'personal',
      "--personal serves one user's site and --user everyone's: run them as two servers",
    );
  if (config.personal.on && config.process.uid !== null) {
    throw new OptionError(
      'personal',
      '--personal runs as the user it serves, so its socket goes in their home: start it as that user (runuser -u NAME -- trellis web --personal) instead of with --uid',
    );
  }
  if (config.watch && config.root.kind !== 'class')
    throw new OptionError(
      'watch',
      '--watch reloads a --class module; give --class MODULE#export (files under --path are always served fresh)',
    );
}

/** The WebConfig that option values describe, applied in their order; a bad value is an OptionError naming its key. */
export function webConfigOf(values: PluginOptionValues): WebConfig {
  const config = defaultWebConfig();
  for (const [key, value] of Object.entries(values)) {
    const spec = WEB_OPTIONS.find((s) => s.name === key);
    if (!spec) throw new OptionError(key, `unknown option of "web"; run 'trellis web --help' for the list`);
    try {
      for (const item of Array.isArray(value) ? value : [value]) spec.apply(config, item === true ? '' : item);
    } catch (err) {
      if (err instanceof CliError) throw new OptionError(key, err.message);
      throw err;
    }
  }
  checkCombinations(config);
  return config;
}

/**
 * The access log the config asks for: a file, stdout in the combined format (`-`), or by default the
 * readable log on a terminal stdout and none when stdout is not a terminal (`''`: none).
 */
export function accessLogFor(config: WebConfig, stdout: NodeJS.WriteStream = process.stdout): AccessLog | null {
  if (config.logfile === '') return null;
  if (config.logfile !== null)
    return openAccessLog(config.logfile, { format: config.process.logFormat === 'json' ? 'json' : 'combined' });
  return stdout.isTTY ? terminalAccessLog(stdout) : null;
}

/** The certificate and key files `--https` uses: those given (each defaulting to the other), else `server.pem` when present; null for a development certificate. */
export function httpsFiles(config: WebConfig, cwd: string): { privateKey: string; certKey: string } | null {
  if (config.certificate === null && config.privkey === null) {
    return existsSync(resolvePath(cwd, 'server.pem')) ? { privateKey: 'server.pem', certKey: 'server.pem' } : null;
  }
  const certKey = config.certificate ?? config.privkey!;
  return { privateKey: config.privkey ?? certKey, certKey };
}

/** `ep` with its file paths made absolute from `cwd` (a development certificate stays as it is). */
function absoluteEndpoint(e: Endpoint, cwd: string): Endpoint {
  const abs = (p: string) => (p === DEV_CERTIFICATE ? p : resolvePath(cwd, p));
  return e.type === 'unix'
    ? { ...e, path: abs(e.path) }
    : e.type === 'ssl'
      ? { ...e, privateKey: abs(e.privateKey), certKey: abs(e.certKey) }
      : e;
}

/** Every HTTP(S) endpoint the config asks for, paths absolute from `cwd`; `--https` without files gets {@link DEV_CERTIFICATE}. */
export function httpEndpoints(config: WebConfig, cwd = process.cwd()): Endpoint[] {
  const eps = [...config.listen];
  const files = config.https.length ? httpsFiles(config, cwd) : null;
  for (const port of config.https)
    eps.push({
      type: 'ssl',
      port,
      privateKey: files?.privateKey ?? DEV_CERTIFICATE,
      certKey: files?.certKey ?? DEV_CERTIFICATE,
    });
  return eps.map((e) => absoluteEndpoint(e, cwd));
}

/** The banner's line on what is served. */
function describeRoot(config: WebConfig, cwd: string): string {
  const root = config.root;
  switch (root.kind) {
    case 'path': {
      const extras = [config.files.listing ? 'directory listings on' : 'directory listings off'];
      if (config.single) extras.push('--single: index.html for app routes');
      return `Files from ${resolvePath(cwd, root.dir)} (${extras.join('; ')})`;
    }
    case 'vhost-path':
      return `Virtual hosts from the subdirectories of ${resolvePath(cwd, root.dir)}`;
    case 'class':
      return `Resource ${root.spec} (from ${cwd})`;
    case 'app':
      return `Node app ${root.spec} (from ${cwd})`;
    case 'resource-script':
      return `Resource script ${resolvePath(cwd, root.file)} (reloaded when it changes)`;
    case 'welcome':
      return 'The welcome page (nothing to serve was given)';
    case 'user':
      return `Users' ~/public_html at /~NAME/ (from /etc/passwd), personal servers at /~NAME${PERSONAL_SUFFIX}/${config.users.vhost ? ` and NAME.${config.users.vhost}` : ''}`;
  }
}

/**
 * `--watch`: reloads the --class module and the site's files it imports when a file under its
 * directory changes, then swaps the site's root; a module that fails to load keeps the old root and
 * says why. Returns the directory watched and the watcher (closed when the site is replaced).
 */
function watchClass(site: Site, config: WebConfig, cwd: string, spec: string): { dir: string; watcher: SourceWatcher } {
  const hash = spec.lastIndexOf('#');
  const dir = dirname(resolvePath(cwd, hash === -1 ? spec : spec.slice(0, hash)));
  const watcher = new SourceWatcher();
  let loading: Promise<void> = Promise.resolve();
  watcher.add(dir);
  watcher.onChange((paths) => {
    const generation = nextModuleGeneration();
    loading = loading.then(async () => {
      try {
        const resource = toResource(await loadExport(spec, cwd, '--class', generation), `--class ${spec}`);
        site.resource = wrapRoot(resource, config.proxy);
        process.stdout.write(`Reloaded ${spec} (${paths.join(', ')} changed)\n`);
      } catch (err) {
        process.stderr.write(`trellis: ${(err as Error).message}; still serving the previous version\n`);
      }
    });
  });
  return { dir, watcher };
}

/**
 * The Site described by `config`, with the root before its proxy layers (where drop-ins add), its
 * listeners and its banner lines. The per-IP cap exempts the `--trust-proxy` front ends, and in a
 * worker of a `--workers` pool is that worker's share of `--max-connections-per-ip`.
 */
export async function buildWebSite(config: WebConfig, cwd: string): Promise<WrappedSiteDefinition> {
  const root = await buildRoot(config, cwd);
  // --personal listens on ~/.trellis-web.sock unless --listen or --https name listeners.
  const personal =
    config.personal.on && !config.listen.length && !config.https.length ? personalEndpoint(config) : null;
  const personalRoot = config.personal.on ? (await import('../users/personal-server.js')).personalRoot : null;
  const wrap = (r: typeof root) => (personalRoot ? personalRoot(wrapRoot(r, config.proxy)) : wrapRoot(r, config.proxy));
  const accessLog = accessLogFor(config);
  const cap = isWorker()
    ? perWorkerCap(config.maxConnectionsPerIp, config.process.workers)
    : config.maxConnectionsPerIp;
  const sessions = sessionsFor(config, cwd);
  const sessionStore = await openStore(sessions);
  const site = new Site(wrap(root), {
    sessionStore,
    displayTracebacks: config.displayTracebacks,
    accessLog,
    headers: config.addHeaders,
    cors: config.cors ? { origins: config.cors, credentials: config.corsCredentials } : null,
    limits: { maxConnectionsPerIp: cap },
    uncappedPeers: config.proxy.trustProxy,
  });
  const notes: string[] = [];
  if (sessions.kind !== 'memory' || config.sessions) notes.push(`Sessions: ${describeSessions(sessions)}`);
  // Which extensions execute under --path (SECURITY.md §2.1: said at start).
  if (config.root.kind === 'path' || config.root.kind === 'vhost-path')
    notes.push(await describeProcessors(config.files));
  if (config.root.kind === 'user') {
    notes.push(
      config.users.scripts
        ? `User directories: ${await describeProcessors(config.files)}`
        : 'Nothing executes in user directories (--user-scripts allows it); program files there answer 403',
    );
  }
  if (config.personal.on) {
    const socket = personal ? ` (${personal.path}, mode ${(personal.mode ?? 0).toString(8)})` : '';
    notes.push(`Personal server: forwarding headers believed from a UNIX-socket peer only${socket}`);
  }
  if (config.cors)
    notes.push(
      `CORS: ${config.cors.includes('*') ? 'any origin' : config.cors.join(', ')}${config.corsCredentials ? ', with credentials' : ''}`,
    );
  if (accessLog && config.logfile === null)
    notes.push('Access log below (--logfile FILE to keep it, --no-logfile to hide it)');
  let watcher: SourceWatcher | null = null;
  if (config.watch && config.root.kind === 'class') {
    const watching = watchClass(site, config, cwd, config.root.spec);
    watcher = watching.watcher;
    notes.push(`Watching ${watching.dir} for changes`);
  }
  const dispose = async () => {
    watcher?.close();
    await sessionStore.close?.();
    await accessLog?.close();
  };
  return {
    site,
    listen: personal ? [personal] : httpEndpoints(config, cwd),
    ajp: config.ajp.map((e) => absoluteEndpoint(e, cwd)),
    fastcgi: config.fastcgi.map((e) => absoluteEndpoint(e, cwd)),
    scgi: config.scgi.map((e) => absoluteEndpoint(e, cwd)),
    gatewayTrustedPeers: config.gatewayTrustedPeers,
    ...(config.mount !== null ? { mount: config.mount } : {}),
    ...(config.ajpSecret !== null ? { ajpSecret: config.ajpSecret } : {}),
    [UNWRAPPED]: { root, wrap },
    serves: describeRoot(config, cwd),
    notes,
    open: config.open,
    dispose,
  };
}

/**
 * The session store `config` asks for: `--sessions`, else memory in one process and, with `--workers`
 * above 1, a SQLite file in the state directory that every worker shares and that outlives restarts.
 */
function sessionsFor(config: WebConfig, cwd: string): SessionsSpec {
  if (config.sessions) return resolveSessionsSpec(config.sessions, cwd);
  if (config.process.workers <= 1) return { kind: 'memory' };
  const listeners = [...config.listen, ...config.https].map((e) => JSON.stringify(e));
  return { kind: 'sqlite', file: defaultSessionFile(cwd, listeners) };
}

/** Opens the session store; one line naming the store and the reason when it cannot be. */
async function openStore(spec: SessionsSpec): Promise<SessionStore> {
  try {
    return await openSessionStore(spec);
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code && !(err as Error).message.includes((err as NodeJS.ErrnoException).code ?? '')
        ? `${(err as NodeJS.ErrnoException).code}: `
        : '';
    throw new CliError(
      `Cannot open the session store ${describeSessions(spec)}: ${why}${(err as Error).message.split('\n')[0]}`,
    );
  }
}

/**
 * The socket `--personal` listens on: ~/.trellis-web.sock in the home directory of the user running
 * it (from the user database, not $HOME), mode 600, or 660 and `--personal-group`'s group.
 */
function personalEndpoint(config: WebConfig): Extract<Endpoint, { type: 'unix' }> {
  const me = userInfo();
  if (!statIs(me.homedir, (st) => st.isDirectory())) {
    throw new CliError(
      `--personal: the home directory ${me.homedir} of user ${me.username} does not exist; create it (the socket ${PERSONAL_SOCKET_NAME} goes there) or give --listen unix:PATH`,
    );
  }
  const group = config.personal.group;
  return {
    type: 'unix',
    path: personalSocketPath(me.homedir),
    mode: group === null ? 0o600 : 0o660,
    ...(group === null ? {} : { group }),
  };
}

/** `config` with the paths it opens by name made absolute from `cwd` (certificates, access log). */
function resolvePaths(config: WebConfig, cwd: string): WebConfig {
  const abs = (p: string | null) => (p === null ? null : resolvePath(cwd, p));
  return {
    ...config,
    certificate: abs(config.certificate),
    privkey: abs(config.privkey),
    logfile:
      config.logfile === null || config.logfile === '' || config.logfile === '-'
        ? config.logfile
        : resolvePath(cwd, config.logfile),
  };
}

/** The `web` plugin: a static file server, a Resource class, a Node app, virtual hosts, gateways (the `twistd web` idea). */
export const webPlugin = definePlugin({
  name: 'web',
  description: 'serve a site (files, resources, apps) over HTTP, HTTPS, HTTP/2 and the gateways',
  options: Object.fromEntries(
    WEB_OPTIONS.map((s): [string, PluginOption] => [
      s.name,
      {
        help: s.help,
        ...(s.value !== undefined ? { value: s.value } : {}),
        ...(s.short ? { short: s.short } : {}),
        ...(s.repeatable ? { repeatable: true } : {}),
        ...(s.optionalValue ? { optionalValue: true } : {}),
      },
    ]),
  ),
  check: (values) => void webConfigOf(values),
  build: async (values, { cwd }) => {
    const config = resolvePaths(webConfigOf(values), cwd);
    return { sites: [await buildWebSite(config, cwd)] };
  },
});

declareServiceFiles(webPlugin, (values, cwd) => {
  const config = resolvePaths(webConfigOf(values), cwd);
  const abs = (e: Endpoint) => absoluteEndpoint(e, cwd);
  return {
    endpoints: [...config.listen.map(abs), ...config.ajp.map(abs), ...config.fastcgi.map(abs), ...config.scgi.map(abs)],
    logFiles: config.logfile && config.logfile !== '-' ? [config.logfile] : [],
  };
});

/** Runs `trellis web` with `args`; resolves once it is serving. */
export async function runWeb(args: readonly string[]): Promise<void> {
  await runPluginCommand(webPlugin, args, USAGE, EXAMPLES);
}
