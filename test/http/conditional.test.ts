import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  evaluatePreconditions,
  parseETag,
  parseETagList,
  parseHttpDate,
  formatETag,
  MAX_ETAG_LIST,
} from '../../src/http/conditional.js';

const T = Date.parse('Thu, 01 Jan 2026 00:00:00 GMT');
const d = (ms: number) => new Date(ms).toUTCString();

const cases: Array<
  [string, Parameters<typeof evaluatePreconditions>[0], Parameters<typeof evaluatePreconditions>[1], number]
> = [
  ['no conditions', { method: 'GET' }, { etag: '"a"', lastModified: T }, 200],
  ['If-Match mismatch', { method: 'PUT', ifMatch: '"b"' }, { etag: '"a"' }, 412],
  ['If-Match strong match', { method: 'PUT', ifMatch: '"x", "a"' }, { etag: '"a"' }, 200],
  [
    'If-Match against a weak tag fails (strong comparison)',
    { method: 'PUT', ifMatch: 'W/"a"' },
    { etag: 'W/"a"' },
    412,
  ],
  ['If-Match *', { method: 'PUT', ifMatch: '*' }, { etag: '"a"' }, 200],
  ['If-Unmodified-Since older', { method: 'PUT', ifUnmodifiedSince: d(T - 1000) }, { lastModified: T }, 412],
  ['If-Unmodified-Since equal', { method: 'PUT', ifUnmodifiedSince: d(T) }, { lastModified: T }, 200],
  [
    'If-Unmodified-Since ignored when If-Match present',
    { method: 'PUT', ifMatch: '"a"', ifUnmodifiedSince: d(T - 1000) },
    { etag: '"a"', lastModified: T },
    200,
  ],
  ['If-None-Match weak match GET', { method: 'GET', ifNoneMatch: 'W/"a"' }, { etag: '"a"' }, 304],
  ['If-None-Match match HEAD', { method: 'HEAD', ifNoneMatch: '"a"' }, { etag: 'W/"a"' }, 304],
  ['If-None-Match match POST', { method: 'POST', ifNoneMatch: '"a"' }, { etag: '"a"' }, 412],
  ['If-None-Match * GET', { method: 'GET', ifNoneMatch: '*' }, { etag: '"a"' }, 304],
  ['If-None-Match no match', { method: 'GET', ifNoneMatch: '"b"' }, { etag: '"a"' }, 200],
  [
    'If-None-Match wins over If-Modified-Since',
    { method: 'GET', ifNoneMatch: '"b"', ifModifiedSince: d(T) },
    { etag: '"a"', lastModified: T },
    200,
  ],
  [
    'If-None-Match present, etag unknown: IMS waits',
    { method: 'GET', ifNoneMatch: '"b"', ifModifiedSince: d(T) },
    { lastModified: T },
    200,
  ],
  ['If-Modified-Since equal', { method: 'GET', ifModifiedSince: d(T) }, { lastModified: T }, 304],
  ['If-Modified-Since later', { method: 'GET', ifModifiedSince: d(T + 5000) }, { lastModified: T }, 304],
  ['If-Modified-Since older', { method: 'GET', ifModifiedSince: d(T - 1000) }, { lastModified: T }, 200],
  ['If-Modified-Since on POST ignored', { method: 'POST', ifModifiedSince: d(T) }, { lastModified: T }, 200],
  ['If-Modified-Since garbage ignored', { method: 'GET', ifModifiedSince: 'yesterday' }, { lastModified: T }, 200],
  ['malformed If-None-Match ignored', { method: 'GET', ifNoneMatch: 'a, "b' }, { etag: '"a"' }, 200],
  [
    'over-long If-None-Match list ignored',
    { method: 'GET', ifNoneMatch: Array.from({ length: MAX_ETAG_LIST + 1 }, (_, i) => `"${i}"`).join(',') },
    { etag: '"1"' },
    200,
  ],
];

for (const [name, req, validators, expected] of cases) {
  test(`evaluatePreconditions: ${name} → ${expected}`, () => {
    assert.equal(evaluatePreconditions(req, validators), expected);
  });
}

test('parseETag reads strong and weak tags and refuses malformed ones', () => {
  assert.deepEqual(parseETag('"abc"'), { weak: false, opaque: '"abc"' });
  assert.deepEqual(parseETag(' W/"abc" '), { weak: true, opaque: '"abc"' });
  assert.equal(parseETag('abc'), null);
  assert.equal(parseETag('"a"b"'), null);
});

test('parseETagList handles *, lists, and blank entries', () => {
  assert.equal(parseETagList(' * '), '*');
  assert.equal((parseETagList('"a", , W/"b"') as unknown[]).length, 2);
  assert.equal(parseETagList(''), null);
});

test('formatETag quotes bare tags and keeps quoted or weak ones', () => {
  assert.equal(formatETag('v1'), '"v1"');
  assert.equal(formatETag('"v1"'), '"v1"');
  assert.equal(formatETag('W/"v1"'), 'W/"v1"');
  assert.equal(formatETag('v1', true), 'W/"v1"');
});

test('parseHttpDate accepts the three HTTP date forms and refuses others', () => {
  assert.equal(parseHttpDate('Thu, 01 Jan 2026 00:00:00 GMT'), T);
  assert.equal(parseHttpDate('Thursday, 01-Jan-26 00:00:00 GMT'), T);
  assert.equal(parseHttpDate('Thu Jan  1 00:00:00 2026'), Date.parse('Thu Jan  1 00:00:00 2026'));
  assert.equal(parseHttpDate('2026-01-01'), null);
  assert.equal(parseHttpDate('garbage'), null);
});
