import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  MAX_RESPONSE_HEAD_BYTES,
  ResponseParser,
  type ExpectOptions,
  type ResponseHead,
} from '../../src/proxy/response-parser.js';

interface Outcome {
  heads: ResponseHead[];
  body: string;
  ended: boolean;
  error: string | null;
  upgradeRest: string | null;
  excess: boolean;
}

/** Feeds `input` in pieces of `split` bytes (all at once when 0), then the connection's end if `close`. */
function parse(
  input: string | Buffer,
  options: Partial<ExpectOptions> & { split?: number; close?: boolean } = {},
): Outcome {
  const out: Outcome = { heads: [], body: '', ended: false, error: null, upgradeRest: null, excess: false };
  const parser = new ResponseParser({
    onHead: (h) => out.heads.push(h),
    onBody: (c) => (out.body += c.toString('latin1')),
    onEnd: () => {
      assert.equal(out.ended, false, 'onEnd twice');
      out.ended = true;
    },
    onUpgrade: (rest) => (out.upgradeRest = rest.toString('latin1')),
    onError: (reason) => {
      assert.equal(out.error, null, 'onError twice');
      out.error = reason;
    },
  });
  parser.expect({ head: options.head ?? false, upgrade: options.upgrade ?? false });
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const split = options.split ?? 0;
  if (split <= 0) parser.push(bytes);
  else for (let i = 0; i < bytes.length; i += split) parser.push(bytes.subarray(i, i + split));
  if (options.close) parser.finish();
  out.excess = parser.excess;
  return out;
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';

describe('ResponseParser accepts', () => {
  const cases: Array<{
    name: string;
    input: string;
    options?: Partial<ExpectOptions> & { close?: boolean };
    status: number;
    body: string;
    keepAlive?: boolean;
    headers?: string[];
  }> = [
    {
      name: 'a Content-Length body',
      input: OK,
      status: 200,
      body: 'hello',
      keepAlive: true,
      headers: ['Content-Type', 'text/plain', 'Content-Length', '5'],
    },
    {
      name: 'a chunked body with extensions and trailers',
      input:
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n006\r\n world\r\n0\r\nX-T: 1\r\n\r\n',
      status: 200,
      body: 'hello world',
    },
    {
      name: 'a body read until close (not kept alive)',
      input: 'HTTP/1.1 200 OK\r\n\r\nabc',
      options: { close: true },
      status: 200,
      body: 'abc',
      keepAlive: false,
    },
    {
      name: 'HEAD with a Content-Length and no body',
      input: 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n',
      options: { head: true },
      status: 200,
      body: '',
    },
    {
      name: '204 and 304 without a body',
      input: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n',
      status: 304,
      body: '',
    },
    {
      name: '100 Continue before the final answer',
      input: `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${OK}`,
      status: 200,
      body: 'hello',
    },
    {
      name: 'an empty reason phrase and no separator',
      input: 'HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n',
      status: 404,
      body: '',
    },
    {
      name: 'OWS around values trimmed, obs-text kept',
      input: 'HTTP/1.1 200 OK\r\nX-A: \t v\xe9 1 \t\r\nContent-Length: 0\r\n\r\n',
      status: 200,
      body: '',
      headers: ['X-A', 'v\xe9 1', 'Content-Length', '0'],
    },
    {
      name: 'Connection: close (not kept alive)',
      input: 'HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n',
      status: 200,
      body: '',
      keepAlive: false,
    },
    {
      name: 'a short Connection list naming close (not kept alive)',
      input: 'HTTP/1.1 200 OK\r\nConnection: close,x-ab\r\nContent-Length: 0\r\n\r\n',
      status: 200,
      body: '',
      keepAlive: false,
    },
    {
      name: 'HTTP/1.0 (not kept alive)',
      input: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
      status: 200,
      body: 'ok',
      keepAlive: false,
    },
  ];
  for (const c of cases) {
    test(`ResponseParser accepts ${c.name}, whole or a byte at a time`, () => {
      for (const split of [0, 1, 3]) {
        const r = parse(c.input, { ...c.options, split });
        assert.equal(r.error, null, `split ${split}`);
        assert.equal(r.heads.length, 1);
        assert.equal(r.heads[0]!.status, c.status);
        assert.equal(r.body, c.body);
        assert.equal(r.ended, true);
        assert.equal(r.excess, false);
        if (c.keepAlive !== undefined) assert.equal(r.heads[0]!.keepAlive, c.keepAlive);
        if (c.headers) assert.deepEqual(r.heads[0]!.headers, c.headers);
      }
    });
  }

  test('ResponseParser hands over a 101 and the bytes after it when an upgrade was asked for', () => {
    const r = parse('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi', {
      upgrade: true,
    });
    assert.equal(r.error, null);
    assert.equal(r.heads[0]!.status, 101);
    assert.equal(r.upgradeRest, '\x81\x02hi');
  });

  test('ResponseParser reads the version, status and reason phrase (obs-text kept, empty allowed)', () => {
    const a = parse("HTTP/1.0 418 I'm a teapot \xe9\r\nContent-Length: 0\r\n\r\n").heads[0]!;
    assert.deepEqual([a.minor, a.status, a.reason], [0, 418, "I'm a teapot \xe9"]);
    const b = parse('HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n').heads[0]!;
    assert.deepEqual([b.minor, b.status, b.reason], [1, 599, '']);
    const c = parse('HTTP/1.1 100\r\n\r\nHTTP/1.1 201\r\nContent-Length: 0\r\n\r\n').heads[0]!;
    assert.deepEqual([c.status, c.reason], [201, '']);
  });

  test('ResponseParser says whether Connection names fields beyond close and keep-alive', () => {
    const names = (value: string) =>
      parse(`HTTP/1.1 200 OK\r\nConnection: ${value}\r\nContent-Length: 0\r\n\r\n`).heads[0]!;
    assert.equal(names('keep-alive').connectionNames, false);
    assert.equal(names('Close').connectionNames, false);
    assert.equal(names('Close').keepAlive, false);
    assert.equal(names('X-Hop').connectionNames, true);
    assert.equal(names('X-Hop').keepAlive, true);
    assert.equal(names('x-hop, CLOSE').keepAlive, false);
  });

  test('ResponseParser marks bytes past the end of a response as excess', () => {
    const r = parse(`${OK}HTTP/1.1 200 OK\r\n`);
    assert.equal(r.body, 'hello');
    assert.equal(r.ended, true);
    assert.equal(r.excess, true);
  });
});

describe('ResponseParser rejects', () => {
  const big = `X-Big: ${'a'.repeat(MAX_RESPONSE_HEAD_BYTES)}\r\n`;
  const many = Array.from({ length: 101 }, (_, i) => `X-${i}: v\r\n`).join('');
  const cases: Array<[string, string, Partial<ExpectOptions> & { close?: boolean }]> = [
    ['a garbage status line', 'HTTTP/1.1 200 OK\r\n\r\n', {}],
    ['HTTP/2 in the status line', 'HTTP/2.0 200 OK\r\n\r\n', {}],
    ['a status outside 100-599', 'HTTP/1.1 600 Nope\r\nContent-Length: 0\r\n\r\n', {}],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', {}],
    ['a head over the size limit', `HTTP/1.1 200 OK\r\n${big}\r\n`, {}],
    ['a head that never ends, over the size limit', `HTTP/1.1 200 OK\r\n${big}`, {}],
    ['more than 100 fields', `HTTP/1.1 200 OK\r\n${many}\r\n`, {}],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n', {}],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n', {}],
    ['a bare LF inside the head', 'HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\nContent-Length: 0\r\n\r\n', {}],
    ['a bare CR inside a value', 'HTTP/1.1 200 OK\r\nX-A: 1\r2\r\nContent-Length: 0\r\n\r\n', {}],
    ['a NUL inside a value', 'HTTP/1.1 200 OK\r\nX-A: 1\x002\r\nContent-Length: 0\r\n\r\n', {}],
    ['a field without a name', 'HTTP/1.1 200 OK\r\n: v\r\n\r\n', {}],
    ['two Content-Length fields, even equal', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', {}],
    ['a Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx', {}],
    ['a signed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx', {}],
    [
      'Transfer-Encoding with Content-Length',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      {},
    ],
    [
      'a Transfer-Encoding other than chunked',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
      {},
    ],
    ['Transfer-Encoding on HTTP/1.0', 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', {}],
    ['a 101 nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', {}],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', {}],
    ['a chunk size over 13 hex digits', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\n', {}],
    [
      'a chunk-size line over the limit',
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${'x'.repeat(5000)}\r\n`,
      {},
    ],
    [
      'chunk data not followed by CRLF',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n',
      {},
    ],
    ['a chunk-size line ending in a bare LF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n', {}],
    ['a bare LF in the trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n', {}],
    [
      'trailers over the limit',
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${'X: y\r\n'.repeat(4000)}\r\n`,
      {},
    ],
    ['a close mid-head', 'HTTP/1.1 200 OK\r\nContent-Le', { close: true }],
    ['a close mid-body', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', { close: true }],
    ['a close mid-chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc', { close: true }],
    [
      'a close before the last chunk',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
      { close: true },
    ],
    ['a close before any byte', '', { close: true }],
  ];
  for (const [name, input, options] of cases) {
    test(`ResponseParser rejects ${name}, whole or a byte at a time`, () => {
      for (const split of [0, 1]) {
        const r = parse(input, { ...options, split });
        assert.notEqual(r.error, null, `split ${split}: ${JSON.stringify(r)}`.slice(0, 300));
        assert.equal(r.ended, false);
      }
    });
  }

  test('ResponseParser reports no more of a chunked body once a body callback stops or moves on', () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n';
    for (const next of [false, true]) {
      const seen: string[] = [];
      const parser: ResponseParser = new ResponseParser({
        onHead: () => {},
        onBody: (c) => {
          seen.push(c.toString());
          if (seen.length > 1) return;
          if (next) parser.expect({ head: false, upgrade: false });
          else parser.stop();
        },
        onEnd: () => seen.push('end'),
        onUpgrade: () => {},
        onError: (reason) => seen.push(`error: ${reason}`),
      });
      parser.expect({ head: false, upgrade: false });
      parser.push(Buffer.from(chunked));
      assert.deepEqual(seen, ['a'], `next ${next}`);
      if (!next) continue;
      // The exchange started from the callback reads its own response cleanly.
      parser.push(Buffer.from(OK));
      assert.deepEqual(seen, ['a', 'hello', 'end']);
    }
  });

  test('ResponseParser reports nothing after stop()', () => {
    let events = 0;
    const parser = new ResponseParser({
      onHead: () => events++,
      onBody: () => events++,
      onEnd: () => events++,
      onUpgrade: () => events++,
      onError: () => events++,
    });
    parser.expect({ head: false, upgrade: false });
    parser.stop();
    parser.push(Buffer.from(OK));
    parser.finish();
    assert.equal(events, 0);
  });
});

describe('ResponseParser on random input', () => {
  test('ResponseParser never throws on random bytes in random pieces, and ends or errs at most once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        (pieces, head, close) => {
          let ends = 0;
          let errors = 0;
          const parser = new ResponseParser({
            onHead: () => {},
            onBody: () => {},
            onEnd: () => ends++,
            onUpgrade: () => {},
            onError: () => errors++,
          });
          parser.expect({ head, upgrade: false });
          for (const p of pieces) parser.push(Buffer.from(p));
          if (close) parser.finish();
          assert.ok(ends + errors <= 1);
          // Once the connection ended, every response has an outcome: complete or rejected.
          if (close) assert.equal(ends + errors, 1);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('ResponseParser never throws on valid responses cut or corrupted anywhere', () => {
    const response = fc.record({
      status: fc.integer({ min: 100, max: 599 }),
      fields: fc.array(
        fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/), fc.stringMatching(/^[ -~]{0,20}$/)),
        { maxLength: 6 },
      ),
      body: fc.string({ maxLength: 40 }),
      chunked: fc.boolean(),
    });
    fc.assert(
      fc.property(
        response,
        fc.nat(),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
        fc.integer({ min: 1, max: 17 }),
        (r, cut, flip, split) => {
          const fields = r.fields.filter(([n]) => !/^(content-length|transfer-encoding)$/i.test(n));
          let text = `HTTP/1.1 ${r.status} X\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}`;
          text += r.chunked
            ? `Transfer-Encoding: chunked\r\n\r\n${r.body.length ? `${Buffer.byteLength(r.body).toString(16)}\r\n${r.body}\r\n` : ''}0\r\n\r\n`
            : `Content-Length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`;
          const bytes = Buffer.from(text);
          if (flip) bytes[flip[0] % bytes.length] = flip[1];
          const truncated = bytes.subarray(0, cut % (bytes.length + 1));
          const seen = { ends: 0, errors: 0, body: '' };
          const parser = new ResponseParser({
            onHead: () => {},
            onBody: (c) => (seen.body += c.toString()),
            onEnd: () => seen.ends++,
            onUpgrade: () => {},
            onError: () => seen.errors++,
          });
          parser.expect({ head: false, upgrade: false });
          for (let i = 0; i < truncated.length; i += split) parser.push(truncated.subarray(i, i + split));
          parser.finish();
          assert.equal(seen.ends + seen.errors, 1);
          // Whatever happened, the same parser reads the next response cleanly.
          Object.assign(seen, { ends: 0, errors: 0, body: '' });
          parser.expect({ head: false, upgrade: false });
          parser.push(Buffer.from(OK));
          assert.deepEqual(seen, { ends: 1, errors: 0, body: 'hello' });
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('ResponseParser parses any well-formed response the same whole or in pieces', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[ -~]{0,60}$/),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        (body, split, chunked) => {
          const text = chunked
            ? `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length ? `${body.length.toString(16)}\r\n${body}\r\n` : ''}0\r\n\r\n`
            : `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
          const whole = parse(text);
          const pieces = parse(text, { split });
          assert.equal(whole.error, null);
          assert.equal(pieces.error, null);
          assert.equal(whole.body, body);
          assert.equal(pieces.body, body);
          assert.equal(pieces.ended, true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
