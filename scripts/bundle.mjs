// Bundles the sources into a few ES modules so that start-up reads a handful of files instead
// of dozens: `trellis web` and `trellis cgi` start measurably faster, and user code importing 'trellis'
// shares the very same module instances as the command (one Resource class, not two). tsc emits
// only the declaration files next to them (scripts/build.mjs runs both).
import { build } from 'esbuild';

await build({
  entryPoints: [
    'src/index.ts',
    'src/channels/index.ts',
    'src/testing.ts',
    'src/cli/main.ts',
    'src/cli/resolve-hooks.ts',
  ],
  outdir: 'dist',
  outbase: 'src',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  logLevel: 'warning',
});
