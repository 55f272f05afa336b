import assert from 'node:assert/strict';
import { test } from 'node:test';
import { socketAddress } from '../../src/channels/address.js';
import { checkRequestHead } from '../../src/channels/head-checks.js';
import { DEFAULT_LIMITS } from '../../src/site.js';

const flat = (pairs: Array<[string, string]>) => pairs.flat();

const cases: Array<[string, string, string, Array<[string, string]>, number | null]> = [
  ['a plain request passes', '/', '1.1', [['Host', 'example.com']], null],
  ['a URI over 8 KiB is 414', `/${'a'.repeat(8192)}`, '1.1', [['Host', 'h']], 414],
  [
    'more than 100 fields is 431',
    '/',
    '1.1',
    Array.from({ length: 101 }, (_, i) => [`X-${i}`, 'v'] as [string, string]),
    431,
  ],
  [
    'over 16 KiB of headers is 431',
    '/',
    '1.1',
    [
      ['Host', 'h'],
      ['X-Big', 'v'.repeat(16 * 1024)],
    ],
    431,
  ],
  [
    'two Host fields is 400',
    '/',
    '1.1',
    [
      ['Host', 'a'],
      ['host', 'b'],
    ],
    400,
  ],
  ['a Host with a slash is 400', '/', '1.1', [['Host', 'evil.com/x']], 400],
  ['a Host with a bracketed IPv6 and port passes', '/', '1.1', [['Host', '[::1]:8080']], null],
  ['Transfer-Encoding on HTTP/1.0 is 400', '/', '1.0', [['Transfer-Encoding', 'chunked']], 400],
  ['Transfer-Encoding other than chunked is 400', '/', '1.1', [['Transfer-Encoding', 'gzip, chunked']], 400],
  ['Transfer-Encoding: chunked passes', '/', '1.1', [['Transfer-Encoding', 'chunked']], null],
];

for (const [name, uri, version, headers, expected] of cases) {
  test(`checkRequestHead: ${name}`, () => {
    const refusal = checkRequestHead(uri, version, flat(headers), DEFAULT_LIMITS);
    assert.equal(refusal?.status ?? null, expected);
  });
}

test('socketAddress shows IPv4-mapped IPv6 as IPv4 and UNIX peers by path', () => {
  assert.deepEqual(socketAddress('::ffff:10.0.0.1', 'IPv6', 5, null), { type: 'INET', host: '10.0.0.1', port: 5 });
  assert.deepEqual(socketAddress('::1', 'IPv6', 5, null), { type: 'INET6', host: '::1', port: 5 });
  assert.deepEqual(socketAddress(undefined, undefined, undefined, '/run/a.sock'), {
    type: 'UNIX',
    path: '/run/a.sock',
  });
});
