// Running a service: `trellis NAME [options]` (a plugin, `web` included, with `--save-config` and
// `--config-dir`), and `trellis run FILE` (a configuration module or a saved JSON configuration).
// Either way the result is a plan that is served, drained on SIGTERM/SIGINT and reloaded on SIGHUP.
import { dirname, resolve as resolvePath } from 'node:path';
import type { Endpoint } from '../channels/endpoint.js';
import { VERSION } from '../version.js';
import type { PluginOptionValues, TrellisPlugin } from './app.js';
import { addDefaultListeners, listenEndpoint, planApp, type AppPlan } from './app-plan.js';
import { applyDropIns } from './config-dir.js';
import { configError, readConfigFile, writeConfigFile } from './config-file.js';
import { importUserModule, oneLineMessage } from './load-module.js';
import { CliError, formatHelp, parseOptions, type OptionSpec } from './options.js';
import { checkOptionValues, loadPlugin, OptionError, pluginOptionSpecs } from './plugin.js';
import { reloadOnHangup } from './reload.js';
import { RunningApp } from './serve.js';

/** Closes every listener on SIGTERM or SIGINT, letting in-flight requests finish; a second signal exits at once. */
export function drainOnSignals(running: RunningApp): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`trellis: ${signal} received, finishing in-flight requests\n`);
    running.close(running.plan.sites[0]!.site.limits.shutdownTimeout).then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Serves what `load` builds until a signal stops it; SIGHUP calls `load` again and swaps the result in. */
async function serve(load: () => Promise<AppPlan>): Promise<void> {
  const reloader = reloadOnHangup(load);
  const running = await RunningApp.start(await load());
  drainOnSignals(running);
  reloader.serving(running);
}

/**
 * Builds the plan of `plugin` with `values`. A failure becomes the CliError `fail` makes, given the
 * option it names (an {@link OptionError}'s key, or `name` in a message starting `--name`) or null.
 */
async function buildPlugin(
  plugin: TrellisPlugin,
  values: PluginOptionValues,
  cwd: string,
  fail: (key: string | null, message: string, exitCode: number) => CliError,
): Promise<AppPlan> {
  let built: unknown;
  try {
    built = await plugin.build(values, { cwd });
  } catch (err) {
    throw pluginError(plugin, err, fail);
  }
  return planApp(built, `plugin ${plugin.name}`);
}

function pluginError(plugin: TrellisPlugin, err: unknown, fail: (key: string | null, message: string, exitCode: number) => CliError): CliError {
  if (err instanceof OptionError) return fail(err.key, err.message, err.exitCode);
  const message = oneLineMessage(err);
  const named = /^--([a-z0-9-]+)/.exec(message)?.[1];
  const exitCode = err instanceof CliError ? err.exitCode : 1;
  return fail(named && Object.hasOwn(plugin.options, named) ? named : null, message, exitCode);
}

/** Options every service command takes besides its own. */
interface CommonOptions {
  saveConfig: string | null;
  configDir: string | null;
}

function commonSpecs<C>(common: CommonOptions): Array<OptionSpec<C>> {
  return [
    { name: 'config-dir', value: 'DIR', help: 'apply the drop-in modules of DIR to the site, in name order (Debian local.d)', apply: (_c, v) => void (common.configDir = v) },
    { name: 'save-config', value: 'FILE', help: 'write these options as a JSON configuration for `trellis run FILE` and exit', apply: (_c, v) => void (common.saveConfig = v) },
  ];
}

/** Prints the help or the version when `parsed` asks for it; true if it did. */
function answeredHelp<C>(parsed: { help: boolean; version: boolean }, usage: string, specs: ReadonlyArray<OptionSpec<C>>): boolean {
  if (parsed.help) process.stdout.write(formatHelp(usage, specs));
  else if (parsed.version) process.stdout.write(`trellis ${VERSION}\n`);
  return parsed.help || parsed.version;
}

/** Runs `trellis NAME ARGS` for `plugin`: serves it, or with `--save-config` writes its configuration. */
export async function runPluginCommand(plugin: TrellisPlugin, args: readonly string[], usage = `Usage: trellis ${plugin.name} [options]\n\n${plugin.description}`): Promise<void> {
  const values: PluginOptionValues = {};
  const common: CommonOptions = { saveConfig: null, configDir: null };
  const specs: Array<OptionSpec<PluginOptionValues>> = [...pluginOptionSpecs(plugin), ...commonSpecs(common)];
  const parsed = parseOptions(plugin.name, args, specs, values);
  if (answeredHelp(parsed, usage, specs)) return;
  if (parsed.positional.length) throw new CliError(`unexpected argument "${parsed.positional[0]}"; options start with -- (run 'trellis ${plugin.name} --help')`);
  const cwd = process.cwd();
  const onCommandLine = (_key: string | null, message: string, exitCode: number) => new CliError(plugin.name === 'web' ? message : `${plugin.name}: ${message}`, exitCode);
  if (common.saveConfig !== null) {
    try {
      plugin.check?.(values);
    } catch (err) {
      throw pluginError(plugin, err, onCommandLine);
    }
    writeConfigFile(common.saveConfig, plugin, values, cwd, common.configDir);
    process.stdout.write(`Wrote ${resolvePath(cwd, common.saveConfig)}; serve it with: trellis run ${common.saveConfig}\n`);
    return;
  }
  const configDir = common.configDir;
  await serve(async () => {
    const plan = await buildPlugin(plugin, values, cwd, onCommandLine);
    if (configDir !== null) await applyDropIns(plan, configDir, cwd);
    addDefaultListeners(plan, []);
    return plan;
  });
}

const RUN_USAGE = `Usage: trellis run FILE [options]

Serve FILE: a configuration module (.ts, .mts, .js, .mjs) whose default export is a Site, a Resource
or defineApp({ sites }), or a JSON configuration written by --save-config. SIGHUP reads it again.`;

interface RunOptions extends CommonOptions {
  listen: Endpoint[];
}

/** Loads a JSON configuration file into a plan. */
async function planFromJson(file: string, cwd: string): Promise<{ plan: AppPlan; configDir: string | null; base: string }> {
  const config = readConfigFile(file);
  const plugin = await loadPlugin(config.service, dirname(file));
  if (!plugin) throw configError(file, 'service', `names no plugin: "${config.service}" is neither built in nor declared by an installed package`);
  let values: PluginOptionValues;
  try {
    values = checkOptionValues(plugin, config.options);
  } catch (err) {
    if (err instanceof OptionError) throw configError(file, err.key ? `options.${err.key}` : 'options', err.message);
    throw err;
  }
  const plan = await buildPlugin(plugin, values, config.directory, (key, message, exitCode) => new CliError(configError(file, key ? `options.${key}` : '', message).message, exitCode));
  return { plan, configDir: config.configDir, base: config.directory };
}

/** Runs `trellis run FILE [--listen EP] [--config-dir DIR]`. */
export async function runFile(args: readonly string[]): Promise<void> {
  const options: RunOptions = { saveConfig: null, configDir: null, listen: [] };
  const specs: Array<OptionSpec<RunOptions>> = [
    { name: 'port', short: 'p', value: 'N|EP', repeatable: true, help: 'HTTP port (or endpoint string) for a Site or Resource export; same as --listen', apply: (c, v) => void c.listen.push(listenEndpoint('http', /^\d+$/.test(v) ? `tcp:${v}` : v, '--port')) },
    { name: 'listen', value: 'EP', repeatable: true, help: 'listen on an endpoint (repeatable; default tcp:8080 when the file names no listener)', apply: (c, v) => void c.listen.push(listenEndpoint('http', v, '--listen')) },
    commonSpecs<RunOptions>(options)[0]!,
  ];
  const parsed = parseOptions('run', args, specs, options);
  if (answeredHelp(parsed, RUN_USAGE, specs)) return;
  if (parsed.positional.length !== 1) {
    throw new CliError(parsed.positional.length ? `trellis run takes one FILE, not ${parsed.positional.length}` : 'trellis run needs a FILE: a .ts/.js configuration module or a .json configuration');
  }
  const file = resolvePath(process.cwd(), parsed.positional[0]!);
  const isJson = /\.json$/i.test(file);
  if (!isJson && !/\.(m?[jt]s|c[jt]s)$/.test(file)) throw new CliError(`trellis run ${parsed.positional[0]}: give a .ts, .mts, .js or .mjs module, or a .json configuration`);
  await serve(async () => {
    let plan: AppPlan;
    let configDir = options.configDir;
    let base = process.cwd();
    if (isJson) {
      const loaded = await planFromJson(file, process.cwd());
      plan = loaded.plan;
      configDir ??= loaded.configDir;
      base = loaded.base;
    } else {
      const mod = await importUserModule(file, process.cwd(), file);
      if (!('default' in mod)) throw new CliError(`${file}: no default export; end it with export default new Site(root) or defineApp({ sites })`);
      plan = planApp(mod.default, file);
    }
    if (configDir !== null) await applyDropIns(plan, configDir, base);
    addDefaultListeners(plan, options.listen);
    return plan;
  });
}

/** Runs `trellis NAME ARGS` for a plugin declared by an installed package. */
export async function runDeclaredPlugin(name: string, args: readonly string[]): Promise<boolean> {
  const plugin = await loadPlugin(name, process.cwd());
  if (!plugin) return false;
  await runPluginCommand(plugin, args);
  return true;
}
