// The SCGI netstring header parser as a pure function: the spec's rules in a table, then fast-check
// properties with random and truncated input that require a clean result, never a throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeScgiHeader, parseScgiHeader } from '../../../src/channels/scgi/netstring.js';

const ok = encodeScgiHeader([
  ['CONTENT_LENGTH', '5'],
  ['SCGI', '1'],
  ['REQUEST_METHOD', 'POST'],
  ['EMPTY', ''],
]);

test('parseScgiHeader reads the spec example shape: CONTENT_LENGTH first, SCGI=1, body offset', () => {
  const r = parseScgiHeader(Buffer.concat([ok, Buffer.from('hello')]));
  assert.equal(r.kind, 'header');
  if (r.kind !== 'header') return;
  assert.equal(r.header.contentLength, 5);
  assert.equal(r.header.bodyOffset, ok.length);
  assert.deepEqual(
    r.header.pairs.map(([n, v]) => [n, v.toString()]),
    [
      ['CONTENT_LENGTH', '5'],
      ['SCGI', '1'],
      ['REQUEST_METHOD', 'POST'],
      ['EMPTY', ''],
    ],
  );
});

test('parseScgiHeader says incomplete for every prefix of a valid header', () => {
  for (let n = 0; n < ok.length; n++) assert.equal(parseScgiHeader(ok.subarray(0, n)).kind, 'incomplete', `at ${n}`);
});

const bad: Array<[string, Buffer]> = [
  ['leading zero', Buffer.from('024:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000,')],
  ['no digits', Buffer.from(':x,')],
  ['letters in the length', Buffer.from('2a:')],
  ['no comma', Buffer.from('24:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000;')],
  [
    'CONTENT_LENGTH not first',
    encodeScgiHeader([
      ['SCGI', '1'],
      ['CONTENT_LENGTH', '0'],
    ]),
  ],
  [
    'CONTENT_LENGTH not decimal',
    encodeScgiHeader([
      ['CONTENT_LENGTH', '-1'],
      ['SCGI', '1'],
    ]),
  ],
  ['SCGI missing', encodeScgiHeader([['CONTENT_LENGTH', '0']])],
  [
    'SCGI not 1',
    encodeScgiHeader([
      ['CONTENT_LENGTH', '0'],
      ['SCGI', '2'],
    ]),
  ],
  [
    'duplicate name',
    encodeScgiHeader([
      ['CONTENT_LENGTH', '0'],
      ['SCGI', '1'],
      ['A', '1'],
      ['A', '2'],
    ]),
  ],
  [
    'empty name',
    encodeScgiHeader([
      ['CONTENT_LENGTH', '0'],
      ['SCGI', '1'],
      ['', 'x'],
    ]),
  ],
  ['value without its NUL', Buffer.from('27:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000A\u0000x,')],
  ['larger than 64 KiB', Buffer.from('65537:')],
  ['far too many digits', Buffer.from('1234567890')],
  ['empty payload', Buffer.from('0:,')],
];
for (const [what, input] of bad) {
  test(`parseScgiHeader rejects ${what}`, () => {
    assert.equal(parseScgiHeader(input).kind, 'error');
  });
}

test('parseScgiHeader rejects more than 1000 pairs', () => {
  const pairs: Array<[string, string]> = [
    ['CONTENT_LENGTH', '0'],
    ['SCGI', '1'],
  ];
  for (let i = 0; i < 1000; i++) pairs.push([`V${i}`, '']);
  assert.equal(parseScgiHeader(encodeScgiHeader(pairs)).kind, 'error');
});

const nameArb = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes('\0') && !/[^\x00-\xff]/.test(s));
const valueArb = fc.string({ maxLength: 60 }).filter((s) => !s.includes('\0'));

test('property: encoded headers with unique names parse back to the same pairs', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(nameArb, valueArb), { selector: ([n]) => n, maxLength: 20 }),
      fc.nat({ max: 1_000_000 }),
      (extra, cl) => {
        const rest = extra.filter(([n]) => n !== 'CONTENT_LENGTH' && n !== 'SCGI');
        const pairs: Array<[string, string]> = [['CONTENT_LENGTH', String(cl)], ['SCGI', '1'], ...rest];
        const r = parseScgiHeader(encodeScgiHeader(pairs));
        assert.equal(r.kind, 'header');
        if (r.kind !== 'header') return;
        assert.equal(r.header.contentLength, cl);
        assert.deepEqual(
          r.header.pairs.map(([n, v]) => [n, v.toString('utf8')]),
          pairs,
        );
      },
    ),
  );
});

test('property: random bytes and truncations give incomplete or error, never a throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      const r = parseScgiHeader(Buffer.from(bytes));
      assert.ok(['header', 'incomplete', 'error'].includes(r.kind));
    }),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), fc.nat(), (junk, cut) => {
      const wire = Buffer.concat([ok, Buffer.from(junk)]);
      const r = parseScgiHeader(wire.subarray(0, cut % (wire.length + 1)));
      assert.ok(r.kind === 'incomplete' || r.kind === 'header');
    }),
  );
});
