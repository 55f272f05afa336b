// The JSON form of a configuration (the TAP idea): which service, its options under the same names
// as on the command line, the directory relative paths start from, and the drop-in directory.
// `trellis NAME ... --save-config FILE` writes it, `trellis run FILE` reads it; its JSON Schema ships
// as schema/trellis-config.schema.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginOptionValues, TrellisPlugin } from './app.js';
import { oneLineMessage } from './load-module.js';
import { CliError } from './options.js';

/** A configuration as the file holds it. */
export interface ConfigFile {
  /** The plugin to run: `web`, or one an installed package declares. */
  service: string;
  /** Where relative paths in `options` start from. Default: the file's own directory. */
  directory: string;
  /** The plugin's options, as on its command line without the dashes. */
  options: unknown;
  /** `--config-dir`: drop-in modules applied to the site. Default none. */
  configDir: string | null;
}

/** The version of the file format; a file with another is refused. */
export const CONFIG_FORMAT = 1;

const TOP_KEYS = new Set(['$schema', 'format', 'service', 'directory', 'options', 'configDir']);

/** A one-line error naming the file, the key and what is wrong. */
export function configError(file: string, key: string, message: string): CliError {
  return new CliError(key ? `${file}: "${key}": ${message}` : `${file}: ${message}`);
}

/** Reads and checks the shape of a configuration file (the options are the plugin's to check). */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw configError(
      file,
      '',
      code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (err as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw configError(file, '', `is not valid JSON: ${oneLineMessage(err)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw configError(file, '', 'must hold a JSON object { "service": "web", "options": {...} }');
  const obj = json as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!TOP_KEYS.has(key)) throw configError(file, key, `is not a configuration key; use ${[...TOP_KEYS].join(', ')}`);
  }
  if (obj.format !== undefined && obj.format !== CONFIG_FORMAT)
    throw configError(file, 'format', `must be ${CONFIG_FORMAT}, not ${JSON.stringify(obj.format)}`);
  if (typeof obj.service !== 'string' || !obj.service)
    throw configError(file, 'service', 'must name the service to run, e.g. "web"');
  for (const key of ['directory', 'configDir'] as const) {
    if (obj[key] !== undefined && (typeof obj[key] !== 'string' || !obj[key]))
      throw configError(file, key, 'must be a directory path');
  }
  const base = dirname(resolvePath(file));
  const directory = resolvePath(base, (obj.directory as string | undefined) ?? '.');
  return {
    service: obj.service,
    directory,
    options: obj.options ?? {},
    configDir: typeof obj.configDir === 'string' ? resolvePath(directory, obj.configDir) : null,
  };
}

/** Where the shipped JSON Schema is, as a file URL (`$schema` of saved files). */
function schemaUrl(): string {
  return new URL('../schema/trellis-config.schema.json', new URL(import.meta.resolve('trellis'))).href;
}

/** Writes `values` of `plugin` as a configuration file (mode 0644, replacing what was there). */
export function writeConfigFile(
  file: string,
  plugin: TrellisPlugin,
  values: PluginOptionValues,
  cwd: string,
  configDir: string | null,
): void {
  const config: Record<string, unknown> = {
    $schema: schemaUrl(),
    format: CONFIG_FORMAT,
    service: plugin.name,
    directory: resolvePath(cwd),
    options: values,
  };
  if (configDir !== null) config.configDir = resolvePath(cwd, configDir);
  try {
    writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  } catch (err) {
    throw new CliError(
      `--save-config ${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      1,
    );
  }
}

/** The JSON Schema of one plugin's options. */
function optionsSchema(plugin: TrellisPlugin): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(plugin.options)) {
    const description = `--${name}${o.value ? ` ${o.value}` : ''}: ${o.help}`;
    const scalar = { type: ['string', 'number'] };
    if (o.value === undefined) properties[name] = { description, type: 'boolean' };
    else if (o.repeatable) properties[name] = { description, oneOf: [scalar, { type: 'array', items: scalar }] };
    else properties[name] = { description, ...scalar };
  }
  return { type: 'object', properties, additionalProperties: false };
}

/** The JSON Schema of configuration files, with the options of `plugins` spelled out. */
export function configSchema(plugins: readonly TrellisPlugin[]): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'trellis-config.schema.json',
    title: 'Trellis configuration',
    description: 'What `trellis NAME ... --save-config FILE` writes and `trellis run FILE` serves (docs/config.md).',
    type: 'object',
    required: ['service'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string' },
      format: { const: CONFIG_FORMAT, description: 'The version of this format.' },
      service: {
        type: 'string',
        minLength: 1,
        description: 'The plugin to run: "web", or one an installed package declares.',
      },
      directory: {
        type: 'string',
        minLength: 1,
        description: "Where relative paths start from. Default: this file's directory.",
      },
      options: {
        type: 'object',
        description: 'The options of the service, named as on its command line without the dashes.',
      },
      configDir: {
        type: 'string',
        minLength: 1,
        description: 'Drop-in modules applied to the site, in name order (--config-dir).',
      },
    },
    allOf: plugins.map((p) => ({
      if: { properties: { service: { const: p.name } } },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
      then: { properties: { options: optionsSchema(p) } },
    })),
  };
}

/** Where the package's own schema file lives (for tests and the script that writes it). */
export function schemaPath(): string {
  return fileURLToPath(schemaUrl());
}
