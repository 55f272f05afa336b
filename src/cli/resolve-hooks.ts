// Module resolution hooks for user modules: `import ... from 'trellis'` (and its subpaths) resolves to
// this package wherever the module lives on disk, and `.ts` files load as ES modules even without a
// package.json saying "type": "module" (write `.cts` for CommonJS).

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

export async function resolve(specifier: string, context: unknown, nextResolve: Resolve): Promise<Resolved> {
  if (specifier === 'trellis') return { url: indexUrl, format: 'module', shortCircuit: true };
  const sub = SUBPATHS[specifier];
  if (sub) return { url: new URL(sub, indexUrl).href, format: 'module', shortCircuit: true };
  const resolved = await nextResolve(specifier, context);
  if (/\.(ts|mts|tsx)$/.test(resolved.url) && resolved.url.startsWith('file:') && !resolved.url.includes('/node_modules/')) {
    return { ...resolved, format: tsFormat };
  }
  return resolved;
}
