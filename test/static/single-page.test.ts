import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Site } from '../../src/site.js';
import { File } from '../../src/static/file.js';
import { SinglePageFallback, looksLikeRoute } from '../../src/static/single-page.js';
import { serveSite, tempDir } from '../helpers/server.js';

test('looksLikeRoute: a last segment without a dot is an app route', () => {
  assert.equal(looksLikeRoute(['users', '42']), true);
  assert.equal(looksLikeRoute(['a', '']), true);
  assert.equal(looksLikeRoute([]), true);
  assert.equal(looksLikeRoute(['app.js']), false);
  assert.equal(looksLikeRoute(['v1.2', 'x']), true);
});

test("SinglePageFallback: routes get the index page with 200, assets keep their 404, everything else is the tree's", async () => {
  const dir = tempDir('trellis-spa-');
  mkdirSync(join(dir.path, 'static'));
  writeFileSync(join(dir.path, 'index.html'), '<main>app</main>');
  writeFileSync(join(dir.path, 'static', 'app.js'), 'js');
  const root = new File(dir.path);
  const server = await serveSite(new Site(new SinglePageFallback(root, new File(join(dir.path, 'index.html')))));
  try {
    const get = async (path: string, method = 'GET') => {
      const res = await fetch(server.base + path, { method, redirect: 'manual' });
      return [res.status, await res.text()] as const;
    };
    assert.deepEqual(await get('/'), [200, '<main>app</main>']);
    assert.deepEqual(await get('/users/42'), [200, '<main>app</main>']);
    assert.deepEqual(await get('/users/42', 'HEAD'), [200, '']);
    assert.deepEqual(await get('/static/app.js'), [200, 'js']);
    assert.equal((await get('/static/missing.js'))[0], 404);
    assert.equal((await get('/static'))[0], 302, 'a directory without its slash still redirects');
    assert.equal((await get('/users/42', 'DELETE'))[0], 404);
  } finally {
    await server.close();
    dir.cleanup();
  }
});
