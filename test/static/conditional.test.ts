import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateIfRange } from '../../src/http/conditional.js';

const T = Date.parse('Thu, 01 Jan 2026 00:00:00 GMT');
const d = (ms: number) => new Date(ms).toUTCString();

/** If-Range value, validators, whether the Range may be honoured. */
export const IF_RANGE_CASES: Array<[string, string | undefined, { etag?: string; lastModified?: number }, boolean]> = [
  ['absent', undefined, { etag: '"a"', lastModified: T }, true],
  ['matching strong tag', '"a"', { etag: '"a"' }, true],
  ['other tag', '"b"', { etag: '"a"' }, false],
  ['weak tag never matches', 'W/"a"', { etag: '"a"' }, false],
  ['weak current tag never matches', '"a"', { etag: 'W/"a"' }, false],
  ['equal date', d(T), { lastModified: T }, true],
  ['older date', d(T - 1000), { lastModified: T }, false],
  ['newer date', d(T + 1000), { lastModified: T }, false],
  ['date without Last-Modified', d(T), { etag: '"a"' }, false],
  ['garbage', 'yesterday', { etag: '"a"', lastModified: T }, false],
  ['tag without current etag', '"a"', { lastModified: T }, false],
];

for (const [name, header, validators, expected] of IF_RANGE_CASES) {
  test(`evaluateIfRange: ${name}`, () => {
    assert.equal(evaluateIfRange(header, validators), expected);
  });
}
