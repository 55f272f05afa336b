import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extensionOf, typeForName, withCharset } from '../../src/static/mime.js';

const TYPES: Array<[string, string, string | null]> = [
  ['a.html', 'text/html; charset=utf-8', null],
  ['A.HTML', 'text/html; charset=utf-8', null],
  ['a.css', 'text/css; charset=utf-8', null],
  ['a.js', 'text/javascript; charset=utf-8', null],
  ['a.json', 'application/json; charset=utf-8', null],
  ['a.svg', 'image/svg+xml', null],
  ['a.png', 'image/png', null],
  ['a.wasm', 'application/wasm', null],
  ['a.unknownext', 'application/octet-stream', null],
  ['README', 'application/octet-stream', null],
  ['.bashrc', 'application/octet-stream', null],
  ['a.txt.gz', 'text/plain; charset=utf-8', 'gzip'],
  ['a.tar.gz', 'application/x-tar', 'gzip'],
  ['a.txt.bz2', 'text/plain; charset=utf-8', 'bzip2'],
  ['a.gz', 'application/gzip', null],
];
for (const [name, type, encoding] of TYPES) {
  test(`typeForName(${name}) is ${type}${encoding ? ` + ${encoding}` : ''}`, () => {
    assert.deepEqual(typeForName(name), { type, encoding });
  });
}

test('typeForName honours overrides and the default type', () => {
  const overrides = new Map([
    ['.md', 'text/x-markdown'],
    ['.png', 'image/x-custom'],
  ]);
  assert.equal(typeForName('a.md', { overrides }).type, 'text/x-markdown; charset=utf-8');
  assert.equal(typeForName('a.png', { overrides }).type, 'image/x-custom');
  assert.equal(typeForName('a.zzz', { defaultType: 'text/plain' }).type, 'text/plain; charset=utf-8');
});

test('withCharset keeps an explicit charset and leaves binary types alone', () => {
  assert.equal(withCharset('text/plain; charset=latin1'), 'text/plain; charset=latin1');
  assert.equal(withCharset('image/png'), 'image/png');
});

test('extensionOf lower-cases and ignores a leading dot', () => {
  assert.equal(extensionOf('x.TXT'), '.txt');
  assert.equal(extensionOf('.env'), '');
  assert.equal(extensionOf('noext'), '');
});
