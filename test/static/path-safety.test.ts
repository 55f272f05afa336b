import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_HIDDEN,
  checkContainment,
  checkOpened,
  isHiddenName,
  isSafeSegment,
} from '../../src/static/path-safety.js';
import { statusForFsError } from '../../src/static/path-safety.js';
import { tempDir } from '../helpers/server.js';

const SEGMENTS: Array<[string, boolean]> = [
  ['a.txt', true],
  ['a b', true],
  ['ü', true],
  ['a:b', true],
  ['...', true],
  ['', false],
  ['.', false],
  ['..', false],
  ['a/b', false],
  ['..\\x', false],
  ['a\0b', false],
];
for (const [segment, safe] of SEGMENTS) {
  test(`isSafeSegment(${JSON.stringify(segment)}) is ${safe}`, () => assert.equal(isSafeSegment(segment), safe));
}

test('isSafeSegment refuses exactly empty, dot and dot-dot segments and any holding /, \\ or NUL', () => {
  const segment = fc.oneof(
    fc.string(),
    fc.array(fc.constantFrom('.', '/', '\\', '\0', 'a', 'ü'), { maxLength: 4 }).map((cs) => cs.join('')),
  );
  fc.assert(fc.property(segment, (s) => isSafeSegment(s) === (!['', '.', '..'].includes(s) && !/[/\\\0]/.test(s))));
});

const HIDDEN: Array<[string, boolean]> = [
  ['.env', true],
  ['.git', true],
  ['.htaccess', true],
  ['.well-known', false],
  ['notes.txt~', true],
  ['a.bak', true],
  ['a.ORIG', true],
  ['.a.swp', true],
  ['a.swp', true],
  ['config.old', true],
  ['#draft#', true],
  ['index.html', false],
  ['a.b~c', false],
  ['a.BaK', true],
  ['a.Swo', true],
  ['a.png', false],
  ['1k.bin', false],
  ['bak', false],
  ['a.xbak', false],
  ['#', false],
];
for (const [name, hidden] of HIDDEN) {
  test(`isHiddenName(${JSON.stringify(name)}) is ${hidden}`, () => assert.equal(isHiddenName(name), hidden));
}

test('isHiddenName under the default policy agrees with its patterns on any name', () => {
  const asPatterns = { allow: [...DEFAULT_HIDDEN.allow], deny: [...DEFAULT_HIDDEN.deny] };
  const name = fc.stringMatching(/^[.#~a-zA-Z0-9]{0,4}(\.(bak|orig|swp|swo|old|BAK|Old|bin|png|k|g))?[~#]?$/);
  fc.assert(fc.property(fc.oneof(name, fc.string()), (n) => isHiddenName(n) === isHiddenName(n, asPatterns)));
});

test('isHiddenName takes a custom allow and deny list', () => {
  const policy = { allow: ['.well-known', '.public'], deny: [/^\./, /\.log$/] };
  assert.equal(isHiddenName('.public', policy), false);
  assert.equal(isHiddenName('app.log', policy), true);
  assert.equal(isHiddenName('a.bak', policy), false);
});

test('statusForFsError maps permission errors to 403 and the rest to 404', () => {
  const e = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(statusForFsError(e('EACCES')), 403);
  assert.equal(statusForFsError(e('EPERM')), 403);
  for (const code of ['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EISDIR', 'EIO'])
    assert.equal(statusForFsError(e(code)), 404);
  assert.equal(statusForFsError(null), 404);
});

/**
 * A root under `dir` holding `in.txt`, with `out.txt` beside it, a link `out-link` to it from the
 * root and a link `in-link` to `in.txt`; returns the root's path and its root record.
 */
function linkedRoot(dir: string): { root: string; r: { path: string; real: string } } {
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'in.txt'), 'in');
  writeFileSync(join(dir, 'out.txt'), 'out');
  symlinkSync(join(dir, 'out.txt'), join(root, 'out-link'));
  symlinkSync('in.txt', join(root, 'in-link'));
  return { root, r: { path: root, real: root } };
}

test('checkContainment applies each symlink policy', () => {
  const dir = tempDir();
  try {
    const { root, r } = linkedRoot(dir.path);
    symlinkSync('loop', join(root, 'loop'));
    const check = (name: string, policy: Parameters<typeof checkContainment>[3]) =>
      checkContainment(join(root, name), r, [name], policy).ok;
    assert.equal(check('in.txt', 'inside-root'), true);
    assert.equal(check('in-link', 'inside-root'), true);
    assert.equal(check('out-link', 'inside-root'), false);
    assert.equal(check('out-link', 'follow'), true);
    assert.equal(check('in-link', 'never'), false);
    assert.equal(check('in.txt', 'never'), true);
    assert.equal(check('in-link', 'owner-match'), true);
    assert.equal(check('missing', 'follow'), false);
    assert.deepEqual(checkContainment(join(root, 'loop'), r, ['loop'], 'follow'), { ok: false, status: 404 });
    // A sibling directory whose name starts with the root's is not inside it.
    mkdirSync(join(dir.path, 'root2'));
    symlinkSync(join(dir.path, 'root2'), join(root, 'prefix-link'));
    assert.equal(check('prefix-link', 'inside-root'), false);
  } finally {
    dir.cleanup();
  }
});

test('checkOpened judges the file a descriptor opened, not what its name leads to afterwards', () => {
  const dir = tempDir();
  const fds: number[] = [];
  try {
    const { root, r } = linkedRoot(dir.path);
    const check = (name: string, policy: Parameters<typeof checkOpened>[5], swap?: () => void) => {
      const fd = openSync(join(root, name), 'r');
      fds.push(fd);
      swap?.();
      return checkOpened(fd, fstatSync(fd), join(root, name), r, [name], policy).ok;
    };
    assert.equal(check('in.txt', 'inside-root'), true);
    assert.equal(check('in-link', 'inside-root'), true);
    assert.equal(check('out-link', 'inside-root'), false);
    assert.equal(check('out-link', 'follow'), true);
    assert.equal(check('in-link', 'never'), false);
    assert.equal(check('in.txt', 'never'), true);
    // Opened through the link out, then the name swapped for a file inside: still refused.
    assert.equal(
      check('out-link', 'inside-root', () => {
        writeFileSync(join(root, 'swap.tmp'), 'in');
        renameSync(join(root, 'swap.tmp'), join(root, 'out-link'));
      }),
      false,
    );
  } finally {
    for (const fd of fds) closeSync(fd);
    dir.cleanup();
  }
});
