import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { HttpError } from '../../src/errors.js';
import { backendTarget } from '../../src/proxy/backend-path.js';

const TARGETS: Array<[string, string[], string, string]> = [
  ['/base', ['x', 'y'], '', '/base/x/y'],
  ['/base', [], '', '/base'],
  ['', [], '', '/'],
  ['', [''], '', '/'],
  ['/base', [''], '', '/base/'],
  ['/base', ['', 'x', '', 'y', ''], '', '/base/x/y/'],
  ['', ['', '', 'x'], '', '/x'],
  ['/base', ['a b', 'c/d'], 'q=1', '/base/a%20b/c%2Fd?q=1'],
  ['/base', ['...', '.x', 'x.', '..x'], '', '/base/.../.x/x./..x'],
  ['/base', ['a;b=c', 'ü'], '', '/base/a;b=c/%C3%BC'],
];
for (const [base, postpath, query, expected] of TARGETS) {
  test(`backendTarget(${JSON.stringify(base)}, ${JSON.stringify(postpath)}) is ${expected}`, () => {
    assert.equal(backendTarget(base, postpath, query), expected);
  });
}

const REFUSED: string[][] = [
  ['..'],
  ['.'],
  ['x', '..', 'y'],
  ['../x'],
  ['x/..'],
  ['..\\x'],
  ['..;x'],
  ['x;..'],
  ['./'],
  ['a\0'],
  ['a\r\nb'],
  ['\n'],
];
for (const postpath of REFUSED) {
  test(`backendTarget refuses ${JSON.stringify(postpath)} with 400`, () => {
    const is400 = (err: unknown) => err instanceof HttpError && err.status === 400;
    assert.throws(() => backendTarget('/base', postpath, ''), is400);
  });
}

test('backendTarget never emits a dot-segment or an empty segment, and keeps the base, on any postpath', () => {
  const characters = fc.constantFrom('.', '/', '\\', ';', '%', 'a', '\0', '');
  const segment = fc.array(characters, { maxLength: 4 }).map((cs) => cs.join(''));
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 6 }), (postpath) => {
      let target: string;
      try {
        target = backendTarget('/base', postpath, '');
      } catch (err) {
        assert.ok(err instanceof HttpError && err.status === 400);
        return;
      }
      assert.ok(target === '/base' || target.startsWith('/base/'), target);
      const inner = target.split('/').slice(1, -1);
      assert.ok(!inner.includes(''), target);
      for (const piece of target.split('/').flatMap((s) => decodeURIComponent(s).split(/[/\\;]/))) {
        assert.ok(piece !== '.' && piece !== '..', target);
        assert.ok(!piece.includes('\0'), target);
      }
    }),
  );
});
