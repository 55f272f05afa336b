// How many path stats a request costs: the stat is most of a small cached file's CPU, so each is
// counted. fs.statSync is wrapped and pushed to the ESM bindings File imports.
import assert from 'node:assert/strict';
import fs, { mkdirSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { File } from '../../src/static/file.js';
import { Site } from '../../src/site.js';
import { serveSite, tempDir } from '../helpers/server.js';
import { send } from './cases.js';

const dir = tempDir('trellis-stat-count-');
const root = join(dir.path, 'root');
/** The fs module as a writable record, so statSync can be wrapped. */
const writable = fs as unknown as { statSync: typeof fs.statSync };
const realStatSync = fs.statSync;
const stats: string[] = [];
let server: { base: string; close(): Promise<void> };

/** The paths stat'ed while answering `path`. */
async function statsFor(path: string): Promise<{ status: number; paths: string[] }> {
  stats.length = 0;
  const r = await send(server.base, path);
  return { status: r.status, paths: [...stats] };
}

describe('File stats per request', () => {
  before(async () => {
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<h1>home</h1>');
    writeFileSync(join(root, 'sub', 'index.html'), '<h1>sub</h1>');
    writeFileSync(join(root, 'a.txt'), 'a');
    server = await serveSite(new Site(new File(root)));
    writable.statSync = ((path: fs.PathLike, options?: fs.StatSyncOptions) => {
      if (String(path).startsWith(root)) stats.push(String(path).slice(root.length) || '/');
      return realStatSync(path, options);
    }) as typeof fs.statSync;
    syncBuiltinESMExports();
  });

  after(async () => {
    writable.statSync = realStatSync;
    syncBuiltinESMExports();
    await server.close();
    dir.cleanup();
  });

  test('a file is stat\'ed once (traversal hands its stat to the render)', async () => {
    assert.deepEqual(await statsFor('/a.txt'), { status: 200, paths: ['/a.txt'] });
  });

  test('the root\'s index is one stat: the index, not the directory first', async () => {
    assert.deepEqual(await statsFor('/'), { status: 200, paths: ['/index.html'] });
  });

  test('a subdirectory\'s index: the directory (its stat kept) and the index', async () => {
    assert.deepEqual(await statsFor('/sub/'), { status: 200, paths: ['/sub', '/sub/index.html'] });
  });
});
