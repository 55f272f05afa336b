// The real path of a processed file is resolved once per turn of the event loop, as its stat is:
// the requests of one turn share it, and a symlink swapped between turns is judged by where it leads
// from the next turn on, never run from outside the root. fs.realpathSync.native is wrapped to count.
import assert from 'node:assert/strict';
import fs, { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { File } from '../../src/static/file.js';
import { Site } from '../../src/site.js';
import { dummyRequest } from '../helpers/dummy.js';
import { serveSite, tempDir } from '../helpers/server.js';
import { send } from './cases.js';

const dir = tempDir('trellis-realpath-turn-');
const root = join(dir.path, 'root');
const outside = join(dir.path, 'outside');
const native = fs.realpathSync as unknown as { native: typeof fs.realpathSync.native };
const realNative = fs.realpathSync.native;
const resolved: string[] = [];
/** The paths the processor was given, in order. */
const ran: string[] = [];
let site: Site;
let server: { base: string; close(): Promise<void> };
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Answers with the path it was made for: what a `.run` processor would run. */
class Runs extends Resource {
  override isLeaf = true;
  constructor(readonly path: string) {
    super();
  }
  override render(_request: Request): string {
    ran.push(this.path);
    return `ran ${this.path.slice(dir.path.length)}`;
  }
}

/** Starts answering `path` now (in this turn); the response once it has ended. */
function answer(path: string) {
  const d = dummyRequest({ uri: path });
  const done = new Promise<void>((resolve) => d.request.whenDone(() => resolve()));
  site.handle(d.request);
  return done.then(() => ({ status: d.response.code, text: d.response.text() }));
}

/** Points `root/link.run` at `target`, replacing the link. */
function relink(target: string): void {
  rmSync(join(root, 'link.run'), { force: true });
  symlinkSync(target, join(root, 'link.run'));
}

describe('real paths of processed files per turn', () => {
  before(async () => {
    mkdirSync(root, { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(root, 'a.run'), 'a');
    writeFileSync(join(root, 'inside.run'), 'inside');
    writeFileSync(join(outside, 'secret.run'), 'secret');
    relink(join(root, 'inside.run'));
    site = new Site(new File(root, { processors: { '.run': (path) => new Runs(path) } }));
    server = await serveSite(site);
    native.native = ((path: fs.PathLike, options?: fs.EncodingOption) => {
      if (String(path).startsWith(root)) resolved.push(String(path).slice(root.length));
      return realNative(path, options);
    }) as typeof fs.realpathSync.native;
  });

  after(async () => {
    native.native = realNative;
    await server.close();
    dir.cleanup();
  });

  test('requests answered in one turn share one realpath; the next turn resolves again', async () => {
    await nextTurn();
    resolved.length = 0;
    const answers = [answer('/a.run'), answer('/a.run'), answer('/a.run')];
    assert.deepEqual(resolved, ['/a.run']);
    for (const a of await Promise.all(answers)) assert.deepEqual(a, { status: 200, text: 'ran /root/a.run' });
    await nextTurn();
    resolved.length = 0;
    assert.deepEqual(await answer('/a.run'), { status: 200, text: 'ran /root/a.run' });
    assert.deepEqual(resolved, ['/a.run']);
  });

  test('a symlink swapped out of the root between turns is refused from the next turn, and never run', async () => {
    await nextTurn();
    relink(join(root, 'inside.run'));
    await nextTurn();
    assert.deepEqual(await answer('/link.run'), { status: 200, text: 'ran /root/link.run' });
    await nextTurn();
    relink(join(outside, 'secret.run'));
    ran.length = 0;
    assert.equal((await answer('/link.run')).status, 404);
    assert.deepEqual(ran, []);
    await nextTurn();
    relink(join(root, 'inside.run'));
    assert.deepEqual(await answer('/link.run'), { status: 200, text: 'ran /root/link.run' });
  });

  test('over a socket, each request after a swap is judged by where the link leads then', async () => {
    relink(join(root, 'inside.run'));
    assert.equal((await send(server.base, '/link.run')).status, 200);
    relink(join(outside, 'secret.run'));
    ran.length = 0;
    assert.equal((await send(server.base, '/link.run')).status, 404);
    assert.deepEqual(ran, []);
    relink(join(root, 'inside.run'));
    assert.equal((await send(server.base, '/link.run')).status, 200);
    relink(join(outside, 'secret.run'));
    assert.equal((await send(server.base, '/link.run')).status, 404);
    assert.deepEqual(ran, [join(root, 'link.run')]);
  });
});
