// Loading user modules named on the command line (`--class MODULE#export`, `trellis run FILE`):
// TypeScript or JavaScript, anywhere on disk, able to `import { Resource } from 'trellis'`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CliError } from './options.js';

let hooksRegistered = false;
let typeScript: 'native' | 'tsx' | null = null;
let generation = 0;

/**
 * Makes the next imports of user modules load them afresh (a reload): each generation imports a
 * module under its own URL (`?trellis-reload=N`), so ES module caching returns no stale copy.
 */
export function nextModuleGeneration(): number {
  return ++generation;
}

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

/** Whether this Node strips TypeScript types itself (22.18+, 23.6+; off with `--no-experimental-strip-types`). */
export function nodeStripsTypes(): boolean {
  const features = process.features as { typescript?: string | false };
  return typeof features.typescript === 'string';
}

const TSX_HINT = 'install tsx (npm install --save-dev tsx)';

/** tsx's ESM API, from beside Trellis or beside the user's module; null when it is not installed. */
async function loadTsx(path: string): Promise<{ register(): unknown } | null> {
  try {
    return (await import('tsx/esm/api')) as { register(): unknown };
  } catch {
    // not beside Trellis: look beside the module
  }
  try {
    // createRequire resolves with the `require` condition; tsx's ESM API is its `import` export.
    const manifest = createRequire(path).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> };
    const entry = pkg.exports?.['./esm/api'] as { import?: string | { default?: string } } | undefined;
    const target = typeof entry?.import === 'string' ? entry.import : entry?.import?.default;
    if (!target) return null;
    return (await import(pathToFileURL(resolvePath(dirname(manifest), target)).href)) as { register(): unknown };
  } catch {
    return null;
  }
}

/**
 * Readies Node to import `path`. TypeScript loads through Node's own type stripping where it has it,
 * else through tsx (an optional peer dependency), or `TRELLIS_TYPESCRIPT=tsx` asks for tsx anyway
 * (for enums, namespaces, parameter properties, which stripping refuses). Without either, a one-line
 * error says what to install.
 */
async function prepareLoader(path: string, option: string, reloading: boolean): Promise<void> {
  if (typeScript === null && /\.(ts|mts|cts|tsx)$/.test(path)) {
    const wantsTsx = process.env.TRELLIS_TYPESCRIPT === 'tsx' || /\.tsx$/.test(path);
    if (!wantsTsx && nodeStripsTypes()) {
      typeScript = 'native';
    } else {
      // tsx first, so that our hooks run before it and can say that a .ts file is an ES module.
      const tsx = await loadTsx(path);
      if (!tsx) {
        const why = nodeStripsTypes()
          ? 'TRELLIS_TYPESCRIPT=tsx (or .tsx) asks for tsx'
          : `Node ${process.version} cannot load TypeScript by itself (22.18+ and 23.6+ can)`;
        throw new CliError(`${option}: ${path} is TypeScript and ${why}: ${TSX_HINT}`);
      }
      tsx.register();
      typeScript = 'tsx';
    }
  }
  if (!hooksRegistered && (typeScript !== null || reloading || !resolvesToThisPackage(path))) {
    hooksRegistered = true;
    const index = trellisIndexUrl();
    register(new URL('./cli/resolve-hooks.js', index), { data: { index, typeScript } });
  }
}

/**
 * Where a module that failed to load went wrong, as `file:line: message`: a syntax error's location is
 * the first line of its stack (V8 puts `file:///...:LINE` there), tsx reports `file:line:column`.
 */
export function loadFailure(err: unknown, path: string): string {
  const e = err instanceof Error ? err : new Error(String(err));
  const message = e.message.split('\n')[0] ?? '';
  const code = (e as NodeJS.ErrnoException).code;
  // V8 and Node's type stripping put the place first in the stack: `file:///site.js:3` or `/site.ts:3`.
  const first = (e.stack ?? '').split('\n')[0] ?? '';
  const at = /^(file:\/\/\S+?|\/\S+?):(\d+)$/.exec(first);
  const where = at ? `${at[1]!.startsWith('file:') ? fileURLToPath(at[1]!) : at[1]!}:${at[2]}` : null;
  if (code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') {
    const hint = `Node's type stripping takes erasable TypeScript only: rewrite it, or ${TSX_HINT} and set TRELLIS_TYPESCRIPT=tsx`;
    return `${where ?? path}: ${message}; ${hint}`;
  }
  if (code === 'ERR_INVALID_TYPESCRIPT_SYNTAX') return `${where ?? path}: SyntaxError: ${message}`;
  // tsx (esbuild): "Transform failed with 1 error:\n/path/site.ts:3:30: ERROR: Unexpected \";\""
  const tsx = /^(\/\S+?|[A-Za-z]:\\\S+?):(\d+):(\d+): ERROR: (.*)$/m.exec(e.message);
  if (tsx) return `${tsx[1]}:${tsx[2]}: SyntaxError: ${tsx[4]}`;
  if (e.name === 'SyntaxError') {
    if (where) return `${where}: SyntaxError: ${message}`;
    // A dynamic import's syntax error may carry no location (Node 20); Node's syntax check says it.
    const line = checkedLine(path);
    if (line !== null) return `${path}:${line}: SyntaxError: ${message}`;
  }
  return `${path}: ${message}`;
}

/**
 * The line Node's syntax check reports for the JavaScript module at `path`, or null. The source goes
 * through stdin with its module type, as importing it would judge it.
 */
function checkedLine(path: string): string | null {
  if (!/\.[cm]?js$/.test(path)) return null;
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const type = path.endsWith('.cjs') ? 'commonjs' : 'module';
  const args = [`--input-type=${type}`, '--check'];
  const run = spawnSync(process.execPath, args, { input: source, encoding: 'utf8', timeout: 10_000 });
  return /^\[stdin\]:(\d+)$/m.exec(run.stderr ?? '')?.[1] ?? null;
}

/** The query that makes a module, and the user modules it imports, load afresh (resolve-hooks.ts passes it on). */
export const RELOAD_QUERY = 'trellis-reload';

/**
 * An error's message in one line: its first line, and the next one too when the first only
 * announces it (esbuild's `Transform failed with 1 error:` then `file:1:2: ERROR: ...`).
 */
export function oneLineMessage(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err))
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const first = lines[0] ?? 'unknown error';
  return first.endsWith(':') && lines[1] ? `${first} ${lines[1]}` : first;
}

/**
 * Imports the module at `file` (relative to `cwd`); errors say which file, which line, and why. A `reload`
 * generation above 0 (SIGHUP, `--watch`; by default the one {@link nextModuleGeneration} set) loads it
 * and the site's own modules it imports again, as new module instances; packages (node_modules) and
 * Trellis itself stay loaded once.
 */
export async function importUserModule(
  file: string,
  cwd: string,
  option: string,
  reload = generation,
): Promise<Record<string, unknown>> {
  const path = resolvePath(cwd, file);
  if (!existsSync(path)) throw new CliError(`${option}: no such file ${path}`);
  await prepareLoader(path, option, reload > 0);
  const url = pathToFileURL(path).href + (reload > 0 ? `?${RELOAD_QUERY}=${reload}` : '');
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${option}: cannot load ${loadFailure(err, path)}`, 1);
  }
}

/**
 * Imports the module at the absolute `path` as it is at `version` (any text that changes when the
 * file does): each version is a new module instance, for resource scripts reloaded on edit. Errors
 * are thrown as they come (the caller names the script).
 */
export async function importModuleVersion(path: string, version: string): Promise<Record<string, unknown>> {
  await prepareLoader(path, 'resource script', false);
  return (await import(`${pathToFileURL(path).href}?version=${encodeURIComponent(version)}`)) as Record<
    string,
    unknown
  >;
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
    const names = Object.keys(mod);
    const hint = names.length ? `name one, e.g. ${file}#${names[0]}` : `export it from ${file}`;
    throw new CliError(`${option}: ${file} has no export "${name}" (exports: ${names.join(', ') || 'none'}); ${hint}`);
  }
  return mod[name];
}
