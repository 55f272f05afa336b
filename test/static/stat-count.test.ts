// How many path stats a request costs: the stat is most of a small cached file's CPU, so each is
// counted. fs.statSync is wrapped and pushed to the ESM bindings File imports.
import assert from 'node:assert/strict';
import fs, { mkdirSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { File } from '../../src/static/file.js';
import { Site } from '../../src/site.js';
import { dummyRequest } from '../helpers/dummy.js';
import { serveSite, tempDir } from '../helpers/server.js';
import { send } from './cases.js';

const dir = tempDir('trellis-stat-count-');
const root = join(dir.path, 'root');
/** The fs module as a writable record, so statSync can be wrapped. */
const writable = fs as unknown as { statSync: typeof fs.statSync };
const realStatSync = fs.statSync;
const stats: string[] = [];
let server: { base: string; close(): Promise<void> };
let site: Site;
/** One turn of the event loop. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Starts answering `path` now (in this turn); the response and its text once it has ended. */
function answer(path: string) {
  const d = dummyRequest({ uri: path });
  const done = new Promise<void>((resolve) => d.request.whenDone(() => resolve()));
  site.handle(d.request);
  return done.then(() => ({ status: d.response.code, text: d.response.text() }));
}

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
    site = new Site(new File(root));
    server = await serveSite(site);
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

  test("a file is stat'ed once (traversal hands its stat to the render)", async () => {
    assert.deepEqual(await statsFor('/a.txt'), { status: 200, paths: ['/a.txt'] });
  });

  test("the root's index is one stat: the index, not the directory first", async () => {
    assert.deepEqual(await statsFor('/'), { status: 200, paths: ['/index.html'] });
  });

  test("a subdirectory's index: the directory (its stat kept) and the index", async () => {
    assert.deepEqual(await statsFor('/sub/'), { status: 200, paths: ['/sub', '/sub/index.html'] });
  });

  test('requests answered in one turn of the event loop share one stat of a path', async () => {
    await nextTurn();
    stats.length = 0;
    const answers = [answer('/a.txt'), answer('/a.txt'), answer('/a.txt')];
    assert.deepEqual(stats, ['/a.txt']);
    for (const a of await Promise.all(answers)) assert.deepEqual(a, { status: 200, text: 'a' });
  });

  test('a change is seen from the next turn on: a file edited, removed, then created again', async () => {
    const path = join(root, 'changing.txt');
    writeFileSync(path, 'one');
    await nextTurn();
    assert.deepEqual(await answer('/changing.txt'), { status: 200, text: 'one' });
    await nextTurn();
    writeFileSync(path, 'second');
    assert.deepEqual(await answer('/changing.txt'), { status: 200, text: 'second' });
    await nextTurn();
    fs.rmSync(path);
    assert.equal((await answer('/changing.txt')).status, 404);
    await nextTurn();
    writeFileSync(path, 'third');
    assert.deepEqual(await answer('/changing.txt'), { status: 200, text: 'third' });
    // Over a socket, as a client sees it: each request after the change gets the new file.
    writeFileSync(path, 'fourth');
    assert.equal((await send(server.base, '/changing.txt')).body.toString(), 'fourth');
    writeFileSync(path, 'fifth!');
    assert.equal((await send(server.base, '/changing.txt')).body.toString(), 'fifth!');
  });
});
