// `trellis web`, written as a plugin like any other: its options are WEB_OPTIONS (web-config.ts), its
// build makes the Site and names its listeners; serving, --save-config, --config-dir and SIGHUP
// are the command runner's (run.ts).
import { resolve as resolvePath } from 'node:path';
import { openAccessLog } from '../access-log.js';
import type { Endpoint } from '../channels/endpoint.js';
import { Site } from '../site.js';
import { definePlugin, type PluginOption, type PluginOptionValues } from './app.js';
import { UNWRAPPED, type WrappedSiteDefinition } from './app-plan.js';
import { CliError } from './options.js';
import { OptionError } from './plugin.js';
import { wrapRoot } from './proxy-config.js';
import { buildRoot } from './root.js';
import { runPluginCommand } from './run.js';
import { defaultWebConfig, WEB_OPTIONS, type WebConfig } from './web-config.js';

const USAGE = 'Usage: trellis web [options]\n\nServe a site over HTTP, HTTPS (with HTTP/2) and UNIX sockets.';

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
  return config;
}

/** `config` with every file path made absolute from `cwd` (certificates, log, UNIX sockets). */
function resolvePaths(config: WebConfig, cwd: string): WebConfig {
  const abs = (p: string) => resolvePath(cwd, p);
  const ep = (e: Endpoint): Endpoint =>
    e.type === 'unix' ? { ...e, path: abs(e.path) } : e.type === 'ssl' ? { ...e, privateKey: abs(e.privateKey), certKey: abs(e.certKey) } : e;
  return {
    ...config,
    listen: config.listen.map(ep),
    ajp: config.ajp.map(ep),
    fastcgi: config.fastcgi.map(ep),
    scgi: config.scgi.map(ep),
    certificate: abs(config.certificate),
    privkey: abs(config.privkey),
    logfile: config.logfile === null || config.logfile === '-' ? config.logfile : abs(config.logfile),
  };
}

/** The Site described by `config`, with the root before its proxy layers (where drop-ins add). */
export async function buildWebSite(config: WebConfig, cwd: string): Promise<WrappedSiteDefinition> {
  const root = await buildRoot(config, cwd);
  const wrap = (r: typeof root) => wrapRoot(r, config.proxy);
  const accessLog = config.logfile ? openAccessLog(config.logfile) : null;
  const site = new Site(wrap(root), { displayTracebacks: config.displayTracebacks, accessLog, headers: config.addHeaders });
  const listen = [...config.listen];
  for (const port of config.https) listen.push({ type: 'ssl', port, privateKey: config.privkey, certKey: config.certificate });
  return {
    site,
    listen: listen,
    ajp: config.ajp,
    fastcgi: config.fastcgi,
    scgi: config.scgi,
    gatewayTrustedPeers: config.gatewayTrustedPeers,
    ...(config.mount !== null ? { mount: config.mount } : {}),
    ...(config.ajpSecret !== null ? { ajpSecret: config.ajpSecret } : {}),
    [UNWRAPPED]: { root, wrap },
    ...(accessLog ? { dispose: () => accessLog.close() } : {}),
  };
}

/** The `web` plugin: a static file server, a Resource class, virtual hosts, gateways (the `twistd web` idea). */
export const webPlugin = definePlugin({
  name: 'web',
  description: 'serve a site (files, resources, apps) over HTTP, HTTPS, HTTP/2 and the gateways',
  options: Object.fromEntries(
    WEB_OPTIONS.map((s): [string, PluginOption] => [
      s.name,
      { help: s.help, ...(s.value !== undefined ? { value: s.value } : {}), ...(s.short ? { short: s.short } : {}), ...(s.repeatable ? { repeatable: true } : {}) },
    ]),
  ),
  check: (values) => void webConfigOf(values),
  build: async (values, { cwd }) => {
    const config = resolvePaths(webConfigOf(values), cwd);
    const definition = await buildWebSite(config, cwd);
    if (config.root.kind === 'path') definition.notes = [`Files from ${resolvePath(cwd, config.root.dir)}`];
    return { sites: [definition] };
  },
});

/** Runs `trellis web` with `args`; resolves once it is serving. */
export async function runWeb(args: readonly string[]): Promise<void> {
  await runPluginCommand(webPlugin, args, USAGE);
}
