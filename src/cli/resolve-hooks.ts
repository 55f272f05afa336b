// Module resolution hooks: `import ... from 'trellis'` in a user's module resolves to this package,
// wherever that module lives on disk.

let indexUrl = '';

/** Receives the URL of Trellis's entry point from `module.register`. */
export function initialize(data: { index: string }): void {
  indexUrl = data.index;
}

type Resolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, nextResolve: Resolve): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier === 'trellis') return { url: indexUrl, shortCircuit: true };
  return nextResolve(specifier, context);
}
