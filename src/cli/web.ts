// `trellis web`: build a Site from the options, listen on every endpoint, drain and exit on SIGTERM/SIGINT.
import { resolve as resolvePath } from 'node:path';
import { openAccessLog } from '../access-log.js';
import type { Endpoint } from '../channels/endpoint.js';
import { listenHttp, readTlsFiles, type TlsFiles } from '../channels/http.js';
import { ListenError, type Listener } from '../channels/listen.js';
import { Site } from '../site.js';
import { VERSION } from '../version.js';
import { CliError, formatHelp, parseOptions } from './options.js';
import { gatewayUrl, hasGatewayListeners, startGatewayListeners } from './gateway-listeners.js';
import { buildRoot, describeProcessors } from './root.js';
import { wrapRoot } from './proxy-config.js';
import { defaultWebConfig, WEB_OPTIONS, type WebConfig } from './web-config.js';

const USAGE = 'Usage: trellis web [options]\n\nServe a site over HTTP, HTTPS (with HTTP/2) and UNIX sockets.';

/** The Site described by `config`. */
export async function buildSite(config: WebConfig, cwd: string): Promise<Site> {
  const root = wrapRoot(await buildRoot(config, cwd), config.proxy);
  return new Site(root, {
    displayTracebacks: config.displayTracebacks,
    accessLog: config.logfile ? openAccessLog(config.logfile) : null,
    headers: config.addHeaders,
  });
}

/** Every HTTP(S) endpoint the config asks for (tcp:8080 when none). */
export function httpEndpoints(config: WebConfig): Endpoint[] {
  const eps = [...config.listen];
  for (const port of config.https) eps.push({ type: 'ssl', port, privateKey: config.privkey, certKey: config.certificate });
  return eps;
}

/** Starts every listener; if one fails, the others are closed and the error is thrown. */
export async function startListeners(site: Site, endpoints: Endpoint[]): Promise<Listener[]> {
  const tls = new Map<string, TlsFiles>();
  for (const ep of endpoints) {
    if (ep.type === 'ssl' && !tls.has(`${ep.privateKey}\0${ep.certKey}`)) tls.set(`${ep.privateKey}\0${ep.certKey}`, readTlsFiles(ep.privateKey, ep.certKey));
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
    process.stdout.write(formatHelp(USAGE, WEB_OPTIONS));
    return;
  }
  if (parsed.version) {
    process.stdout.write(`trellis ${VERSION}\n`);
    return;
  }
  if (parsed.positional.length) throw new CliError(`unexpected argument "${parsed.positional[0]}"; options start with -- (run 'trellis web --help')`);
  const site = await buildSite(config, process.cwd());
  const endpoints = httpEndpoints(config);
  if (!endpoints.length && !config.ajp.length && !hasGatewayListeners(config)) endpoints.push({ type: 'tcp', port: 8080 });
  let listeners: Listener[];
  try {
    listeners = await startListeners(site, endpoints);
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
  for (const l of listeners) process.stdout.write(`Trellis ${VERSION} serving ${l.url}\n`);
  let gateways: Listener[];
  try {
    gateways = await startGatewayListeners(site, config);
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close(0)));
    throw err;
  }
  for (const l of gateways) process.stdout.write(`Trellis ${VERSION} serving ${gatewayUrl(l, config.fastcgi.includes(l.endpoint) ? 'fastcgi' : 'scgi')}\n`);
  listeners.push(...gateways);
  if (config.root.kind === 'path') process.stdout.write(`Files from ${resolvePath(process.cwd(), config.root.dir)}\n`);
  if (config.root.kind === 'path' || config.root.kind === 'vhost-path') process.stdout.write(await describeProcessors(config.files));
  drainOnSignals(listeners, site);
}
