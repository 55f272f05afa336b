// `--class` modules that fail to load: one line naming the file, the line and the message, exit 1.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';

const BROKEN = [
  'import { Resource } from "trellis";',
  'export class Root extends Resource {',
  '  GET() { return "x" +; }',
  '}',
  '',
].join('\n');

test('a --class module with a syntax error prints its file, line and message on one line', async () => {
  const dir = tempDir('trellis-broken-');
  try {
    for (const name of ['site.js', 'site.ts']) {
      writeFileSync(join(dir.path, name), BROKEN);
      const r = await runTrellis(['web', '--class', `./${name}#Root`, '--port', '0'], { cwd: dir.path });
      assert.equal(r.code, 1, name);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(`${join(dir.path, name)}:3: SyntaxError: `), r.stderr);
    }
  } finally {
    dir.cleanup();
  }
});

test('a --class module that throws while loading names the file and the error', async () => {
  const dir = tempDir('trellis-throws-');
  try {
    writeFileSync(join(dir.path, 'site.js'), 'throw new Error("no database");\n');
    const r = await runTrellis(['web', '--class', './site.js#Root', '--port', '0'], { cwd: dir.path });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^trellis: --class: cannot load \S+site\.js: no database\n$/);
  } finally {
    dir.cleanup();
  }
});

// Node's type stripping loads the file name written; tsx (Node 20) maps `.js` to `.ts` and loads it.
const stripsTypes = typeof (process.features as { typescript?: unknown }).typescript === 'string';

test("a .js import of a .ts file under Node's type stripping: one line saying to import the .ts name", async (t) => {
  if (!stripsTypes) {
    t.skip(`Node ${process.version} strips no types: tsx loads the module and maps .js to .ts`);
    return;
  }
  const dir = tempDir('trellis-js-import-');
  try {
    writeFileSync(join(dir.path, 'lib.ts'), 'export const word: string = "hi";\n');
    writeFileSync(
      join(dir.path, 'site.ts'),
      'import { Resource } from "trellis";\nimport { word } from "./lib.js";\nexport class Root extends Resource {\n  override GET() { return word; }\n}\n',
    );
    const r = await runTrellis(['web', '--class', './site.ts#Root', '--port', '0'], { cwd: dir.path });
    assert.equal(r.code, 1);
    const site = join(dir.path, 'site.ts');
    assert.equal(
      r.stderr,
      `trellis: --class: cannot load ${site}: ${site} imports './lib.js', which does not exist: import './lib.ts' instead (Node's type stripping loads the file name as written)\n`,
    );
  } finally {
    dir.cleanup();
  }
});

test('stack traces from trellis name src/ files (the bundle ships source maps and the command turns them on)', async () => {
  const dir = tempDir('trellis-maps-');
  try {
    writeFileSync(
      join(dir.path, 'site.js'),
      'import { Resource } from "trellis";\nexport class Root extends Resource {\n  GET() { return 42; }\n}\n',
    );
    const server = await spawnTrellis(
      ['web', '--class', './site.js#Root', '--listen', 'tcp:0:interface=127.0.0.1', '--display-tracebacks'],
      { cwd: dir.path },
    );
    try {
      const r = await fetch(server.url);
      assert.equal(r.status, 500);
      const page = await r.text();
      assert.match(page, /src\/site\.ts:\d+/, 'a frame in src/site.ts');
      assert.doesNotMatch(page, /dist\/chunks\//, 'no frame left in the bundle');
    } finally {
      await server.stop();
    }
  } finally {
    dir.cleanup();
  }
});
