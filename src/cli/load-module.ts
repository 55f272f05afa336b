// Loading user modules named on the command line (`--class MODULE#export`, `trellis run FILE`):
// TypeScript or JavaScript, anywhere on disk, able to `import { Resource } from 'trellis'`.
import { existsSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CliError } from './options.js';

let hooksRegistered = false;
let generation = 0;

/**
 * Makes the next imports of user modules load them afresh (a reload): each generation imports a
 * module under its own URL (`?trellis-reload=N`), so ES module caching returns no stale copy.
 */
export function nextModuleGeneration(): number {
  return ++generation;
}
let tsxRegistered = false;

/** This package's entry point, found by resolving the package's own name (right whether or not it is bundled). */
function trellisIndexUrl(): string {
  return import.meta.resolve('trellis');
}

/**
 * Whether `import 'trellis'` from `path` already finds this very package (installed beside the site,
 * or the site lives inside it). Then no resolution hook is needed, which saves a loader thread at start-up.
 */
function resolvesToThisPackage(path: string): boolean {
  try {
    return createRequire(path).resolve('trellis') === fileURLToPath(trellisIndexUrl());
  } catch {
    return false;
  }
}

async function prepareLoader(path: string, reloading: boolean): Promise<void> {
  // tsx first, so that our hooks run before it and can say that a .ts file is an ES module.
  if (!tsxRegistered && /\.(ts|mts|cts|tsx)$/.test(path)) {
    tsxRegistered = true;
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
  }
  if (!hooksRegistered && (tsxRegistered || reloading || !resolvesToThisPackage(path))) {
    hooksRegistered = true;
    const index = trellisIndexUrl();
    register(new URL('./cli/resolve-hooks.js', index), { data: { index } });
  }
}

/** The query that makes a module, and the user modules it imports, load afresh (resolve-hooks.ts passes it on). */
export const RELOAD_QUERY = 'trellis-reload';

/**
 * An error's message in one line: its first line, and the next one too when the first only
 * announces it (esbuild's `Transform failed with 1 error:` then `file:1:2: ERROR: ...`).
 */
export function oneLineMessage(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err)).split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines[0] ?? 'unknown error';
  return first.endsWith(':') && lines[1] ? `${first} ${lines[1]}` : first;
}

/**
 * Imports the module at `file` (relative to `cwd`); errors say which file and why. A `reload`
 * generation above 0 (SIGHUP, `--watch`; by default the one {@link nextModuleGeneration} set) loads it
 * and the site's own modules it imports again, as new module instances; packages (node_modules) and
 * Trellis itself stay loaded once.
 */
export async function importUserModule(file: string, cwd: string, option: string, reload = generation): Promise<Record<string, unknown>> {
  const path = resolvePath(cwd, file);
  if (!existsSync(path)) throw new CliError(`${option}: no such file ${path}`);
  await prepareLoader(path, reload > 0);
  const url = pathToFileURL(path).href + (reload > 0 ? `?${RELOAD_QUERY}=${reload}` : '');
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${option}: cannot load ${path}: ${oneLineMessage(err)}`, 1);
  }
}

/**
 * Loads `MODULE#export` (the export defaults to `default`) and returns the exported value.
 *
 * | spec                 | loads                      |
 * |----------------------|----------------------------|
 * | `./site.ts#Root`     | export `Root` of site.ts   |
 * | `./site.js`          | the default export         |
 */
export async function loadExport(spec: string, cwd: string, option: string, reload?: number): Promise<unknown> {
  const hash = spec.lastIndexOf('#');
  const file = hash === -1 ? spec : spec.slice(0, hash);
  const name = hash === -1 ? 'default' : spec.slice(hash + 1);
  if (!file) throw new CliError(`${option} needs MODULE#export, e.g. ./site.ts#Root`);
  const mod = await importUserModule(file, cwd, option, reload);
  if (!(name in mod)) {
    const known = Object.keys(mod).join(', ') || 'none';
    throw new CliError(`${option}: ${file} has no export "${name}" (exports: ${known})`);
  }
  return mod[name];
}
