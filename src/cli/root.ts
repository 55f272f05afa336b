// Building the root resource `trellis web` serves from its configuration.
import { Resource } from '../resource.js';
import { loadExport } from './load-module.js';
import { CliError } from './options.js';
import type { WebConfig } from './web-config.js';
import { Welcome } from './welcome.js';

/** Turns an export into a Resource: a Resource instance as is, a Resource class constructed with no arguments. */
export function toResource(value: unknown, what: string): Resource {
  if (value instanceof Resource) return value;
  if (typeof value === 'function' && value.prototype instanceof Resource) {
    return new (value as new () => Resource)();
  }
  throw new CliError(`${what} is not a Resource class or instance; export a class that extends Resource from 'trellis'`);
}

/** The root resource for `config`. */
export async function buildRoot(config: WebConfig, cwd: string): Promise<Resource> {
  const root = config.root;
  switch (root.kind) {
    case 'welcome':
      return new Welcome();
    case 'class':
      return toResource(await loadExport(root.spec, cwd, '--class'), `--class ${root.spec}`);
  }
}
