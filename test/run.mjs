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
// test/package/ packs and installs the package with npm: it runs alone after the rest, with more time.
const isPackage = (file) => file.startsWith('test/package/');
const runs = [
  // A test stuck on a peer fails after 3 minutes instead of holding the whole run.
  [files.filter((f) => !isPackage(f)), 180_000],
  [files.filter(isPackage), 600_000],
].filter(([list]) => list.length);

// Which Node runs the suite, first and last: CI runs it on several.
const node = `Node ${process.version} (${process.execPath})`;
console.log(`trellis tests: ${files.length} file${files.length === 1 ? '' : 's'} on ${node}`);
// TRELLIS_TEST_LIGHT_RESPONSE=1 runs the tests with LightResponse as the global Response.
const preload =
  process.env.TRELLIS_TEST_LIGHT_RESPONSE === '1' ? ['--import', './test/helpers/light-response-global.ts'] : [];
if (preload.length) console.log('with LightResponse as the global Response');
let status = 0;
for (const [list, timeout] of runs) {
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      ...preload,
      '--test',
      '--test-concurrency=4',
      `--test-timeout=${timeout}`,
      '--test-reporter=spec',
      ...list,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, TRELLIS_TEST: '1' },
      timeout: 30 * 60_000,
      killSignal: 'SIGKILL',
    },
  );
  if (result.error)
    console.error(`test run stopped: ${result.error.message} (the whole suite normally takes a few minutes)`);
  if (result.status !== 0) status = result.status ?? 1;
}
console.log(`trellis tests on ${node}: ${status === 0 ? 'passed' : `failed (exit ${status})`}`);
process.exit(status);
