// Plugins (the `mktap NAME` idea): the services `trellis NAME [options]` runs, `web` among them, found
// in npm packages that declare them in package.json (`"trellis": { "plugins": { "NAME": "./mod.js" } }`).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import type { PluginOptionValues, TrellisPlugin } from './app.js';
import { importUserModule } from './load-module.js';
import { CliError, type OptionSpec } from './options.js';

/** An option value that one key of a plugin's options could not take. */
export class OptionError extends CliError {
  readonly key: string;
  constructor(key: string, message: string) {
    super(message);
    this.name = 'OptionError';
    this.key = key;
  }
}

/**
 * The option table of `plugin`, for `parseOptions` and `formatHelp`. Values are stored under the
 * long name, last seen last (a key given again moves to the end), so replaying them in order gives
 * what the command line gave: `--path a --vhost-path b` and `--vhost-path b --path a` differ.
 */
export function pluginOptionSpecs(plugin: TrellisPlugin): Array<OptionSpec<PluginOptionValues>> {
  return Object.entries(plugin.options).map(([name, o]) => ({
    name,
    ...(o.short ? { short: o.short } : {}),
    ...(o.value !== undefined ? { value: o.value } : {}),
    help: o.help,
    ...(o.repeatable ? { repeatable: true } : {}),
    ...(o.optionalValue ? { optionalValue: true } : {}),
    apply: (values: PluginOptionValues, value: string) => {
      const before = values[name];
      delete values[name];
      if (o.value === undefined) values[name] = true;
      else if (o.repeatable) values[name] = [...(Array.isArray(before) ? before : []), value];
      else values[name] = value;
    },
  }));
}

/**
 * Checks option values read from a file against `plugin`'s table: known keys, a string (or number) per
 * valued option, an array of them for a repeatable one, a boolean per flag (false leaves it out).
 * Errors are {@link OptionError}s naming the key.
 */
export function checkOptionValues(plugin: TrellisPlugin, raw: unknown): PluginOptionValues {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new OptionError('', 'must be an object of option names to values');
  const values: PluginOptionValues = {};
  for (const [key, value] of Object.entries(raw)) {
    const o = plugin.options[key];
    if (!o)
      throw new OptionError(
        key,
        `unknown option of "${plugin.name}"; run 'trellis ${plugin.name} --help' for the list`,
      );
    const scalar = (v: unknown) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
    if (o.value === undefined) {
      if (typeof value !== 'boolean')
        throw new OptionError(key, `is a flag: true or false, not ${JSON.stringify(value)}`);
      if (value) values[key] = true;
    } else if (o.repeatable) {
      const list = Array.isArray(value) ? value : [value];
      if (!list.every(scalar))
        throw new OptionError(key, `needs ${o.value} or an array of them, not ${JSON.stringify(value)}`);
      values[key] = list.map(String);
    } else {
      if (!scalar(value)) throw new OptionError(key, `needs one ${o.value}, not ${JSON.stringify(value)}`);
      values[key] = String(value);
    }
  }
  return values;
}

/** Whether `value` has the shape of a plugin. */
function isPlugin(value: unknown): value is TrellisPlugin {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Partial<TrellisPlugin>;
  return (
    typeof p.name === 'string' && typeof p.build === 'function' && typeof p.options === 'object' && p.options !== null
  );
}

/** A plugin an npm package declares. */
export interface DeclaredPlugin {
  name: string;
  /** The declaring package (`name` of its package.json). */
  pkg: string;
  /** The plugin module, absolute. */
  module: string;
}

function declaredIn(dir: string, found: Map<string, DeclaredPlugin>): void {
  let pkg: { name?: unknown; trellis?: { plugins?: unknown } };
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg;
  } catch {
    return;
  }
  const plugins = pkg.trellis?.plugins;
  if (typeof plugins !== 'object' || plugins === null) return;
  for (const [name, module] of Object.entries(plugins)) {
    if (typeof module !== 'string' || found.has(name)) continue;
    found.set(name, { name, pkg: typeof pkg.name === 'string' ? pkg.name : dir, module: resolvePath(dir, module) });
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The plugins declared by the project around `cwd` and the packages it has installed: from `cwd`
 * up to `/`, each directory's own package.json, then its `node_modules/*` and `node_modules/@scope/*`.
 * The nearest declaration of a name wins.
 */
export function findDeclaredPlugins(cwd: string): Map<string, DeclaredPlugin> {
  const found = new Map<string, DeclaredPlugin>();
  for (let dir = resolvePath(cwd); ; dir = dirname(dir)) {
    declaredIn(dir, found);
    const modules = join(dir, 'node_modules');
    for (const entry of listDir(modules)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@'))
        for (const scoped of listDir(join(modules, entry))) declaredIn(join(modules, entry, scoped), found);
      else declaredIn(join(modules, entry), found);
    }
    if (dirname(dir) === dir) break;
  }
  return found;
}

/** The plugins built into Trellis, by name. */
const BUILT_IN: Record<string, () => Promise<TrellisPlugin>> = {
  web: async () => (await import('./web.js')).webPlugin,
};

/** Whether `name` is a plugin built into Trellis. */
export function isBuiltInPlugin(name: string): boolean {
  return Object.hasOwn(BUILT_IN, name);
}

/** Loads the plugin called `name` (built in, or declared by a package around `cwd`); null when there is none. */
export async function loadPlugin(name: string, cwd: string): Promise<TrellisPlugin | null> {
  const builtIn = BUILT_IN[name];
  if (builtIn && Object.hasOwn(BUILT_IN, name)) return builtIn();
  const declared = findDeclaredPlugins(cwd).get(name);
  if (!declared) return null;
  const what = `plugin "${name}" of ${declared.pkg}`;
  const mod = await importUserModule(declared.module, cwd, what);
  const plugin = mod.default;
  if (!isPlugin(plugin))
    throw new CliError(
      `${what}: ${declared.module} does not export default definePlugin({ name, description, options, build })`,
      1,
    );
  if (plugin.name !== name)
    throw new CliError(
      `${what}: ${declared.module} exports a plugin named "${plugin.name}"; package.json and the module must agree`,
      1,
    );
  return plugin;
}
