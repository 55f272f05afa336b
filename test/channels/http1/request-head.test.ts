import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  parseRequestHead,
  type HeadLimits,
  type HeadParse,
  type RequestHead,
} from '../../../src/channels/http1/request-head.js';

const LIMITS: HeadLimits = { maxUriLength: 8192, maxHeaderBytes: 16384, maxHeaderCount: 100 };
/** Small limits, so the size rules can be pinned with short inputs. */
const SMALL: HeadLimits = { maxUriLength: 16, maxHeaderBytes: 40, maxHeaderCount: 3 };

function parse(input: string | Buffer, limits: HeadLimits = LIMITS): HeadParse {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  return parseRequestHead(bytes, 0, bytes.length, limits);
}

/**
 * Parses `input` whole, and every prefix of it, as a connection receiving it in two pieces split at
 * each byte would; each prefix must give `partial` or already the final answer. Also parses it from
 * the middle of a larger buffer followed by other bytes. Returns the final answer.
 */
function parseEverySplit(input: string, limits: HeadLimits = LIMITS): HeadParse {
  const bytes = Buffer.from(input, 'latin1');
  const whole = parseRequestHead(bytes, 0, bytes.length, limits);
  for (let k = 0; k < bytes.length; k++) {
    const r = parseRequestHead(bytes, 0, k, limits);
    if (r.kind === 'partial') continue;
    if (whole.kind === 'head') assert.fail(`prefix of ${k} bytes gave ${JSON.stringify(r)} before the head ended`);
    assert.deepEqual(r, whole, `prefix of ${k} bytes`);
  }
  const framed = Buffer.concat([Buffer.from('xyz'), bytes, Buffer.from('BODY')]);
  const inside = parseRequestHead(framed, 3, framed.length, limits);
  assert.deepEqual(inside, whole, 'inside a larger buffer, followed by a body');
  return whole;
}

function headOf(r: HeadParse): RequestHead {
  if (r.kind !== 'head') assert.fail(`expected a head, got ${JSON.stringify(r)}`);
  return r.head;
}

const GET = 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n';

describe('parseRequestHead accepts', () => {
  const cases: Array<{ name: string; input: string; expect: Partial<RequestHead>; limits?: HeadLimits }> = [
    {
      name: 'a minimal HTTP/1.1 GET',
      input: GET,
      expect: {
        method: 'GET',
        target: '/x',
        minor: 1,
        rawHeaders: ['Host', 'a'],
        contentLength: null,
        chunked: false,
        keepAlive: true,
        upgrade: false,
        expectContinue: false,
        expectation: null,
        host: 'a',
      },
    },
    {
      name: 'HTTP/1.0 without Host (not kept alive)',
      input: 'GET / HTTP/1.0\r\n\r\n',
      expect: { minor: 0, rawHeaders: [], keepAlive: false, host: undefined },
    },
    {
      name: 'HTTP/1.0 with keep-alive',
      input: 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
      expect: { keepAlive: true },
    },
    {
      name: 'HTTP/1.1 with Connection: close in any case, among other tokens',
      input: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: x-a, CLOSE ,\r\n\r\n',
      expect: { keepAlive: false },
    },
    {
      name: 'close in a second Connection field',
      input: 'GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n',
      expect: { keepAlive: false },
    },
    {
      name: 'a method case-sensitive as sent, any token',
      input: 'get /x HTTP/1.1\r\nHost: a\r\n\r\n',
      expect: { method: 'get' },
    },
    {
      name: 'an unusual token method',
      input: 'M-SEARCH! * HTTP/1.1\r\nHost: a\r\n\r\n',
      expect: { method: 'M-SEARCH!', target: '*' },
    },
    {
      name: 'an absolute-form target',
      input: 'GET http://a.example/p?q=1#f HTTP/1.1\r\nHost: a.example\r\n\r\n',
      expect: { target: 'http://a.example/p?q=1#f' },
    },
    { name: 'up to 8 leading empty lines', input: '\r\n'.repeat(8) + GET, expect: { method: 'GET', target: '/x' } },
    {
      name: 'names as sent, values without OWS, obs-text kept',
      input: 'GET / HTTP/1.1\r\nhOsT:a\r\nX-A: \t v\xe9 1 \t\r\nX-Empty:\r\nX-Ws: \t \r\n\r\n',
      expect: { rawHeaders: ['hOsT', 'a', 'X-A', 'v\xe9 1', 'X-Empty', '', 'X-Ws', ''], host: 'a' },
    },
    {
      name: 'a Content-Length',
      input: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0012\r\n\r\n',
      expect: { contentLength: 12, chunked: false },
    },
    {
      name: 'a 15-digit Content-Length',
      input: 'POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 999999999999999\r\n\r\n',
      expect: { contentLength: 999999999999999 },
    },
    {
      name: 'chunked in any case, OWS trimmed',
      input: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  ChunKed \r\n\r\n',
      expect: { chunked: true, contentLength: null },
    },
    {
      name: 'an upgrade (Upgrade field and upgrade token)',
      input: 'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n',
      expect: { upgrade: true, keepAlive: true },
    },
    {
      name: 'an Upgrade field without the Connection token (no upgrade)',
      input: 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n',
      expect: { upgrade: false },
    },
    {
      name: 'the upgrade token without an Upgrade field (no upgrade)',
      input: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n',
      expect: { upgrade: false },
    },
    {
      name: 'CONNECT (counts as an upgrade)',
      input: 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n',
      expect: { method: 'CONNECT', target: 'a.example:443', upgrade: true },
    },
    {
      name: 'Expect: 100-continue in any case',
      input: 'PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n',
      expect: { expectContinue: true, expectation: '100-Continue' },
    },
    {
      name: 'another Expect (left for a 417)',
      input: 'PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue; x\r\n\r\n',
      expect: { expectContinue: false, expectation: '100-continue; x' },
    },
    {
      name: 'two Expect fields, joined',
      input: 'PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nexpect: 100-continue\r\n\r\n',
      expect: { expectContinue: false, expectation: '100-continue, 100-continue' },
    },
    { name: 'an empty Host', input: 'GET / HTTP/1.1\r\nHost:\r\n\r\n', expect: { host: '' } },
    {
      name: 'a Host with a port',
      input: 'GET / HTTP/1.1\r\nHost: a-b.example.:65535\r\n\r\n',
      expect: { host: 'a-b.example.:65535' },
    },
    {
      name: 'an IPv4 Host',
      input: 'GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n',
      expect: { host: '127.0.0.1:8080' },
    },
    {
      name: 'a bracketed IPv6 Host',
      input: 'GET / HTTP/1.1\r\nHost: [::ffff:127.0.0.1]:80\r\n\r\n',
      expect: { host: '[::ffff:127.0.0.1]:80' },
    },
    {
      name: 'a target of exactly maxUriLength',
      input: `GET /${'a'.repeat(15)} HTTP/1.1\r\nHost: a\r\n\r\n`,
      limits: SMALL,
      expect: { target: `/${'a'.repeat(15)}` },
    },
    {
      name: 'a header section of exactly maxHeaderBytes',
      input: `GET / HTTP/1.1\r\nHost: a\r\nX: ${'b'.repeat(26)}\r\n\r\n`,
      limits: SMALL,
      expect: { rawHeaders: ['Host', 'a', 'X', 'b'.repeat(26)] },
    },
    {
      name: 'exactly maxHeaderCount fields',
      input: 'GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n',
      limits: SMALL,
      expect: { rawHeaders: ['Host', 'a', 'A', '1', 'B', '2'] },
    },
  ];
  for (const c of cases) {
    test(`parseRequestHead accepts ${c.name}, whole and split at every byte`, () => {
      const r = parseEverySplit(c.input, c.limits);
      const head = headOf(r);
      for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(head[key as keyof RequestHead], value, key);
      assert.equal(r.kind === 'head' && r.length, Buffer.byteLength(c.input, 'latin1'));
    });
  }

  test('parseRequestHead consumes only the head: the body and the next request stay', () => {
    const input = Buffer.from(
      'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nokGET /b HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    const first = parseRequestHead(input, 0, input.length, LIMITS);
    assert.equal(first.kind, 'head');
    const length = first.kind === 'head' ? first.length : 0;
    assert.equal(input.toString('latin1', length, length + 2), 'ok');
    const second = parseRequestHead(input, length + 2, input.length, LIMITS);
    assert.equal(headOf(second).target, '/b');
    assert.equal(second.kind === 'head' && second.length, 28);
  });

  test('parseRequestHead answers partial for nothing at all, and for a start at or past the end', () => {
    assert.deepEqual(parse(''), { kind: 'partial' });
    const b = Buffer.from(GET);
    assert.deepEqual(parseRequestHead(b, b.length, b.length, LIMITS), { kind: 'partial' });
    assert.deepEqual(parseRequestHead(b, 5, 2, LIMITS), { kind: 'partial' });
  });
});

describe('parseRequestHead refuses', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
  const cases: Array<[string, string, number, HeadLimits?]> = [
    ['9 leading empty lines', '\r\n'.repeat(9) + GET, 400],
    ['a leading bare LF', `\n${GET}`, 400],
    ['a leading bare CR', '\rGET / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a request line ending in a bare LF', 'GET / HTTP/1.1\nHost: a\r\n\r\n', 400],
    ['a request line ending in a bare CR', 'GET / HTTP/1.1\rHost: a\r\n\r\n', 400],
    ['a field line ending in a bare LF', 'GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n', 400],
    ['a bare CR inside a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r2\r\n\r\n', 400],
    ['a head ending in a bare LF', 'GET / HTTP/1.1\r\nHost: a\r\n\n', 400],
    ['a head ending in CR then something else', 'GET / HTTP/1.1\r\nHost: a\r\n\rx', 400],
    ['an empty method', ' / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a method with a non-token byte', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['two spaces after the method', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['two spaces after the target', 'GET /  HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['an HTAB separator', 'GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a target with a control', 'GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a target with DEL', 'GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a target with a byte over 0x7f', 'GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a request line without a version', 'GET /\r\nHost: a\r\n\r\n', 400],
    ['a lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400],
    ['a version with extra digits', 'GET / HTTP/1.10\r\nHost: a\r\n\r\n', 400],
    ['a version with a trailing space', 'GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 400],
    ['a version without a dot', 'GET / HTTP/11\r\nHost: a\r\n\r\n', 400],
    ['a garbage version', 'GET / FTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505],
    ['HTTP/0.9 spelt as a version', 'GET / HTTP/0.9\r\n\r\n', 505],
    ['the HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
    ['a target over maxUriLength', `GET /${'a'.repeat(16)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414, SMALL],
    [
      'a request line over maxUriLength + 64 (long method)',
      `${'M'.repeat(90)} / HTTP/1.1\r\nHost: a\r\n\r\n`,
      414,
      SMALL,
    ],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n', 400],
    ['obs-fold with HTAB', 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n', 400],
    ['whitespace before the first field', 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', 400],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
    ['an HTAB before the colon', 'GET / HTTP/1.1\r\nHost\t: a\r\n\r\n', 400],
    ['an empty field name', 'GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n', 400],
    ['a field name with a non-token byte', 'GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n', 400],
    ['a field line without a colon', 'GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n', 400],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n', 400],
    ['DEL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n', 400],
    ['a control in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x1bb\r\n\r\n', 400],
    ['a header section over maxHeaderBytes', `GET / HTTP/1.1\r\nHost: a\r\nX: ${'b'.repeat(27)}\r\n\r\n`, 431, SMALL],
    ['more than maxHeaderCount fields', `GET / HTTP/1.1\r\nHost: a\r\n${many(3)}\r\n`, 431, SMALL],
    ['more than 100 fields by default', `GET / HTTP/1.1\r\nHost: a\r\n${many(100)}\r\n`, 431],
    ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nX: 1\r\n\r\n', 400],
    ['two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n', 400],
    ['two Host fields on HTTP/1.0', 'GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['a Host with a path', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400],
    ['a Host with userinfo', 'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n', 400],
    ['a Host with an empty port', 'GET / HTTP/1.1\r\nHost: a:\r\n\r\n', 400],
    ['a Host with a six-digit port', 'GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n', 400],
    ['a Host with only a port', 'GET / HTTP/1.1\r\nHost: :80\r\n\r\n', 400],
    ['an unclosed IPv6 Host', 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', 400],
    ['an empty IPv6 Host', 'GET / HTTP/1.1\r\nHost: []\r\n\r\n', 400],
    ['a Host list', 'GET / HTTP/1.1\r\nHost: a, b\r\n\r\n', 400],
    ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n', 400],
    ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n', 400],
    ['an empty Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n', 400],
    ['a hex Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n', 400],
    ['a Content-Length over 15 digits', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000\r\n\r\n', 400],
    [
      'two equal Content-Length fields',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n',
      400,
    ],
    [
      'two different Content-Length fields',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n',
      400,
    ],
    ['Transfer-Encoding on HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['a Transfer-Encoding other than chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
    ['a coding list ending in chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 400],
    ['chunked twice in one field', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 400],
    [
      'chunked in two fields',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
    ],
    [
      'an empty field then chunked',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
    ],
    ['a chunked look-alike', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n', 400],
    [
      'Transfer-Encoding then Content-Length',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      400,
    ],
    [
      'Content-Length then Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
    ],
  ];
  for (const [name, input, status, limits] of cases) {
    test(`parseRequestHead refuses ${name} with ${status}, whole and split at every byte`, () => {
      const r = parseEverySplit(input, limits);
      assert.equal(r.kind, 'error', JSON.stringify(r));
      assert.equal(r.kind === 'error' && r.status, status, JSON.stringify(r));
      assert.ok(r.kind === 'error' && r.detail.length > 0);
    });
  }
});

describe('parseRequestHead decides the limits before the head ends', () => {
  test('parseRequestHead answers 414 for a target over maxUriLength without its end', () => {
    assert.deepEqual(parse(`GET /${'a'.repeat(15)}`, SMALL), { kind: 'partial' });
    assert.equal(errorStatus(parse(`GET /${'a'.repeat(16)}`, SMALL)), 414);
  });

  test('parseRequestHead answers 414 once the request line passes maxUriLength + 64 bytes without a CRLF', () => {
    const limits = { ...LIMITS, maxUriLength: 100 };
    assert.deepEqual(parse('M'.repeat(164), limits), { kind: 'partial' });
    assert.equal(errorStatus(parse('M'.repeat(165), limits)), 414);
    assert.equal(errorStatus(parse(`GET /${'a'.repeat(200)}`, limits)), 414);
  });

  test('parseRequestHead answers 414 for the default limit on an endless target', () => {
    assert.equal(errorStatus(parse(`GET /${'a'.repeat(8192)}`)), 414);
    assert.deepEqual(parse(`GET /${'a'.repeat(8191)}`), { kind: 'partial' });
  });

  test('parseRequestHead answers 431 once the header section passes maxHeaderBytes without its end', () => {
    const line = 'GET / HTTP/1.1\r\n';
    assert.deepEqual(parse(`${line}X: ${'b'.repeat(37)}`, SMALL), { kind: 'partial' });
    assert.equal(errorStatus(parse(`${line}X: ${'b'.repeat(38)}`, SMALL)), 431);
    assert.equal(errorStatus(parse(`${line}Host: a\r\n${'X: b\r\n'.repeat(5)}Y`, SMALL)), 431);
    assert.equal(errorStatus(parse(`${line}X: ${'b'.repeat(20000)}`)), 431);
  });

  test('parseRequestHead answers 431 at the first field past maxHeaderCount, before the head ends', () => {
    assert.equal(errorStatus(parse('GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD', SMALL)), 431);
    assert.deepEqual(parse('GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n', SMALL), { kind: 'partial' });
  });

  test('parseRequestHead answers 505 as soon as the version is known', () => {
    assert.equal(errorStatus(parse('PRI * HTTP/2.0')), 505);
  });
});

function errorStatus(r: HeadParse): number | string {
  return r.kind === 'error' ? r.status : r.kind;
}

describe('parseRequestHead on random input', () => {
  const limits = fc.record({
    maxUriLength: fc.integer({ min: 0, max: 64 }),
    maxHeaderBytes: fc.integer({ min: 0, max: 128 }),
    maxHeaderCount: fc.integer({ min: 0, max: 8 }),
  });

  test('parseRequestHead never throws on random bytes, and answers partial, a head or a refusal', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), limits, (bytes, a, b, l) => {
        const buf = Buffer.from(bytes);
        const start = a % (buf.length + 2);
        const end = b % (buf.length + 2);
        const r = parseRequestHead(buf, start, end, l);
        assert.ok(
          r.kind === 'partial' || r.kind === 'head' || (r.kind === 'error' && [400, 414, 431, 505].includes(r.status)),
        );
        if (r.kind === 'head') assert.ok(r.length > 0 && start + r.length <= buf.length);
      }),
      { numRuns: 5000 },
    );
  });

  test('parseRequestHead never throws on valid heads cut or corrupted anywhere, and a prefix never contradicts the whole', () => {
    const text =
      'POST /a?b HTTP/1.1\r\nHost: a.example:80\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, upgrade\r\nUpgrade: x\r\nExpect: 100-continue\r\nX: \xe9\r\n\r\n';
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.nat(),
        limits,
        fc.boolean(),
        (flips, cut, l, defaults) => {
          const buf = Buffer.from(text, 'latin1');
          for (const [at, value] of flips) buf[at % buf.length] = value;
          const use = defaults ? LIMITS : l;
          const whole = parseRequestHead(buf, 0, buf.length, use);
          const prefix = parseRequestHead(buf, 0, cut % (buf.length + 1), use);
          if (prefix.kind !== 'partial') assert.deepEqual(prefix, whole);
        },
      ),
      { numRuns: 5000 },
    );
  });

  test('parseRequestHead reads back any well-formed request: method, target and fields', () => {
    const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
    const request = fc.record({
      method: token,
      target: fc.stringMatching(/^[!-~]{1,40}$/),
      minor: fc.constantFrom(0, 1),
      host: fc.stringMatching(/^[A-Za-z0-9.-]{1,20}(:\d{1,5})?$/),
      fields: fc.array(
        fc.tuple(
          token,
          fc.stringMatching(/^([!-~\x80-\xff]([ \t!-~\x80-\xff]{0,20}[!-~\x80-\xff])?)?$/),
          fc.stringMatching(/^[ \t]{0,2}$/),
          fc.stringMatching(/^[ \t]{0,2}$/),
        ),
        { maxLength: 8 },
      ),
      leading: fc.integer({ min: 0, max: 8 }),
    });
    fc.assert(
      fc.property(request, fc.integer({ min: 1, max: 300 }), (r, split) => {
        const special = /^(host|content-length|transfer-encoding)$/i;
        const fields = r.fields.filter(([n]) => !special.test(n));
        const text =
          '\r\n'.repeat(r.leading) +
          `${r.method} ${r.target} HTTP/1.${r.minor}\r\nHost: ${r.host}\r\n` +
          fields.map(([n, v, before, after]) => `${n}:${before}${v}${after}\r\n`).join('') +
          '\r\n';
        const buf = Buffer.from(`${text}rest`, 'latin1');
        const cut = Math.min(split, text.length - 1);
        assert.deepEqual(parseRequestHead(buf, 0, cut, LIMITS), { kind: 'partial' });
        const result = parseRequestHead(buf, 0, buf.length, LIMITS);
        const head = headOf(result);
        assert.equal(result.kind === 'head' && result.length, text.length);
        assert.equal(head.method, r.method);
        assert.equal(head.target, r.target);
        assert.equal(head.minor, r.minor);
        assert.equal(head.host, r.host);
        assert.deepEqual(head.rawHeaders, ['Host', r.host, ...fields.flatMap(([name, value]) => [name, value])]);
      }),
      { numRuns: 2000 },
    );
  });
});
