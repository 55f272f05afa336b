// Dependencies point one way: http/ <- request <- resource <- resources <- site <- channels/ <- cli/.
// A module imports only from its own layer or lower ones, type-only imports and lazy `import()` included.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/server.js';
import { sources } from '../helpers/sources.js';

const SRC = join(ROOT, 'src');

/** Layers from the bottom; a path matches the first pattern that fits it. */
const LAYERS: Array<[string, RegExp]> = [
  ['grammar', /^(http|internal)\/|^(errors|version|url-path|pages)\.ts$/],
  // FastCGI wire codecs that import only http/: both directions use them (the gateway, and the FastCGI client).
  ['codecs', /^channels\/fastcgi\/(records|name-value)\.ts$/],
  ['sessions', /^session\//],
  ['request', /^request(-internals)?\.ts$|^request\//],
  ['resource', /^resource\.ts$/],
  ['resources', /^(static|proxy|vhost|rewrite|encoding|util|cgi|app|script|fcgi-client|users)\/|^data\.ts$/],
  ['site', /^(site|access-log|testing)\.ts$/],
  ['channels', /^channels\//],
  ['cli', /^cli\//],
  ['entry', /^index\.ts$/],
];

function layerOf(path: string): number {
  const i = LAYERS.findIndex(([, re]) => re.test(path));
  assert.notEqual(i, -1, `src/${path} belongs to no layer: add it to LAYERS in test/architecture/layers.test.ts`);
  return i;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** Every relative import of `file`, as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith('.')) continue;
    found.push(relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return found;
}

test('src/ imports point down the layers: http/ <- request <- resource <- site <- channels/ <- cli/', () => {
  const wrong: string[] = [];
  for (const file of sources(SRC)) {
    const from = relative(SRC, file);
    const own = layerOf(from);
    for (const to of importsOf(file)) {
      const theirs = layerOf(to);
      if (theirs > own) wrong.push(`src/${from} (${LAYERS[own]![0]}) imports src/${to} (${LAYERS[theirs]![0]})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the layer check sees type-only and lazy imports', () => {
  const sample = join(SRC, 'cli', 'root.ts');
  const seen = importsOf(sample);
  assert.ok(seen.includes('static/file.ts'), 'a lazy import(...) is seen');
  assert.ok(seen.includes('cli/web-config.ts'), 'an `import type` is seen');
});
