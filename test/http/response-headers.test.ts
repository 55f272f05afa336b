import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ResponseHeaders, headerKey } from '../../src/http/response-headers.js';

type Op = ['set' | 'add', string, string] | ['setAll', string, string[]] | ['delete', string];

function apply(h: ResponseHeaders, ops: readonly Op[]): void {
  for (const op of ops) {
    if (op[0] === 'delete') h.delete(headerKey(op[1]));
    else if (op[0] === 'setAll') h.setAll(headerKey(op[1]), op[1], op[2]);
    else h[op[0]](headerKey(op[1]), op[1], op[2]);
  }
}

const CASES: Array<[string, Op[], string[]]> = [
  [
    'set replaces in place',
    [
      ['set', 'A', '1'],
      ['set', 'B', '2'],
      ['set', 'A', '3'],
    ],
    ['A', '3', 'B', '2'],
  ],
  [
    'add keeps the values of one name together',
    [
      ['set', 'A', '1'],
      ['set', 'B', '2'],
      ['add', 'A', '3'],
    ],
    ['A', '1', 'A', '3', 'B', '2'],
  ],
  [
    'set drops every earlier value',
    [
      ['set', 'A', '1'],
      ['add', 'A', '2'],
      ['set', 'B', '3'],
      ['setAll', 'A', ['4']],
    ],
    ['A', '4', 'B', '3'],
  ],
  [
    'setAll puts its values where the name was',
    [
      ['set', 'A', '1'],
      ['set', 'B', '2'],
      ['setAll', 'a', ['x', 'y']],
    ],
    ['a', 'x', 'a', 'y', 'B', '2'],
  ],
  [
    'setAll with no values removes the name',
    [
      ['set', 'A', '1'],
      ['add', 'A', '2'],
      ['setAll', 'A', []],
    ],
    [],
  ],
  [
    'a deleted name set again goes last',
    [
      ['set', 'A', '1'],
      ['set', 'B', '2'],
      ['delete', 'a'],
      ['set', 'A', '5'],
    ],
    ['B', '2', 'A', '5'],
  ],
  [
    'names are matched without case and keep the case last given',
    [
      ['set', 'Content-Type', 'a'],
      ['set', 'content-type', 'b'],
    ],
    ['content-type', 'b'],
  ],
];
for (const [name, ops, flat] of CASES) {
  test(`ResponseHeaders: ${name}`, () => {
    const h = new ResponseHeaders();
    apply(h, ops);
    assert.deepEqual(h.flat(), flat);
  });
}

test('ResponseHeaders get joins the values of a name, has and pairs see every line', () => {
  const h = new ResponseHeaders();
  apply(h, [
    ['set', 'Vary', 'Accept'],
    ['set', 'ETag', '"x"'],
    ['add', 'vary', 'Cookie'],
  ]);
  assert.equal(h.get('vary'), 'Accept, Cookie');
  assert.equal(h.get('etag'), '"x"');
  assert.equal(h.get('server'), undefined);
  assert.equal(h.has('etag'), true);
  assert.equal(h.has('server'), false);
  assert.deepEqual(h.pairs(), [
    ['Vary', 'Accept'],
    ['vary', 'Cookie'],
    ['ETag', '"x"'],
  ]);
  const flat = h.flat();
  flat.push('Connection', 'close');
  assert.equal(h.has('connection'), false, 'flat() is a copy');
  h.clear();
  assert.deepEqual(h.flat(), []);
});

/** The model the store must agree with: a Map from lower-case name to [name, values], in first-set order. */
function model(ops: readonly Op[]): string[] {
  const m = new Map<string, [string, string[]]>();
  for (const op of ops) {
    const key = op[1].toLowerCase();
    if (op[0] === 'delete') m.delete(key);
    else if (op[0] === 'set') m.set(key, [op[1], [op[2]]]);
    else if (op[0] === 'setAll') {
      if (op[2].length) m.set(key, [op[1], [...op[2]]]);
      else m.delete(key);
    } else {
      const e = m.get(key);
      if (e) e[1].push(op[2]);
      else m.set(key, [op[1], [op[2]]]);
    }
  }
  const out: string[] = [];
  for (const [name, values] of m.values()) for (const v of values) out.push(name, v);
  return out;
}

test('ResponseHeaders agrees with a map of names to value lists on any sequence of calls', () => {
  // The model keeps the first-given case of a name when it is added to; the store's lines keep their own.
  const name = fc.constantFrom('A', 'B', 'C', 'D');
  const value = fc.constantFrom('1', '2', '3');
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.tuple(fc.constant('set' as const), name, value),
    fc.tuple(fc.constant('add' as const), name, value),
    fc.tuple(fc.constant('setAll' as const), name, fc.array(value, { maxLength: 3 })),
    fc.tuple(fc.constant('delete' as const), name),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const h = new ResponseHeaders();
      apply(h, ops);
      assert.deepEqual(h.flat(), model(ops));
      for (const n of ['a', 'b', 'c', 'd']) {
        const lines = model(ops);
        const values = lines.filter((_, i) => i % 2 === 1 && lines[i - 1]!.toLowerCase() === n);
        assert.equal(h.get(n), values.length ? values.join(', ') : undefined);
      }
    }),
  );
});

test('headerKey lower-cases a name', () => {
  assert.equal(headerKey('Content-Type'), 'content-type');
  assert.equal(headerKey('content-type'), 'content-type');
  assert.equal(headerKey('X-ÄB'), 'x-äb');
});
