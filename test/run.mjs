// Runs every *.test.ts under test/ (or the files/folders given) with Node's test runner through tsx.
// Node 20's --test takes no globs, so the file list is built here.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const targets = args.length ? args : ['test'];

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      collect(join(path, name), out);
    }
  } else if (path.endsWith('.test.ts')) {
    out.push(relative(root, path));
  }
  return out;
}

const files = targets.flatMap((t) => collect(join(root, t), []));
const result = spawnSync(
  process.execPath,
  // A test stuck on a peer fails after 3 minutes instead of holding the whole run.
  ['--import', 'tsx', '--test', '--test-concurrency=4', '--test-timeout=180000', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, TRELLIS_TEST: '1' }, timeout: 30 * 60_000, killSignal: 'SIGKILL' },
);
if (result.error) console.error(`test run stopped: ${result.error.message} (the whole suite normally takes a minute or two)`);
process.exit(result.status ?? 1);
