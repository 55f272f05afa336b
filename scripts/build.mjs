// `npm run build`: type declarations from tsc, code from esbuild (scripts/bundle.mjs). dist/ is emptied
// first so that no module from an older layout lingers beside the bundle, where an import could load a
// second copy of a class.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { stdio: 'inherit' });
await import('./bundle.mjs');
