import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SourceWatcher } from '../../src/util/source-watcher.js';
import { tempDir } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SourceWatcher: one notice per burst of module changes, none for node_modules or other files', async () => {
  const dir = tempDir('trellis-watch-');
  mkdirSync(join(dir.path, 'node_modules', 'pkg'), { recursive: true });
  mkdirSync(join(dir.path, 'lib'));
  const watcher = new SourceWatcher({ debounceMs: 100 });
  const notices: string[][] = [];
  watcher.add(dir.path);
  watcher.onChange((paths) => notices.push(paths.sort()));
  try {
    await sleep(100);
    writeFileSync(join(dir.path, 'node_modules', 'pkg', 'index.js'), 'x');
    writeFileSync(join(dir.path, 'notes.txt'), 'x');
    await sleep(400);
    assert.deepEqual(notices, [], 'nothing that matters changed');
    writeFileSync(join(dir.path, 'site.ts'), 'a');
    writeFileSync(join(dir.path, 'lib', 'helper.js'), 'b');
    const deadline = Date.now() + 10_000;
    while (!notices.length && Date.now() < deadline) await sleep(50);
    await sleep(300);
    assert.equal(notices.length, 1, JSON.stringify(notices));
    assert.deepEqual(notices[0], [join('lib', 'helper.js'), 'site.ts']);
  } finally {
    watcher.close();
    dir.cleanup();
  }
});
