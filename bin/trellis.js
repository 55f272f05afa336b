#!/usr/bin/env node
// The `trellis` command. The published package ships dist/ built; a clone builds it on first use
// (after `npm install`, which brings the build's tools), so `npx trellis` works in either.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('trellis: building dist/ first (a clone of the repository)\n');
  try {
    execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))], {
      stdio: 'inherit',
    });
  } catch {
    process.stderr.write('trellis: the build failed; run `npm install` in the clone, then `npm run build`\n');
    process.exit(1);
  }
}
await import(main.href);
