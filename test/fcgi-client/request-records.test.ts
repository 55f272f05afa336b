// The records opening a FastCGI request, built in one buffer: read back with the decoders the
// FastCGI channel uses, for small and long PARAMS and STDIN streams.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeNameValuePairs } from '../../src/channels/fastcgi/name-value.js';
import { decodeBeginRequest, FcgiRole, FcgiType, RecordReader } from '../../src/channels/fastcgi/records.js';
import { encodeParams, encodeRequestStart, ParamsWriter } from '../../src/fcgi-client/request-records.js';

function readBack(buf: Buffer) {
  const { records, error } = new RecordReader().push(buf);
  assert.equal(error, null);
  for (const r of records) assert.equal(r.requestId, 1);
  const of = (type: number) => records.filter((r) => r.type === type);
  const params = decodeNameValuePairs(Buffer.concat(of(FcgiType.PARAMS).map((r) => r.content)), {
    maxBytes: 1 << 20,
    maxPairs: 100,
  });
  assert.ok(params.ok);
  return {
    types: records.map((r) => r.type),
    begin: decodeBeginRequest(records[0]!.content),
    params: params.pairs.map(([n, v]) => [n, v.toString('utf8')]),
    stdin: Buffer.concat(of(FcgiType.STDIN).map((r) => r.content)),
    ends: { params: of(FcgiType.PARAMS).at(-1)!.content.length, stdin: of(FcgiType.STDIN).at(-1)?.content.length },
  };
}

function writer(pairs: Array<[string, string]>): ParamsWriter {
  const w = new ParamsWriter();
  for (const [n, v] of pairs) w.add(n, v);
  return w;
}

test('BEGIN_REQUEST with FCGI_KEEP_CONN, PARAMS (request pairs, then the constant ones), empty PARAMS, STDIN and its end', () => {
  const pairs: Array<[string, string]> = [
    ['REQUEST_METHOD', 'POST'],
    ['QUERY_STRING', ''],
    ['HTTP_X', 'é ünïcode'],
    ['LONG', 'v'.repeat(300)],
  ];
  const constant = encodeParams([['REDIRECT_STATUS', '200']]);
  const out = readBack(encodeRequestStart(1, writer(pairs), constant, Buffer.from('a=1')));
  assert.deepEqual(out.begin, { role: FcgiRole.RESPONDER, keepConn: true });
  assert.deepEqual(out.types, [
    FcgiType.BEGIN_REQUEST,
    FcgiType.PARAMS,
    FcgiType.PARAMS,
    FcgiType.STDIN,
    FcgiType.STDIN,
  ]);
  assert.deepEqual(out.params, [...pairs, ['REDIRECT_STATUS', '200']]);
  assert.equal(out.stdin.toString(), 'a=1');
  assert.deepEqual(out.ends, { params: 0, stdin: 0 });
});

test('an empty body is the empty STDIN alone; without a body STDIN is left to the caller', () => {
  const empty = readBack(encodeRequestStart(1, writer([['A', 'b']]), Buffer.alloc(0), Buffer.alloc(0)));
  assert.deepEqual(empty.types, [FcgiType.BEGIN_REQUEST, FcgiType.PARAMS, FcgiType.PARAMS, FcgiType.STDIN]);
  const open = readBack(encodeRequestStart(1, writer([['A', 'b']]), Buffer.alloc(0), null));
  assert.deepEqual(open.types, [FcgiType.BEGIN_REQUEST, FcgiType.PARAMS, FcgiType.PARAMS]);
});

test('PARAMS and STDIN longer than one record are split across records and read back whole', () => {
  const pairs: Array<[string, string]> = [
    ['BIG', 'x'.repeat(70_000)],
    ['AFTER', 'y'],
  ];
  const body = Buffer.alloc(150_000, 'z');
  const out = readBack(encodeRequestStart(1, writer(pairs), encodeParams([['PHP_VALUE', 'a=b']]), body));
  assert.deepEqual(out.params, [...pairs, ['PHP_VALUE', 'a=b']]);
  assert.ok(out.stdin.equals(body));
  assert.ok(out.types.filter((t) => t === FcgiType.PARAMS).length >= 3);
  assert.deepEqual(out.ends, { params: 0, stdin: 0 });
});
