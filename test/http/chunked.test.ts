import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ChunkedDecoder, type ChunkedLimits } from '../../src/http/chunked.js';

interface Decoded {
  body: string;
  /** Bytes consumed in all, or -1 once refused. */
  used: number;
  done: boolean;
  error: string | null;
}

/** Feeds `input` in the given pieces (the byte offsets where it is cut), each piece a buffer of its own. */
function decode(input: string | Buffer, cuts: number[] = [], limits?: Partial<ChunkedLimits>): Decoded {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const decoder = new ChunkedDecoder(limits);
  let body = '';
  let used = 0;
  const bounds = [0, ...cuts, bytes.length];
  for (let p = 0; p + 1 < bounds.length; p++) {
    // Each piece sits after some unrelated bytes, as in a buffer the caller has partly consumed.
    const piece = Buffer.concat([Buffer.from('??'), bytes.subarray(bounds[p], bounds[p + 1])]);
    const n = decoder.push(piece, 2, (data) => {
      assert.ok(data.length > 0, 'an empty piece of body');
      assert.equal(data.buffer, piece.buffer, 'the body is a view of the input, not a copy');
      body += data.toString('latin1');
    });
    if (n < 0) {
      assert.equal(typeof decoder.error, 'string');
      return { body, used: -1, done: decoder.done, error: decoder.error };
    }
    assert.ok(n <= piece.length - 2);
    used += n;
    if (n < piece.length - 2) assert.ok(decoder.done, 'bytes left over before the end');
  }
  return { body, used, done: decoder.done, error: decoder.error };
}

/**
 * Decodes `input` whole, then cut in two at every byte (every few bytes for long inputs, to stay
 * linear), then a byte at a time; all must agree.
 */
function decodeEverySplit(input: string, limits?: Partial<ChunkedLimits>): Decoded {
  const whole = decode(input, [], limits);
  const length = Buffer.byteLength(input, 'latin1');
  const step = Math.max(1, Math.floor(length / 300));
  for (let k = 1; k < length; k += step) assert.deepEqual(decode(input, [k], limits), whole, `cut at ${k}`);
  assert.deepEqual(
    decode(
      input,
      Array.from({ length: Math.max(0, length - 1) }, (_, k) => k + 1),
      limits,
    ),
    whole,
    'a byte at a time',
  );
  return whole;
}

describe('ChunkedDecoder accepts', () => {
  const cases: Array<[string, string, string, number?]> = [
    ['one chunk', '5\r\nhello\r\n0\r\n\r\n', 'hello'],
    ['several chunks', '5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n', 'hello world'],
    ['an empty body', '0\r\n\r\n', ''],
    ['hex sizes in either case', 'a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n', '01234567890123456789'],
    ['leading zeros, on data and last chunks', '0005\r\nhello\r\n000\r\n\r\n', 'hello'],
    ['extensions, token and quoted', '5;a=b;c="d e"\r\nhello\r\n3;x\r\n123\r\n0;z;n=1\r\n\r\n', 'hello123'],
    ['a quoted extension with escapes, `;` and obs-text', '5;q="I \\"x\\"; \\\\ \xe9"\r\nhi!!!\r\n0\r\n\r\n', 'hi!!!'],
    ['an empty quoted extension value', '5;q=""\r\nhello\r\n0\r\n\r\n', 'hello'],
    ['trailer fields', '5\r\nhello\r\n0\r\nX-A: 1\r\nX-B:\t\xe9\r\n\r\n', 'hello'],
    ['CRLF and digits inside the data', '4\r\n\r\n0\r\r\n0\r\n\r\n', '\r\n0\r'],
    ['a chunk-size line at the limit', `1;${'x'.repeat(14)}\r\na\r\n0\r\n\r\n`, 'a', 16],
    ['13 significant hex digits, split over bytes', '00000000000000000000003\r\nabc\r\n0\r\n\r\n', 'abc'],
  ];
  for (const [name, input, body, lineLimit] of cases) {
    test(`ChunkedDecoder accepts ${name}, whole and split at every byte`, () => {
      const r = decodeEverySplit(input, lineLimit === undefined ? {} : { maxChunkLineBytes: lineLimit });
      assert.deepEqual(r, { body, used: Buffer.byteLength(input, 'latin1'), done: true, error: null });
    });
  }

  test('ChunkedDecoder leaves the bytes after the final CRLF unconsumed, and consumes nothing more', () => {
    const decoder = new ChunkedDecoder();
    const input = Buffer.from('3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n');
    const pieces: string[] = [];
    assert.equal(
      decoder.push(input, 0, (p) => pieces.push(p.toString())),
      13,
    );
    assert.equal(decoder.done, true);
    assert.deepEqual(pieces, ['abc']);
    assert.equal(
      decoder.push(input, 13, () => assert.fail('data after the end')),
      0,
    );
  });

  test('ChunkedDecoder keeps the trailer fields, OWS trimmed (obs-text kept), whole and split at every byte', () => {
    const input = Buffer.from(
      '5\r\nhello\r\n0\r\nX-A: 1\r\nX-B:\t\xe9 \r\nx-a:2\r\nX-Empty:\r\nX-Nbsp: \xa0a\xa0\r\n\r\n',
      'latin1',
    );
    for (let cut = 0; cut <= input.length; cut++) {
      const decoder = new ChunkedDecoder();
      const first = decoder.push(input.subarray(0, cut), 0, () => {});
      decoder.push(input.subarray(cut), 0, () => {});
      assert.ok(first >= 0 && decoder.done, `cut at ${cut}`);
      assert.deepEqual(
        decoder.trailers,
        [
          ['X-A', '1'],
          ['X-B', '\xe9'],
          ['x-a', '2'],
          ['X-Empty', ''],
          ['X-Nbsp', '\xa0a\xa0'],
        ],
        `cut at ${cut}`,
      );
    }
    const plain = new ChunkedDecoder();
    plain.push(Buffer.from('0\r\n\r\n'), 0, () => {});
    assert.deepEqual(plain.trailers, []);
    plain.reset();
    plain.push(Buffer.from('0\r\nA: b\r\n\r\n'), 0, () => {});
    assert.deepEqual(plain.trailers, [['A', 'b']]);
    plain.reset();
    assert.deepEqual(plain.trailers, [], 'reset() forgets them');
  });

  test('ChunkedDecoder starts over after reset()', () => {
    const decoder = new ChunkedDecoder();
    assert.equal(
      decoder.push(Buffer.from('zz'), 0, () => {}),
      -1,
    );
    decoder.reset();
    assert.equal(decoder.error, null);
    let body = '';
    assert.equal(
      decoder.push(Buffer.from('2\r\nok\r\n0\r\n\r\n'), 0, (p) => (body += p)),
      12,
    );
    assert.equal(body, 'ok');
    assert.equal(decoder.done, true);
  });

  test('ChunkedDecoder accepts a chunk size of 13 hex digits', () => {
    const decoder = new ChunkedDecoder();
    let seen = 0;
    assert.equal(
      decoder.push(Buffer.from('fffffffffffff\r\nabc'), 0, (p) => (seen += p.length)),
      18,
    );
    assert.equal(seen, 3);
    assert.equal(decoder.error, null);
    assert.equal(decoder.done, false);
  });
});

describe('ChunkedDecoder refuses', () => {
  const cases: Array<[string, string, Partial<ChunkedLimits>?]> = [
    ['an empty size', '\r\nhello\r\n0\r\n\r\n'],
    ['a non-hex size', 'zz\r\n'],
    ['a signed size', '+5\r\nhello\r\n0\r\n\r\n'],
    ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['whitespace before a size', ' 5\r\nhello\r\n0\r\n\r\n'],
    ['whitespace inside a size', '1 0\r\n'],
    ['SP after a size', '5 \r\nhello\r\n0\r\n\r\n'],
    ['HTAB after a size', '5\t\r\nhello\r\n0\r\n\r\n'],
    ['whitespace before an extension', '5 ;a\r\nhello\r\n0\r\n\r\n'],
    ['whitespace after `;`', '5; a\r\nhello\r\n0\r\n\r\n'],
    ['whitespace around `=`', '5;a =b\r\nhello\r\n0\r\n\r\n'],
    ['text after a size with no `;`', '2 erfrferferf\r\naa\r\n0\r\n\r\n'],
    ['an empty extension', '5;\r\nhello\r\n0\r\n\r\n'],
    ['an empty extension after another', '5;a;\r\nhello\r\n0\r\n\r\n'],
    ['an extension with an empty value', '5;a=\r\nhello\r\n0\r\n\r\n'],
    ['an extension name that is not a token', '5;a@b\r\nhello\r\n0\r\n\r\n'],
    ['obs-text in a token extension value', '5;x=\xe9\r\nhello\r\n0\r\n\r\n'],
    ['an unterminated quoted extension value', '5;a="abc;b="def; ghi\r\nhello\r\n0\r\n\r\n'],
    ['text after a closing quote', '5;a="b"c\r\nhello\r\n0\r\n\r\n'],
    ['a CR escaped in a quoted extension value', '5;a="\\\r\nhello\r\n0\r\n\r\n'],
    ['a trailer line without a colon', '0\r\nX-A 1\r\n\r\n'],
    ['a trailer line that is only a name', '0\r\nX-A\r\n\r\n'],
    ['a trailer line starting with SP', '0\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['a trailer line starting with HTAB', '0\r\n\tX-A: 1\r\n\r\n'],
    ['whitespace before a trailer colon', '0\r\nX-A : 1\r\n\r\n'],
    ['a trailer with an empty name', '0\r\n: 1\r\n\r\n'],
    ['a size over 13 significant hex digits', '10000000000000\r\n'],
    ['a chunk-size line over the limit, in digits', `${'0'.repeat(17)}1\r\na\r\n0\r\n\r\n`, { maxChunkLineBytes: 16 }],
    [
      'a chunk-size line over the limit, in extensions',
      `1;${'x'.repeat(15)}\r\na\r\n0\r\n\r\n`,
      { maxChunkLineBytes: 16 },
    ],
    ['a chunk-size line over the default limit', `1;${'x'.repeat(5000)}\r\n`],
    ['a control in an extension', '5;a\x00\r\nhello\r\n0\r\n\r\n'],
    ['DEL in an extension', '5;a\x7f\r\nhello\r\n0\r\n\r\n'],
    ['a size line ending in a bare LF', '5\nhello\r\n0\r\n\r\n'],
    ['a size line ending in a bare CR', '5\rhello\r\n0\r\n\r\n'],
    ['an extension ending in a bare LF', '5;x\nhello\r\n0\r\n\r\n'],
    ['data followed by a bare LF', '5\r\nhello\n0\r\n\r\n'],
    ['data followed by a bare CR', '5\r\nhello\r0\r\n\r\n'],
    ['data longer than its size', '3\r\nhello\r\n0\r\n\r\n'],
    ['data shorter than its size', '7\r\nhello\r\n0\r\n\r\n'],
    ['a last chunk ending in a bare LF', '0\n\r\n'],
    ['a bare LF ending the trailers', '0\r\n\n'],
    ['a bare LF in a trailer line', '0\r\nX: 1\nY: 2\r\n\r\n'],
    ['a bare CR in a trailer line', '0\r\nX: 1\r2\r\n\r\n'],
    ['a final CR not followed by LF', '0\r\n\rx'],
    ['a control in a trailer line', '0\r\nX: \x01\r\n\r\n'],
    ['trailers over the limit', `0\r\n${'X: y\r\n'.repeat(3)}\r\n`, { maxTrailerBytes: 15 }],
    ['trailers over the default limit', `0\r\n${'X: y\r\n'.repeat(4000)}\r\n`],
  ];
  for (const [name, input, limits] of cases) {
    test(`ChunkedDecoder refuses ${name}, whole and split at every byte`, () => {
      const r = decodeEverySplit(input, limits);
      assert.equal(r.used, -1, JSON.stringify(r));
      assert.equal(r.done, false);
    });
  }

  test('ChunkedDecoder keeps refusing after an error', () => {
    const decoder = new ChunkedDecoder();
    assert.equal(
      decoder.push(Buffer.from('5\nhello'), 0, () => {}),
      -1,
    );
    assert.equal(decoder.error, 'a chunk-size line does not end in CRLF');
    assert.equal(
      decoder.push(Buffer.from('0\r\n\r\n'), 0, () => assert.fail('data after an error')),
      -1,
    );
  });

  test('ChunkedDecoder accepts trailers exactly at the limit and refuses one byte more', () => {
    // `X: y\r\n` twice and the final CRLF: 14 bytes.
    assert.equal(decode('0\r\nX: y\r\nX: y\r\n\r\n', [], { maxTrailerBytes: 14 }).done, true);
    assert.equal(decode('0\r\nX: y\r\nX: y\r\n\r\n', [], { maxTrailerBytes: 13 }).used, -1);
  });
});

/** Encodes `body` as chunks of the given sizes (the rest as one more), with optional extensions and trailers. */
function encode(body: Buffer, sizes: number[], extension: string, trailers: string[], upper: boolean): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, body.length]) {
    const n = Math.min(size, body.length - at);
    if (n <= 0) continue;
    const hex = n.toString(16);
    parts.push(
      Buffer.from(`${upper ? hex.toUpperCase() : hex}${extension}\r\n`),
      body.subarray(at, at + n),
      Buffer.from('\r\n'),
    );
    at += n;
  }
  parts.push(Buffer.from(`0${extension}\r\n${trailers.map((t) => `${t}\r\n`).join('')}\r\n`));
  return Buffer.concat(parts);
}

describe('ChunkedDecoder on random input', () => {
  const message = fc.record({
    body: fc.uint8Array({ maxLength: 300 }),
    sizes: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 10 }),
    extension: fc.constantFrom('', ';a=b', ';x', ';q="1 2"', ';a;b="\\""'),
    trailers: fc.array(fc.stringMatching(/^[A-Za-z-]{1,8}: [ -~]{0,10}$/), { maxLength: 3 }),
    upper: fc.boolean(),
  });

  test('ChunkedDecoder decodes any randomly chunked body back exactly, in any pieces, leaving what follows', () => {
    fc.assert(
      fc.property(
        message,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 10 }),
        (m, cutsRaw, after) => {
          const encoded = encode(Buffer.from(m.body), m.sizes, m.extension, m.trailers, m.upper);
          const input = Buffer.concat([encoded, after]);
          const cuts = [...new Set(cutsRaw.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
          const r = decode(input, cuts);
          assert.equal(r.error, null);
          assert.equal(r.done, true);
          assert.equal(r.used, encoded.length);
          assert.ok(Buffer.from(r.body, 'latin1').equals(Buffer.from(m.body)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('ChunkedDecoder never throws on corrupted or cut chunked bodies, and pieces agree with whole', () => {
    fc.assert(
      fc.property(
        message,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.nat(),
        (m, flips, cut, split) => {
          const input = encode(Buffer.from(m.body), m.sizes, m.extension, m.trailers, m.upper);
          for (const [at, value] of flips) input[at % input.length] = value;
          const truncated = input.subarray(0, cut % (input.length + 1));
          const whole = decode(truncated);
          const pieces = decode(truncated, truncated.length > 1 ? [1 + (split % (truncated.length - 1))] : []);
          assert.deepEqual(pieces, whole);
          if (whole.used >= 0) assert.ok(whole.used <= truncated.length);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('ChunkedDecoder never throws on random bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 64 }),
        (bytes, line, trailer) => {
          const r = decode(Buffer.from(bytes), [], { maxChunkLineBytes: line, maxTrailerBytes: trailer });
          assert.ok(r.used === -1 ? r.error !== null : r.error === null);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
