// The `script` processor kind: `File` runs resource scripts (`.rpy.ts`, `.rpy.js`) found in the tree
// it serves, each File tree with its own registry.
import type { Processor } from '../static/processors.js';
import { registerProcessorKind } from '../static/processors.js';
import { Registry } from './registry.js';
import { ResourceScript, type ScriptLoader } from './resource-script.js';

/** Options of {@link scriptProcessor}. */
export interface ScriptProcessorOptions {
  /** The registry every script shares. Default: one registry per File tree root. */
  registry?: Registry;
  /** How script modules are imported. Default: `importScript` (a dynamic `import()`). */
  loader?: ScriptLoader;
}

/**
 * A processor that runs resource scripts, for `File`'s `processors`:
 *
 * ```ts
 * new File('/srv/www', { processors: { '.rpy.ts': scriptProcessor({ registry }) } });
 * ```
 *
 * Without a registry, the scripts of one File tree (one `--path` directory, one `--vhost-path`
 * host) share one, kept for the life of the process.
 */
export function scriptProcessor(options: ScriptProcessorOptions = {}): Processor {
  const perRoot = new Map<string, Registry>();
  const loader = options.loader;
  return (path, context) => {
    let registry = options.registry ?? perRoot.get(context.root);
    if (!registry) perRoot.set(context.root, (registry = new Registry()));
    return new ResourceScript(path, loader ? { registry, loader } : { registry });
  };
}

registerProcessorKind('script', scriptProcessor());
