// Module resolution hooks for user modules: `import ... from 'trellis'` (and its subpaths) resolves to
// this package wherever the module lives on disk, and `.ts` files load as ES modules even without a
// package.json saying "type": "module" (write `.cts` for CommonJS); so do resource scripts (`.rpy.js`).
// A module loaded with `?trellis-reload=N` (`--watch`) passes that query to the site's own files it
// imports, so they load afresh too. Under Node's own type stripping a `.js` import of a file that
// exists only as `.ts` fails with one line saying to import the `.ts` name (tsx maps one to the other).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let indexUrl = '';
let tsFormat = 'module';

/** The package's subpath exports, relative to its entry point (package.json `exports`). */
const SUBPATHS: Record<string, string> = {
  'trellis/channels': './channels/index.js',
  'trellis/testing': './testing.js',
};

/**
 * Receives the URL of Trellis's entry point from `module.register`, and how TypeScript loads: Node's
 * own type stripping wants the format `module-typescript`, tsx takes `module`.
 */
export function initialize(data: { index: string; typeScript?: 'native' | 'tsx' | null }): void {
  indexUrl = data.index;
  if (data.typeScript === 'native') tsFormat = 'module-typescript';
}

type Resolved = { url: string; format?: string | null; shortCircuit?: boolean };
type Resolve = (specifier: string, context: unknown) => Promise<Resolved>;

const RELOAD = /[?&](trellis-reload=\d+)/;

export async function resolve(specifier: string, context: unknown, nextResolve: Resolve): Promise<Resolved> {
  if (specifier === 'trellis') return { url: indexUrl, format: 'module', shortCircuit: true };
  const sub = SUBPATHS[specifier];
  if (sub) return { url: new URL(sub, indexUrl).href, format: 'module', shortCircuit: true };
  let resolved: Resolved;
  try {
    resolved = await nextResolve(specifier, context);
  } catch (err) {
    throw tsNameError(err, specifier, (context as { parentURL?: string }).parentURL) ?? err;
  }
  const own =
    resolved.url.startsWith('file:') &&
    !resolved.url.includes('/node_modules/') &&
    !resolved.url.startsWith(new URL('.', indexUrl).href);
  if (!own) return resolved;
  const reload = RELOAD.exec((context as { parentURL?: string }).parentURL ?? '')?.[1];
  if (reload && !RELOAD.test(resolved.url))
    resolved = { ...resolved, url: `${resolved.url}${resolved.url.includes('?') ? '&' : '?'}${reload}` };
  // The path alone decides the format: a module may carry a query (`trellis-reload=N`, a resource
  // script's version). Resource scripts (`.rpy.js` too) are ES modules wherever they live.
  const path = resolved.url.replace(/[?#].*$/, '');
  if (/\.(ts|mts|tsx)$/i.test(path)) return { ...resolved, format: tsFormat };
  if (/\.rpy\.js$/i.test(path)) return { ...resolved, format: 'module' };
  return resolved;
}

/**
 * For a relative `.js` (`.mjs`, `.cjs`) import that is not found while the `.ts` (`.mts`, `.cts`) of
 * the same name exists, under Node's type stripping: an error saying to import the `.ts` name.
 */
function tsNameError(err: unknown, specifier: string, parentURL: string | undefined): Error | null {
  if (tsFormat !== 'module-typescript' || (err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') return null;
  const js = /^(\.\.?\/.*)\.([cm]?)js$/.exec(specifier);
  if (!js || !parentURL?.startsWith('file:')) return null;
  const ts = `${js[1]}.${js[2]}ts`;
  let target: string;
  try {
    target = fileURLToPath(new URL(ts, parentURL));
  } catch {
    return null;
  }
  if (!existsSync(target)) return null;
  const parent = fileURLToPath(parentURL.replace(/[?#].*$/, ''));
  const error = new Error(
    `${parent} imports '${specifier}', which does not exist: import '${ts}' instead (Node's type stripping loads the file name as written)`,
  );
  (error as Error & { code?: string }).code = 'ERR_MODULE_NOT_FOUND';
  return error;
}
