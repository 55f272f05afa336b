// FastCGI records and name-value pairs as pure functions: tables of known inputs, then fast-check
// properties that feed random and truncated bytes and require a clean result, never a throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  FCGI_MAX_CONTENT,
  FcgiType,
  RecordReader,
  STREAM_CHUNK,
  decodeBeginRequest,
  decodeRecord,
  encodeEndRequest,
  encodeRecord,
  encodeStdout,
  encodeStream,
  encodeUnknownType,
} from '../../../src/channels/fastcgi/records.js';
import { CgiVariables, parseCgiParams } from '../../../src/channels/cgi-params.js';
import { decodeNameValuePairs, decodeParams, encodeNameValuePairs } from '../../../src/channels/fastcgi/name-value.js';

test('decodeRecord reads the header, skips padding and returns the next offset', () => {
  const buf = Buffer.from([1, 5, 0, 1, 0, 3, 5, 0, 0x61, 0x62, 0x63, 0, 0, 0, 0, 0, 0xff]);
  const r = decodeRecord(buf);
  assert.equal(r.kind, 'record');
  if (r.kind !== 'record') return;
  assert.equal(r.record.type, FcgiType.STDIN);
  assert.equal(r.record.requestId, 1);
  assert.equal(r.record.content.toString(), 'abc');
  assert.equal(r.next, 16);
});

test('decodeRecord says incomplete until header, content and padding are all there', () => {
  const whole = encodeRecord(FcgiType.STDOUT, 7, Buffer.from('hello'));
  assert.equal(whole.length, 16);
  for (let n = 0; n < whole.length; n++) assert.equal(decodeRecord(whole.subarray(0, n)).kind, 'incomplete', `at ${n}`);
  assert.equal(decodeRecord(whole).kind, 'record');
});

test('decodeRecord rejects a version other than 1', () => {
  const r = decodeRecord(Buffer.from([2, 1, 0, 1, 0, 0, 0, 0]));
  assert.equal(r.kind, 'error');
});

test('decodeBeginRequest reads the role and FCGI_KEEP_CONN, and refuses a body that is not 8 bytes', () => {
  assert.deepEqual(decodeBeginRequest(Buffer.from([0, 1, 1, 0, 0, 0, 0, 0])), { role: 1, keepConn: true });
  assert.deepEqual(decodeBeginRequest(Buffer.from([0, 2, 0, 0, 0, 0, 0, 0])), { role: 2, keepConn: false });
  assert.equal(decodeBeginRequest(Buffer.from([0, 1, 1])), null);
});

test('encodeRecord pads content to a multiple of 8', () => {
  for (const n of [0, 1, 7, 8, 9, 100]) {
    const rec = encodeRecord(FcgiType.STDOUT, 1, Buffer.alloc(n, 0x41));
    assert.equal(rec.length % 8, 0);
    assert.equal(rec[6], (8 - (n % 8)) % 8);
  }
});

test('encodeStream splits data into records of at most 65535 bytes that decode back to the data', () => {
  const data = Buffer.alloc(200_000);
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  const wire = Buffer.concat(encodeStream(FcgiType.STDOUT, 3, data));
  const reader = new RecordReader();
  const { records, error } = reader.push(wire);
  assert.equal(error, null);
  assert.ok(records.every((r) => r.content.length <= FCGI_MAX_CONTENT && r.requestId === 3));
  assert.equal(records[0]!.content.length, STREAM_CHUNK);
  assert.deepEqual(Buffer.concat(records.map((r) => r.content)), data);
  assert.deepEqual(encodeStream(FcgiType.STDOUT, 3, Buffer.alloc(0)), []);
});

test('encodeEndRequest and encodeUnknownType carry their 8-byte bodies', () => {
  const end = decodeRecord(encodeEndRequest(5, 1, 3));
  assert.ok(end.kind === 'record');
  assert.deepEqual([...end.record.content], [0, 0, 0, 1, 3, 0, 0, 0]);
  const unknown = decodeRecord(encodeUnknownType(42));
  assert.ok(unknown.kind === 'record');
  assert.equal(unknown.record.type, FcgiType.UNKNOWN_TYPE);
  assert.equal(unknown.record.requestId, 0);
  assert.equal(unknown.record.content[0], 42);
});

test('encodeStdout puts head and body in one padded STDOUT record, then the empty STDOUT and END_REQUEST', () => {
  const wire = encodeStdout(7, 'Status: 200 OK\r\n\r\n', 'café', true)!;
  assert.equal(wire.length % 8, 0);
  const { records, error } = new RecordReader().push(wire);
  assert.equal(error, null);
  assert.deepEqual(
    records.map((r) => [r.type, r.requestId]),
    [
      [FcgiType.STDOUT, 7],
      [FcgiType.STDOUT, 7],
      [FcgiType.END_REQUEST, 7],
    ],
  );
  assert.equal(records[0]!.content.toString('utf8'), 'Status: 200 OK\r\n\r\ncafé');
  assert.equal(records[1]!.content.length, 0);
  assert.deepEqual([...records[2]!.content], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(
    Buffer.concat(records.slice(1).map((r) => encodeRecord(r.type, r.requestId, r.content))),
    wire.subarray(wire.length - 24),
  );
});

test('encodeStdout: bytes as the body, no end, nothing to send, and null past one record', () => {
  const bytes = encodeStdout(1, '', Buffer.from([1, 2, 3]), false)!;
  assert.deepEqual(bytes, encodeRecord(FcgiType.STDOUT, 1, Buffer.from([1, 2, 3])));
  assert.equal(encodeStdout(1, '', null, false)!.length, 0);
  assert.deepEqual(
    encodeStdout(1, '', null, true),
    Buffer.concat([encodeRecord(FcgiType.STDOUT, 1), encodeEndRequest(1, 0, 0)]),
  );
  assert.equal(encodeStdout(1, 'h', Buffer.alloc(STREAM_CHUNK - 1), true)!.length % 8, 0);
  assert.equal(encodeStdout(1, 'h', Buffer.alloc(STREAM_CHUNK), true), null);
  assert.equal(
    encodeStdout(1, '', 'é'.repeat(STREAM_CHUNK / 2 + 1), false),
    null,
    'UTF-8 length counts, not characters',
  );
});

test('property: encodeStdout gives the records encodeStream and encodeRecord give', () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 65535 }),
      fc.string({ maxLength: 200 }).map((s) => s.replace(/[^\x00-\xff]/g, '?')),
      fc.string({ maxLength: 300 }),
      fc.boolean(),
      (id, head, body, end) => {
        const content = Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]);
        const expected = [
          ...encodeStream(FcgiType.STDOUT, id, content),
          ...(end ? [encodeRecord(FcgiType.STDOUT, id), encodeEndRequest(id, 0, 0)] : []),
        ];
        assert.deepEqual(encodeStdout(id, head, body, end), Buffer.concat(expected));
      },
    ),
  );
});

test('RecordReader reassembles records fed one byte at a time', () => {
  const wire = Buffer.concat([encodeRecord(FcgiType.PARAMS, 1, Buffer.from('xyz')), encodeRecord(FcgiType.PARAMS, 1)]);
  const reader = new RecordReader();
  const got = [];
  for (const byte of wire) got.push(...reader.push(Buffer.from([byte])).records);
  assert.equal(got.length, 2);
  assert.equal(got[0]!.content.toString(), 'xyz');
  assert.equal(got[1]!.content.length, 0);
  assert.equal(reader.pending, 0);
});

test('decodeNameValuePairs reads both length forms', () => {
  const long = 'v'.repeat(300);
  const wire = Buffer.concat([
    Buffer.from([3, 1]),
    Buffer.from('FOOx'),
    Buffer.from([0x80, 0, 0, 4, 0x80, 0, 1, 44]),
    Buffer.from('LONG'),
    Buffer.from(long),
    Buffer.from([5, 0]),
    Buffer.from('EMPTY'),
  ]);
  const r = decodeNameValuePairs(wire);
  assert.ok(r.ok);
  assert.deepEqual(
    r.pairs.map(([n, v]) => [n, v.toString()]),
    [
      ['FOO', 'x'],
      ['LONG', long],
      ['EMPTY', ''],
    ],
  );
});

test('decodeNameValuePairs refuses cut, oversized and too many pairs, and empty names', () => {
  assert.equal(decodeNameValuePairs(Buffer.from([3, 1, 0x41])).ok, false);
  assert.equal(decodeNameValuePairs(Buffer.from([0x80, 0])).ok, false);
  assert.equal(decodeNameValuePairs(Buffer.from([0, 1, 0x41])).ok, false);
  assert.equal(decodeNameValuePairs(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 0x41])).ok, false);
  assert.equal(decodeNameValuePairs(Buffer.alloc(64 * 1024 + 1, 1)).ok, false);
  const many = encodeNameValuePairs(Array.from({ length: 1001 }, (_, i) => [`N${i}`, ''] as [string, string]));
  assert.equal(decodeNameValuePairs(many).ok, false);
  assert.equal(decodeNameValuePairs(many, { maxBytes: 1 << 20, maxPairs: 2000 }).ok, true);
});

const pairArb = fc.tuple(
  fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !/[^\x00-\xff]/.test(s)),
  fc.string({ maxLength: 300 }),
);

test('property: encode then decode name-value pairs is the identity', () => {
  fc.assert(
    fc.property(fc.array(pairArb, { maxLength: 30 }), (pairs) => {
      const r = decodeNameValuePairs(encodeNameValuePairs(pairs));
      assert.ok(r.ok);
      assert.deepEqual(
        r.pairs.map(([n, v]) => [n, v.toString('utf8')]),
        pairs,
      );
    }),
  );
});

test('property: random bytes and every truncation give a result, never a throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const buf = Buffer.from(bytes);
      const r = decodeNameValuePairs(buf);
      assert.equal(typeof r.ok, 'boolean');
      const d = decodeRecord(buf);
      assert.ok(['record', 'incomplete', 'error'].includes(d.kind));
      const reader = new RecordReader();
      const out = reader.push(buf);
      assert.ok(out.error === null || typeof out.error === 'string');
      assert.ok(reader.pending <= 8 + 65535 + 255);
    }),
  );
  fc.assert(
    fc.property(fc.array(pairArb, { minLength: 1, maxLength: 10 }), fc.nat(), (pairs, cut) => {
      const wire = encodeNameValuePairs(pairs);
      const at = cut % wire.length;
      const r = decodeNameValuePairs(wire.subarray(0, at));
      // A cut inside a pair is refused; a cut on a pair boundary decodes the pairs before it.
      if (r.ok) assert.ok(r.pairs.length < pairs.length);
    }),
  );
});

test('property: a record stream split at random points yields the same records', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 1, max: 11 }),
          fc.integer({ min: 0, max: 65535 }),
          fc.uint8Array({ maxLength: 100 }),
        ),
        { maxLength: 10 },
      ),
      fc.array(fc.nat({ max: 2000 }), { maxLength: 10 }),
      (recs, cuts) => {
        const wire = Buffer.concat(recs.map(([t, id, c]) => encodeRecord(t, id, Buffer.from(c))));
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const reader = new RecordReader();
        const got = [];
        let prev = 0;
        for (const p of [...points, wire.length]) {
          const out = reader.push(wire.subarray(prev, p));
          assert.equal(out.error, null);
          got.push(...out.records);
          prev = p;
        }
        assert.deepEqual(
          got.map((r) => [r.type, r.requestId, [...r.content]]),
          recs.map(([t, id, c]) => [t, id, [...c]]),
        );
      },
    ),
  );
});

test('decodeParams gives strings: HTTP_* as latin1, others as UTF-8, later duplicates winning', () => {
  const wire = encodeNameValuePairs([
    ['PATH_INFO', '/é'],
    ['HTTP_X', Buffer.from([0xe9])],
    ['A', '1'],
    ['A', '2'],
    ['EMPTY', ''],
  ]);
  const r = decodeParams(wire);
  assert.ok(r.ok);
  assert.deepEqual(
    [...r.params],
    [
      ['PATH_INFO', '/é'],
      ['HTTP_X', 'é'],
      ['A', '2'],
      ['EMPTY', ''],
    ],
  );
});

test('decodeParams into CgiVariables: control characters found in the bytes refuse the request', () => {
  const base: Array<[string, string]> = [
    ['REQUEST_METHOD', 'GET'],
    ['REQUEST_URI', '/a'],
    ['HTTP_X_TAB', 'a\tb'],
  ];
  const ok = decodeParams(encodeNameValuePairs(base), { maxBytes: 65536, maxPairs: 1000 }, new CgiVariables());
  assert.ok(ok.ok);
  assert.equal('status' in parseCgiParams(ok.params), false, 'HTAB is allowed');
  for (const evil of ['a\r\nb', 'a\0', 'a\x7f', 'a\x1bb']) {
    const r = decodeParams(
      encodeNameValuePairs([...base, ['HTTP_X_EVIL', evil]]),
      { maxBytes: 65536, maxPairs: 1000 },
      new CgiVariables(),
    );
    assert.ok(r.ok);
    const parts = parseCgiParams(r.params);
    assert.ok('status' in parts && parts.status === 400, JSON.stringify(evil));
  }
});

test('property: decodeParams into CgiVariables builds what a Map of the same params builds', () => {
  const names = [
    'REQUEST_METHOD',
    'REQUEST_URI',
    'SCRIPT_NAME',
    'PATH_INFO',
    'QUERY_STRING',
    'HTTP_HOST',
    'HTTP_X_A',
    'HTTP_PROXY',
    'SERVER_NAME',
    'SERVER_PORT',
    'HTTPS',
    'CONTENT_LENGTH',
    'OTHER',
  ];
  const valueArb = fc.oneof(
    fc.constantFrom('GET', '/app/x', '/app', '', 'on', '80', '12', 'a\nb', 'a%0Ab', '/%ff', 'é'),
    fc.string({ maxLength: 10 }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...names), valueArb), { maxLength: 25 }), (pairs) => {
      const wire = encodeNameValuePairs(pairs);
      const fromMap = decodeParams(wire);
      const fromVars = decodeParams(wire, { maxBytes: 65536, maxPairs: 1000 }, new CgiVariables());
      assert.ok(fromMap.ok && fromVars.ok);
      const a = parseCgiParams(fromMap.params);
      const b = parseCgiParams(fromVars.params);
      assert.deepEqual(
        JSON.parse(JSON.stringify({ ...b, headers: 'headers' in b ? b.headers.raw : null })),
        JSON.parse(JSON.stringify({ ...a, headers: 'headers' in a ? a.headers.raw : null })),
      );
      if ('status' in a) assert.ok('status' in b && b.status === 400);
    }),
  );
});

test('property: decodeParams accepts exactly what decodeNameValuePairs accepts', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const buf = Buffer.from(bytes);
      assert.equal(decodeParams(buf).ok, decodeNameValuePairs(buf).ok);
    }),
  );
  fc.assert(
    fc.property(fc.array(pairArb, { maxLength: 20 }), (pairs) => {
      const r = decodeParams(encodeNameValuePairs(pairs));
      assert.ok(r.ok);
      assert.deepEqual(
        [...r.params],
        [...new Map(pairs.map(([n, v]) => [n, n.startsWith('HTTP_') ? Buffer.from(v).toString('latin1') : v]))],
      );
    }),
  );
});
