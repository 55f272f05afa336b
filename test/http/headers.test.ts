import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestHeaders } from '../../src/http/headers.js';

/** The same fields padded with `extra` others, so both the walk (few fields) and the index (many) answer. */
function withPadding(fields: Array<[string, string]>, extra: number): RequestHeaders {
  const pad: Array<[string, string]> = Array.from({ length: extra }, (_, i) => [`X-Pad-${i}`, String(i)]);
  return new RequestHeaders([...fields, ...pad]);
}

for (const extra of [0, 40]) {
  test(`RequestHeaders get, getAll and has ignore case and join duplicates (${extra} other fields)`, () => {
    const h = withPadding(
      [
        ['Host', 'a'],
        ['X-A', '1'],
        ['x-a', '2'],
        ['Cookie', 'a=1'],
        ['COOKIE', 'b=2'],
        ['If-None-Match', '"t"'],
      ],
      extra,
    );
    assert.equal(h.get('host'), 'a');
    assert.equal(h.get('HOST'), 'a');
    assert.equal(h.get('x-a'), '1, 2');
    assert.equal(h.get('cookie'), 'a=1; b=2');
    assert.equal(h.get('if-none-match'), '"t"');
    assert.equal(h.get('if-match'), undefined);
    assert.equal(h.get('hos'), undefined);
    assert.equal(h.get('hosT2'), undefined);
    assert.deepEqual(h.getAll('X-A'), ['1', '2']);
    assert.deepEqual(h.getAll('range'), []);
    assert.equal(h.has('Cookie'), true);
    assert.equal(h.has('range'), false);
  });

  test(`RequestHeaders set and delete are seen by later lookups (${extra} other fields)`, () => {
    const h = withPadding(
      [
        ['Host', 'a'],
        ['X-A', '1'],
      ],
      extra,
    );
    assert.equal(h.get('x-a'), '1');
    h.set('x-a', '2');
    assert.equal(h.get('X-A'), '2');
    h.delete('X-A');
    assert.equal(h.get('x-a'), undefined);
    assert.equal(h.has('x-a'), false);
  });
}

test('RequestHeaders names lists each field once in lower case', () => {
  const h = new RequestHeaders([
    ['Host', 'a'],
    ['X-A', '1'],
    ['x-a', '2'],
  ]);
  assert.deepEqual(h.names(), ['host', 'x-a']);
});
