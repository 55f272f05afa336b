// Module resolution hooks for user modules: `import ... from 'trellis'` resolves to this package
// wherever the module lives on disk, and `.ts` files load as ES modules even without a package.json
// saying "type": "module" (write `.cts` for CommonJS).

let indexUrl = '';

/** Receives the URL of Trellis's entry point from `module.register`. */
export function initialize(data: { index: string }): void {
  indexUrl = data.index;
}

type Resolved = { url: string; format?: string | null; shortCircuit?: boolean };
type Resolve = (specifier: string, context: unknown) => Promise<Resolved>;

export async function resolve(specifier: string, context: unknown, nextResolve: Resolve): Promise<Resolved> {
  if (specifier === 'trellis') return { url: indexUrl, format: 'module', shortCircuit: true };
  const resolved = await nextResolve(specifier, context);
  // A reloaded module carries a query (`?trellis-reload=N`, src/cli/load-module.ts).
  const path = resolved.url.replace(/[?#].*$/, '');
  if (/\.(ts|tsx)$/.test(path) && path.startsWith('file:') && !path.includes('/node_modules/')) {
    return { ...resolved, format: 'module' };
  }
  return resolved;
}
