import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesce, contentRange, MAX_RANGES, parseRange, unsatisfiedRange } from '../../src/static/range.js';
import { planMultipart } from '../../src/static/multipart-byteranges.js';
import { RANGE_CASES } from './cases.js';

for (const [name, header, expected] of RANGE_CASES) {
  test(`parseRange on 100 bytes: ${name}`, () => {
    assert.deepEqual(parseRange(header, 100), expected);
  });
}

test('parseRange on an empty file: any range is unsatisfiable, a suffix too', () => {
  assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
});

test('parseRange never returns more than MAX_RANGES ranges and every range lies inside the file', () => {
  for (let n = 1; n < 200; n += 7) {
    const header = `bytes=${Array.from({ length: n }, (_, i) => `${(i * 37) % 1000}-${((i * 37) % 1000) + (i % 5)}`).join(',')}`;
    const d = parseRange(header, 1000);
    if (d.kind !== 'partial') continue;
    assert.ok(d.ranges.length <= MAX_RANGES);
    for (const r of d.ranges) assert.ok(r.start >= 0 && r.end < 1000 && r.start <= r.end);
  }
});

test('parseRange ignores 51 ranges that stay apart after coalescing, and a flood of specs', () => {
  assert.deepEqual(parseRange(`bytes=${Array.from({ length: 51 }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`, 1000), {
    kind: 'full',
  });
  assert.deepEqual(parseRange(`bytes=${Array.from({ length: 5000 }, () => '0-0').join(',')}`, 1000), { kind: 'full' });
});

test('coalesce sorts and merges overlapping and adjacent ranges', () => {
  assert.deepEqual(
    coalesce([
      { start: 10, end: 12 },
      { start: 0, end: 2 },
      { start: 3, end: 4 },
      { start: 11, end: 20 },
    ]),
    [
      { start: 0, end: 4 },
      { start: 10, end: 20 },
    ],
  );
});

test('contentRange and unsatisfiedRange format the header values', () => {
  assert.equal(contentRange({ start: 0, end: 9 }, 100), 'bytes 0-9/100');
  assert.equal(unsatisfiedRange(100), 'bytes */100');
});

test('planMultipart computes the exact length of the body it frames', () => {
  const ranges = [
    { start: 0, end: 1 },
    { start: 5, end: 9 },
  ];
  const plan = planMultipart(ranges, 100, 'text/plain; charset=utf-8', 'BOUNDARY');
  assert.equal(plan.contentType, 'multipart/byteranges; boundary=BOUNDARY');
  const data = Buffer.from('0123456789');
  const body = Buffer.concat(
    plan.parts.flatMap((p) => [p.head, data.subarray(p.range.start, p.range.end + 1)]).concat(plan.tail),
  );
  assert.equal(body.length, plan.length);
  assert.equal(
    body.toString(),
    '--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/100\r\n\r\n01' +
      '\r\n--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 5-9/100\r\n\r\n56789' +
      '\r\n--BOUNDARY--\r\n',
  );
});

test('parseRange on any header and size: never throws; ranges sorted, apart, inside the file, at most 50, total within the size', async () => {
  const fc = (await import('fast-check')).default;
  const spec = fc.oneof(
    fc.tuple(fc.nat(300), fc.nat(300)).map(([a, b]) => `${a}-${b}`),
    fc.nat(300).map((a) => `${a}-`),
    fc.nat(300).map((n) => `-${n}`),
    fc.string({ maxLength: 6 }),
  );
  const header = fc.oneof(
    fc.array(spec, { maxLength: 80 }).map((specs) => `bytes=${specs.join(',')}`),
    fc.string({ maxLength: 40 }),
  );
  fc.assert(
    fc.property(header, fc.nat(250), (h, size) => {
      const d = parseRange(h, size);
      if (d.kind !== 'partial') return;
      assert.ok(d.ranges.length >= 1 && d.ranges.length <= MAX_RANGES);
      let total = 0;
      d.ranges.forEach((r, i) => {
        assert.ok(r.start >= 0 && r.start <= r.end && r.end < size);
        if (i > 0) assert.ok(r.start > d.ranges[i - 1]!.end + 1, 'coalesced');
        total += r.end - r.start + 1;
      });
      assert.ok(total <= size);
    }),
    { numRuns: 3000 },
  );
});
