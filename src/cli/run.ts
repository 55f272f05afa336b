// Running a service: `trellis NAME [options]` (a plugin, `web` included, with `--save-config` and
// `--config-dir`), and `trellis run FILE` (a configuration module or a saved JSON configuration).
// Either way the result is a plan served by the process options (runServerProcess: --daemon,
// --pidfile, --uid, --workers ...), drained on SIGTERM/SIGINT and, in a single process, reloaded on SIGHUP.
import { networkInterfaces } from 'node:os';
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
import { bannerText } from './banner.js';
import { openBrowser } from './open-browser.js';
import { runServerProcess } from './process.js';
import { defaultProcessConfig, processOptions, type ProcessConfig } from './process-options.js';
import { reloadOnHangup } from './reload.js';
import { devCertificateNotes, RunningApp } from './serve.js';
import { onReopenLogs } from './signals.js';
import { leavePool } from './workers.js';

/** What the process needs to know of a service before it starts (see {@link Service} in process.ts). */
export interface ServiceFiles {
  /** Endpoints; with --workers, the primary prepares and removes their UNIX socket files. */
  endpoints: Endpoint[];
  /** Log files, created before --uid/--gid take effect so the user can reopen them. */
  logFiles: string[];
}

const serviceFiles = new WeakMap<TrellisPlugin, (values: PluginOptionValues, cwd: string) => ServiceFiles>();

/** Says which endpoints and log files `plugin` uses with given option values (the `web` plugin does). */
export function declareServiceFiles(
  plugin: TrellisPlugin,
  files: (values: PluginOptionValues, cwd: string) => ServiceFiles,
): void {
  serviceFiles.set(plugin, files);
}

function filesOf(plugin: TrellisPlugin, values: PluginOptionValues, cwd: string): ServiceFiles {
  return serviceFiles.get(plugin)?.(values, cwd) ?? { endpoints: [], logFiles: [] };
}

/** The names of the process options (--pidfile, --daemon, --workers ...). */
const PROCESS_OPTION_NAMES = new Set(processOptions<{ process: ProcessConfig }>().map((s) => s.name));

/**
 * The process options among `values` (a plugin that declares them, as `web` does), applied to
 * `start` (those given to the runner, else the defaults). With `base`, the paths are made absolute (a JSON configuration): --chdir from `base`,
 * --pidfile and --errorlog from the --chdir directory or `base`.
 */
function processConfigOf(
  values: PluginOptionValues,
  base: string | null,
  start = defaultProcessConfig(),
): ProcessConfig {
  const holder = { process: { ...start } };
  for (const spec of processOptions<typeof holder>()) {
    const value = values[spec.name];
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) spec.apply(holder, item === true ? '' : item);
  }
  const proc = holder.process;
  if (base !== null) {
    if (proc.chdir !== null) proc.chdir = resolvePath(base, proc.chdir);
    const from = proc.chdir ?? base;
    if (proc.pidfile !== null) proc.pidfile = resolvePath(from, proc.pidfile);
    if (proc.errorlog !== null) proc.errorlog = resolvePath(from, proc.errorlog);
  }
  return proc;
}

/** Closes every listener on SIGTERM or SIGINT, letting in-flight requests finish; a second signal exits at once. */
export function drainOnSignals(running: RunningApp): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`trellis: ${signal} received, finishing in-flight requests\n`);
    running
      .close(running.plan.sites[0]!.site.limits.shutdownTimeout)
      .then(leavePool)
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * The one place serving starts: runs the process as `proc` says (daemon, pidfile, privileges, a
 * worker pool) and in each serving process builds the plan `load` makes, starts its listeners and
 * drains on SIGTERM/SIGINT. SIGUSR1 reopens the access logs of the plan served at that moment. In a
 * single process SIGHUP calls `load` again and swaps the result in; in a pool (--workers) the primary
 * owns SIGHUP and restarts the workers one at a time instead. Resolves once serving, with the banner
 * printed (by the process, or a pool's primary).
 */
async function serve(load: () => Promise<AppPlan>, proc: ProcessConfig, files: ServiceFiles): Promise<void> {
  await runServerProcess(proc, {
    endpoints: files.endpoints,
    logFiles: files.logFiles,
    start: async () => {
      const reloader = proc.workers > 0 ? null : reloadOnHangup(load);
      const running = await RunningApp.start(await load());
      drainOnSignals(running);
      onReopenLogs(() => {
        for (const { site } of running.plan.sites) site.accessLog?.reopen();
      });
      reloader?.serving(running);
      return startLines(running);
    },
  });
}

/** The start-up banner of `running`, and the line on opening a browser when its plan asks for one. */
function startLines(running: RunningApp): string[] {
  const plan = running.plan;
  const notes = [...devCertificateNotes(), ...plan.notes];
  const lines = bannerText({
    version: VERSION,
    listeners: running.shown,
    serves: plan.serves,
    notes,
    interfaces: networkInterfaces(),
  })
    .trimEnd()
    .split('\n');
  if (plan.open) {
    const first = running.listeners.find((l) => l.port !== null);
    if (first) lines.push(openBrowser(first.url));
  }
  return lines;
}

/**
 * Checks and builds the plan of `plugin` with `values`. A failure becomes the CliError `fail` makes, given the
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
    plugin.check?.(values);
    built = await plugin.build(values, { cwd });
  } catch (err) {
    throw pluginError(plugin, err, fail);
  }
  return planApp(built, `plugin ${plugin.name}`);
}

function pluginError(
  plugin: TrellisPlugin,
  err: unknown,
  fail: (key: string | null, message: string, exitCode: number) => CliError,
): CliError {
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
  /** Process options given to a command whose plugin does not declare them (saved configurations leave them out). */
  process: ProcessConfig;
  /** Which of those were given. */
  processGiven: string[];
}

function commonOptions(): CommonOptions {
  return { saveConfig: null, configDir: null, process: defaultProcessConfig(), processGiven: [] };
}

/** The common options; the process options too, except those `own` (a plugin's option names) already has. */
function commonSpecs<C>(common: CommonOptions, own: ReadonlySet<string> = new Set()): Array<OptionSpec<C>> {
  const proc = processOptions<CommonOptions>()
    .filter((s) => !own.has(s.name))
    .map(
      ({ short: _short, ...s }): OptionSpec<C> => ({
        ...s,
        apply: (_c, v) => {
          common.processGiven.push(s.name);
          s.apply(common, v);
        },
      }),
    );
  return [
    {
      name: 'config-dir',
      value: 'DIR',
      help: 'apply the drop-in modules of DIR to the site, in name order (Debian local.d)',
      apply: (_c, v) => void (common.configDir = v),
    },
    {
      name: 'save-config',
      value: 'FILE',
      help: 'write these options as a JSON configuration for `trellis run FILE` and exit',
      apply: (_c, v) => void (common.saveConfig = v),
    },
    ...proc,
  ];
}

/** Prints the help or the version when `parsed` asks for it; true if it did. */
function answeredHelp<C>(
  parsed: { help: boolean; version: boolean },
  usage: string,
  specs: ReadonlyArray<OptionSpec<C>>,
  examples?: ReadonlyArray<readonly [string, string]>,
): boolean {
  if (parsed.help) process.stdout.write(formatHelp(usage, specs, examples));
  else if (parsed.version) process.stdout.write(`trellis ${VERSION}\n`);
  return parsed.help || parsed.version;
}

/** Runs `trellis NAME ARGS` for `plugin`: serves it, or with `--save-config` writes its configuration. */
export async function runPluginCommand(
  plugin: TrellisPlugin,
  args: readonly string[],
  usage = `Usage: trellis ${plugin.name} [options]\n\n${plugin.description}`,
  examples?: ReadonlyArray<readonly [string, string]>,
): Promise<void> {
  const values: PluginOptionValues = {};
  const common = commonOptions();
  const declaresProcess = new Set(Object.keys(plugin.options).filter((k) => PROCESS_OPTION_NAMES.has(k)));
  const specs: Array<OptionSpec<PluginOptionValues>> = [
    ...pluginOptionSpecs(plugin),
    ...commonSpecs(common, declaresProcess),
  ];
  const parsed = parseOptions(plugin.name, args, specs, values);
  if (answeredHelp(parsed, usage, specs, examples)) return;
  if (parsed.positional.length)
    throw new CliError(
      `unexpected argument "${parsed.positional[0]}"; options start with -- (run 'trellis ${plugin.name} --help')`,
    );
  const cwd = process.cwd();
  const onCommandLine = (_key: string | null, message: string, exitCode: number) =>
    new CliError(plugin.name === 'web' ? message : `${plugin.name}: ${message}`, exitCode);
  if (common.saveConfig !== null) {
    try {
      plugin.check?.(values);
    } catch (err) {
      throw pluginError(plugin, err, onCommandLine);
    }
    if (common.processGiven.length) {
      throw new CliError(
        `--save-config: plugin ${plugin.name} does not declare --${common.processGiven[0]}, so a configuration cannot keep it; give it to 'trellis run FILE' instead`,
      );
    }
    writeConfigFile(common.saveConfig, plugin, values, cwd, common.configDir);
    process.stdout.write(
      `Wrote ${resolvePath(cwd, common.saveConfig)}; serve it with: trellis run ${common.saveConfig}\n`,
    );
    return;
  }
  const configDir = common.configDir;
  const proc = processConfigOf(values, null, common.process);
  await serve(
    async () => {
      // After any --chdir: relative paths on the command line start from there.
      const here = process.cwd();
      const plan = await buildPlugin(plugin, values, here, onCommandLine);
      if (configDir !== null) await applyDropIns(plan, configDir, here);
      addDefaultListeners(plan, []);
      return plan;
    },
    proc,
    filesOf(plugin, values, cwd),
  );
}

const RUN_USAGE = `Usage: trellis run FILE [options]

Serve FILE: a configuration module (.ts, .mts, .js, .mjs) whose default export is a Site, a Resource
or defineApp({ sites }), or a JSON configuration written by --save-config. SIGHUP reads it again.`;

interface RunOptions extends CommonOptions {
  listen: Endpoint[];
}

/** A JSON configuration read and checked: its plugin and option values. */
async function readJsonService(file: string): Promise<{
  config: ReturnType<typeof readConfigFile>;
  plugin: TrellisPlugin;
  values: PluginOptionValues;
  proc: ProcessConfig;
  cwd: string;
  files: ServiceFiles;
}> {
  const config = readConfigFile(file);
  const plugin = await loadPlugin(config.service, dirname(file));
  if (!plugin)
    throw configError(
      file,
      'service',
      `names no plugin: "${config.service}" is neither built in nor declared by an installed package`,
    );
  let values: PluginOptionValues;
  try {
    values = checkOptionValues(plugin, config.options);
  } catch (err) {
    if (err instanceof OptionError) throw configError(file, err.key ? `options.${err.key}` : 'options', err.message);
    throw err;
  }
  let proc: ProcessConfig;
  try {
    proc = processConfigOf(values, config.directory);
  } catch (err) {
    if (err instanceof CliError)
      throw configError(file, `options.${/^--([a-z-]+)/.exec(err.message)?.[1] ?? ''}`, err.message);
    throw err;
  }
  // A saved --chdir is where the command line's relative paths started from.
  const cwd = proc.chdir ?? config.directory;
  let files: ServiceFiles;
  try {
    files = filesOf(plugin, values, cwd);
  } catch (err) {
    if (err instanceof OptionError) throw configError(file, err.key ? `options.${err.key}` : 'options', err.message);
    throw err;
  }
  return { config, plugin, values, proc, cwd, files };
}

/** Loads a JSON configuration file into a plan. */
async function planFromJson(file: string): Promise<{ plan: AppPlan; configDir: string | null; base: string }> {
  const { config, plugin, values, cwd } = await readJsonService(file);
  const plan = await buildPlugin(
    plugin,
    values,
    cwd,
    (key, message, exitCode) => new CliError(configError(file, key ? `options.${key}` : '', message).message, exitCode),
  );
  return { plan, configDir: config.configDir, base: cwd };
}

/** Runs `trellis run FILE [--listen EP] [--config-dir DIR]`. */
export async function runFile(args: readonly string[]): Promise<void> {
  const options: RunOptions = { ...commonOptions(), listen: [] };
  const specs: Array<OptionSpec<RunOptions>> = [
    {
      name: 'port',
      short: 'p',
      value: 'N|EP',
      repeatable: true,
      help: 'HTTP port (or endpoint string) for a Site or Resource export; same as --listen',
      apply: (c, v) => void c.listen.push(listenEndpoint('http', /^\d+$/.test(v) ? `tcp:${v}` : v, '--port')),
    },
    {
      name: 'listen',
      value: 'EP',
      repeatable: true,
      help: 'listen on an endpoint (repeatable; default tcp:8080 when the file names no listener)',
      apply: (c, v) => void c.listen.push(listenEndpoint('http', v, '--listen')),
    },
    ...commonSpecs<RunOptions>(options).filter((s) => s.name !== 'save-config'),
  ];
  const parsed = parseOptions('run', args, specs, options);
  if (answeredHelp(parsed, RUN_USAGE, specs)) return;
  if (parsed.positional.length !== 1) {
    throw new CliError(
      parsed.positional.length
        ? `trellis run takes one FILE, not ${parsed.positional.length}`
        : 'trellis run needs a FILE: a .ts/.js configuration module or a .json configuration',
    );
  }
  const file = resolvePath(process.cwd(), parsed.positional[0]!);
  const isJson = /\.json$/i.test(file);
  if (!isJson && !/\.(m?[jt]s|c[jt]s)$/.test(file))
    throw new CliError(
      `trellis run ${parsed.positional[0]}: give a .ts, .mts, .js or .mjs module, or a .json configuration`,
    );
  // A JSON configuration's own process options apply, and those given here override them one by one.
  let proc = options.process;
  let files: ServiceFiles = { endpoints: [...options.listen], logFiles: [] };
  if (isJson) {
    const json = await readJsonService(file);
    proc = { ...json.proc };
    const given = options.process as unknown as Record<string, unknown>;
    for (const name of options.processGiven) {
      const key = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      (proc as unknown as Record<string, unknown>)[key] = given[key];
    }
    files = { endpoints: [...json.files.endpoints, ...files.endpoints], logFiles: json.files.logFiles };
  }
  await serve(
    async () => {
      let plan: AppPlan;
      let configDir = options.configDir;
      let base = process.cwd();
      if (isJson) {
        const loaded = await planFromJson(file);
        plan = loaded.plan;
        configDir ??= loaded.configDir;
        base = loaded.base;
      } else {
        const mod = await importUserModule(file, process.cwd(), file);
        if (!('default' in mod))
          throw new CliError(
            `${file}: no default export; end it with export default new Site(root) or defineApp({ sites })`,
          );
        plan = planApp(mod.default, file);
      }
      if (configDir !== null) await applyDropIns(plan, configDir, base);
      addDefaultListeners(plan, options.listen);
      return plan;
    },
    proc,
    files,
  );
}

/** Runs `trellis NAME ARGS` for a plugin declared by an installed package. */
export async function runDeclaredPlugin(name: string, args: readonly string[]): Promise<boolean> {
  const plugin = await loadPlugin(name, process.cwd());
  if (!plugin) return false;
  await runPluginCommand(plugin, args);
  return true;
}
