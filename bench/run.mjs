// `npm run bench -- NAME`: runs bench/NAME.mjs, which prints Trellis's figures beside its peers'.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const dir = new URL('.', import.meta.url).pathname;
const name = process.argv[2];
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && !['run.mjs', 'lib.mjs'].includes(f))
  .map((f) => f.slice(0, -4));
if (!name || !existsSync(`${dir}${name}.mjs`)) {
  console.error(`usage: npm run bench -- NAME   (NAME: ${available.join(', ')})`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [`${dir}${name}.mjs`, ...process.argv.slice(3)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
