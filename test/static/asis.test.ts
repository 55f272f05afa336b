import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAsis } from '../../src/static/asis.js';

const CASES: Array<
  [string, string, { code: number; reason: string | null; headers: Array<[string, string]>; body: string } | null]
> = [
  [
    'status line',
    'HTTP/1.1 301 Moved\nLocation: /x\n\n',
    { code: 301, reason: 'Moved', headers: [['Location', '/x']], body: '' },
  ],
  [
    'Status header',
    'Status: 410 Gone\nContent-Type: text/plain\n\nbye',
    { code: 410, reason: 'Gone', headers: [['Content-Type', 'text/plain']], body: 'bye' },
  ],
  [
    'no status',
    'Content-Type: text/plain\r\n\r\nhi\r\n\r\nmore',
    { code: 200, reason: null, headers: [['Content-Type', 'text/plain']], body: 'hi\r\n\r\nmore' },
  ],
  ['header without colon', 'no colon here\n\nbody', null],
  ['no blank line', 'Content-Type: text/plain\n', null],
  ['bad Status', 'Status: soon\n\n', null],
];
for (const [name, text, expected] of CASES) {
  test(`parseAsis: ${name}`, () => {
    const parsed = parseAsis(Buffer.from(text));
    if (expected === null) return assert.equal(parsed, null);
    assert.ok(parsed);
    assert.deepEqual({ ...parsed, body: parsed.body.toString() }, expected);
  });
}
