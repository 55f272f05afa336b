// `trellis web`: build a Site from the options, listen on every endpoint, drain and exit on SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { openAccessLog, terminalAccessLog, type AccessLog } from '../access-log.js';
import type { Endpoint } from '../channels/endpoint.js';
import { listenHttp, readTlsFiles, type TlsFiles } from '../channels/http.js';
import { ListenError, type Listener } from '../channels/listen.js';
import { Site } from '../site.js';
import { VERSION } from '../version.js';
import { CliError, formatHelp, parseOptions } from './options.js';
import { gatewayUrl, hasGatewayListeners, startGatewayListeners } from './gateway-listeners.js';
import { bannerText } from './banner.js';
import { makeDevCertificate } from './dev-certificate.js';
import { loadExport } from './load-module.js';
import { openBrowser } from './open-browser.js';
import { buildRoot, describeProcessors, toResource } from './root.js';
import { SourceWatcher } from '../util/source-watcher.js';
import { wrapRoot } from './proxy-config.js';
import { defaultWebConfig, WEB_OPTIONS, type WebConfig } from './web-config.js';
import { runServerProcess } from './process.js';
import { onReopenLogs } from './signals.js';
import { isWorker, perWorkerCap } from './workers.js';

const USAGE = 'Usage: trellis web [options]\n\nServe a site over HTTP, HTTPS (with HTTP/2) and UNIX sockets.';

/** What `trellis web --help` shows after the options. */
const EXAMPLES: ReadonlyArray<readonly [string, string]> = [
  ['serve the current directory on http://localhost:8080/', 'trellis web'],
  ['serve ./public on port 3000, open it in a browser', 'trellis web --path ./public --port 3000 --open'],
  ['a single-page app: unknown routes get index.html, with CORS for any origin', 'trellis web --path dist --single --cors'],
  ['your own Resource, reloaded when its files change', 'trellis web --class ./site.ts#Root --watch'],
  ['HTTPS and HTTP/2 on 8443 with a development certificate made at start-up', 'trellis web --https 8443'],
  ['only on this machine, access log to a file', 'trellis web --listen tcp:8080:interface=127.0.0.1 --logfile access.log'],
];

/**
 * The access log the config asks for: a file, stdout in the combined format (`-`), or by default the
 * readable log on a terminal stdout and none when stdout is not a terminal (`''`: none).
 */
export function accessLogFor(config: WebConfig, stdout: NodeJS.WriteStream = process.stdout): AccessLog | null {
  if (config.logfile === '') return null;
  if (config.logfile !== null) return openAccessLog(config.logfile, { format: config.process.logFormat === 'json' ? 'json' : 'combined' });
  return stdout.isTTY ? terminalAccessLog(stdout) : null;
}

/**
 * The Site described by `config`. The per-IP cap exempts the `--trust-proxy` front ends, and in a
 * worker of a `--workers` pool is that worker's share of `--max-connections-per-ip`.
 */
export async function buildSite(config: WebConfig, cwd: string): Promise<Site> {
  const root = wrapRoot(await buildRoot(config, cwd), config.proxy);
  const cap = isWorker() ? perWorkerCap(config.maxConnectionsPerIp, config.process.workers) : config.maxConnectionsPerIp;
  return new Site(root, {
    displayTracebacks: config.displayTracebacks,
    accessLog: accessLogFor(config),
    headers: config.addHeaders,
    cors: config.cors ? { origins: config.cors, credentials: config.corsCredentials } : null,
    limits: { maxConnectionsPerIp: cap },
    uncappedPeers: config.proxy.trustProxy,
  });
}

/** The certificate and key files `--https` uses: those given (each defaulting to the other), else `server.pem` when present; null for a development certificate. */
export function httpsFiles(config: WebConfig, cwd: string): { privateKey: string; certKey: string } | null {
  if (config.certificate === null && config.privkey === null) {
    return existsSync(resolvePath(cwd, 'server.pem')) ? { privateKey: 'server.pem', certKey: 'server.pem' } : null;
  }
  const certKey = config.certificate ?? config.privkey!;
  return { privateKey: config.privkey ?? certKey, certKey };
}

/** Where {@link httpEndpoints} puts the paths of a development certificate, so `startListeners` knows to make one. */
export const DEV_CERTIFICATE = '<development certificate>';

/** Every HTTP(S) endpoint the config asks for (tcp:8080 when none). */
export function httpEndpoints(config: WebConfig, cwd = process.cwd()): Endpoint[] {
  const eps = [...config.listen];
  const files = config.https.length ? httpsFiles(config, cwd) : null;
  for (const port of config.https) eps.push({ type: 'ssl', port, privateKey: files?.privateKey ?? DEV_CERTIFICATE, certKey: files?.certKey ?? DEV_CERTIFICATE });
  return eps;
}

/**
 * Starts every listener; if one fails, the others are closed and the error is thrown. `dev` supplies
 * the key and certificate for endpoints naming {@link DEV_CERTIFICATE}.
 */
export async function startListeners(site: Site, endpoints: Endpoint[], dev?: () => TlsFiles): Promise<Listener[]> {
  const tls = new Map<string, TlsFiles>();
  for (const ep of endpoints) {
    if (ep.type !== 'ssl' || tls.has(`${ep.privateKey}\0${ep.certKey}`)) continue;
    const files = ep.privateKey === DEV_CERTIFICATE && dev ? dev() : readTlsFiles(ep.privateKey, ep.certKey);
    tls.set(`${ep.privateKey}\0${ep.certKey}`, files);
  }
  const listeners: Listener[] = [];
  try {
    for (const ep of endpoints) {
      listeners.push(await listenHttp(site, ep, ep.type === 'ssl' ? tls.get(`${ep.privateKey}\0${ep.certKey}`) : undefined));
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close(0)));
    throw err;
  }
  return listeners;
}

/** Closes every listener on SIGTERM or SIGINT, letting in-flight requests finish; a second signal exits at once. */
export function drainOnSignals(listeners: Listener[], site: Site): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`trellis: ${signal} received, finishing in-flight requests\n`);
    Promise.all(listeners.map((l) => l.close(site.limits.shutdownTimeout)))
      .then(() => site.accessLog?.close())
      .then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Runs `trellis web` with `args`; resolves once it is serving. */
export async function runWeb(args: readonly string[]): Promise<void> {
  const config = defaultWebConfig();
  const parsed = parseOptions('web', args, WEB_OPTIONS, config);
  if (parsed.help) {
    process.stdout.write(formatHelp(USAGE, WEB_OPTIONS, EXAMPLES));
    return;
  }
  if (parsed.version) {
    process.stdout.write(`trellis ${VERSION}\n`);
    return;
  }
  if (parsed.positional.length) throw new CliError(`unexpected argument "${parsed.positional[0]}"; options start with -- (run 'trellis web --help')`);
  if (config.corsCredentials && (!config.cors || config.cors.includes('*'))) {
    throw new CliError('--cors-credentials needs named origins, e.g. --cors=https://app.example (browsers refuse credentials with any origin)');
  }
  if (config.single && config.root.kind !== 'path') throw new CliError('--single only applies to --path; serve the app\'s files with --path DIR --single');
  if (config.watch && config.root.kind !== 'class') throw new CliError('--watch reloads a --class module; give --class MODULE#export (files under --path are always served fresh)');
  const endpoints = httpEndpoints(config);
  if (!endpoints.length && !config.ajp.length && !hasGatewayListeners(config)) endpoints.push({ type: 'tcp', port: 8080 });
  await runServerProcess(config.process, {
    endpoints: [...endpoints, ...config.ajp, ...config.fastcgi, ...config.scgi],
    logFiles: config.logfile && config.logfile !== '-' ? [config.logfile] : [],
    start: () => serveWeb(config, endpoints),
  });
}

/**
 * Builds the site and starts every listener in this process (after any --chdir); resolves with the
 * start-up banner's lines, which the process (or a pool's primary) prints once serving.
 */
async function serveWeb(config: WebConfig, endpoints: Endpoint[]): Promise<string[]> {
  const cwd = process.cwd();
  const site = await buildSite(config, cwd);
  const accessLog = site.accessLog;
  if (accessLog) onReopenLogs(() => accessLog.reopen());
  const notes: string[] = [];
  let listeners: Listener[];
  try {
    listeners = await startListeners(site, endpoints, () => {
      const cert = makeDevCertificate();
      notes.push(
        'HTTPS uses a self-signed DEVELOPMENT certificate made at start-up (browsers will warn; not for production):',
        `  valid for ${cert.names.join(', ')} until ${cert.validTo}`,
        `  SHA-256 ${cert.fingerprint}`,
      );
      return cert;
    });
    if (config.ajp.length) {
      const { listenAjp } = await import('../channels/ajp/server.js');
      try {
        for (const ep of config.ajp) listeners.push(await listenAjp(site, ep, { secret: config.ajpSecret, mount: config.mount, trustedPeers: config.gatewayTrustedPeers }));
      } catch (err) {
        await Promise.all(listeners.map((l) => l.close(0)));
        throw err;
      }
    }
  } catch (err) {
    if (err instanceof ListenError) throw new CliError(err.message, 1);
    throw err;
  }
  let gateways: Listener[];
  try {
    gateways = await startGatewayListeners(site, config);
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close(0)));
    throw err;
  }
  const shown = [
    ...listeners.map((listener) => ({ listener })),
    ...gateways.map((listener) => ({ listener, url: gatewayUrl(listener, config.fastcgi.includes(listener.endpoint) ? 'fastcgi' : 'scgi') })),
  ];
  listeners.push(...gateways);
  // Which extensions execute under --path (SECURITY.md §2.1: said at start).
  if (config.root.kind === 'path' || config.root.kind === 'vhost-path') notes.push(await describeProcessors(config.files));
  if (config.cors) notes.push(`CORS: ${config.cors.includes('*') ? 'any origin' : config.cors.join(', ')}${config.corsCredentials ? ', with credentials' : ''}`);
  if (site.accessLog && config.logfile === null) notes.push('Access log below (--logfile FILE to keep it, --no-logfile to hide it)');
  if (config.watch && config.root.kind === 'class') {
    const dir = watchClass(site, config, cwd, config.root.spec);
    notes.push(`Watching ${dir} for changes`);
  }
  const lines = bannerText({ version: VERSION, listeners: shown, serves: describeRoot(config, cwd), notes, interfaces: networkInterfaces() }).trimEnd().split('\n');
  if (config.open) {
    const first = listeners.find((l) => l.port !== null);
    if (first) lines.push(openBrowser(first.url));
  }
  drainOnSignals(listeners, site);
  return lines;
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
  }
}

/**
 * `--watch`: reloads the --class module and the site's files it imports when a file under its
 * directory changes, then swaps the site's root; a module that fails to load keeps the old root and
 * says why. Returns the directory watched.
 */
function watchClass(site: Site, config: WebConfig, cwd: string, spec: string): string {
  const hash = spec.lastIndexOf('#');
  const dir = dirname(resolvePath(cwd, hash === -1 ? spec : spec.slice(0, hash)));
  const watcher = new SourceWatcher();
  let generation = 0;
  let loading: Promise<void> = Promise.resolve();
  watcher.add(dir);
  watcher.onChange((paths) => {
    const mine = ++generation;
    loading = loading.then(async () => {
      try {
        const resource = toResource(await loadExport(spec, cwd, '--class', mine), `--class ${spec}`);
        site.resource = wrapRoot(resource, config.proxy);
        process.stdout.write(`Reloaded ${spec} (${paths.join(', ')} changed)\n`);
      } catch (err) {
        process.stderr.write(`trellis: ${(err as Error).message}; still serving the previous version\n`);
      }
    });
  });
  return dir;
}
