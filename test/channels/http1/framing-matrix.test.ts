// The framing matrix: request shapes that front ends and back ends have read differently (CL/TE
// combinations, duplicate or malformed lengths, transfer-coding variants, obs-fold, bare CR/LF, NUL,
// chunk-size tricks), each sent over a real socket with a smuggled request in its body and a canary
// after it, whole and a byte at a time. Each case is either refused with 400 and the connection
// closed (nothing after it answered), or read as exactly one request, after which the canary, and
// only the canary, is answered (SECURITY.md §3.1).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Request } from '../../../src/request.js';
import { Resource } from '../../../src/resource.js';
import { Site } from '../../../src/site.js';
import { parseResponses, RawConnection, type RawResponse } from '../../helpers/raw-http.js';
import { serveSite } from '../../helpers/server.js';

/** Answers `<method> <uri> <body length>`; a body cut short is answered 400. */
class Echo extends Resource {
  override isLeaf = true;
  override async render(request: Request) {
    try {
      return `${request.method} ${request.uri} ${(await request.readBody()).length}`;
    } catch {
      request.setResponseCode(400);
      return 'body cut short';
    }
  }
}

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
const CANARY = 'GET /canary HTTP/1.1\r\nHost: x\r\n\r\n';

/** A POST to /case with `fields` (each ending in CRLF) and `body`, in HTTP/1.`minor`. */
function post(fields: string, body: string, minor = 1): string {
  return `POST /case HTTP/1.${minor}\r\nHost: x\r\n${fields}\r\n${body}`;
}

/** The chunked body of `data`, as one chunk, then the smuggled request. */
const CHUNKED_THEN_SMUGGLED = `5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`;

/** [name, bytes, expected]: `refuse` (400, then close) or the body length the one request carries. */
const CASES: Array<[string, string, 'refuse' | number]> = [
  [
    'Content-Length with a smuggled request inside the body',
    post(`Content-Length: ${SMUGGLED.length}\r\n`, SMUGGLED),
    SMUGGLED.length,
  ],
  [
    'chunked with a smuggled request inside a chunk',
    post('Transfer-Encoding: chunked\r\n', `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    SMUGGLED.length,
  ],
  ['Content-Length 0 then bytes (a pipelined request)', post('Content-Length: 0\r\n', ''), 0],
  ['CL and TE', post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['TE and CL', post('Transfer-Encoding: chunked\r\nContent-Length: 4\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['two equal Content-Length', post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'), 'refuse'],
  ['two different Content-Length', post('Content-Length: 5\r\nContent-Length: 40\r\n', `hello${SMUGGLED}`), 'refuse'],
  ['Content-Length list', post('Content-Length: 5, 5\r\n', 'hello'), 'refuse'],
  ['Content-Length with a plus sign', post('Content-Length: +5\r\n', 'hello'), 'refuse'],
  ['Content-Length with a minus sign', post('Content-Length: -5\r\n', 'hello'), 'refuse'],
  ['Content-Length in hex', post('Content-Length: 0x5\r\n', 'hello'), 'refuse'],
  ['Content-Length with a space inside', post('Content-Length: 1 0\r\n', 'hello'), 'refuse'],
  ['Content-Length with a space before the colon', post('Content-Length : 5\r\n', 'hello'), 'refuse'],
  ['Content-Length empty', post('Content-Length:\r\n', 'hello'), 'refuse'],
  ['Content-Length with leading zeros', post('Content-Length: 005\r\n', 'hello'), 5],
  ['Content-Length with surrounding whitespace', post('Content-Length: \t5 \r\n', 'hello'), 5],
  ['Content-Length too large to be safe', post('Content-Length: 99999999999999999999\r\n', 'hello'), 'refuse'],
  ['TE chunked, chunked', post('Transfer-Encoding: chunked, chunked\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  [
    'TE in two fields',
    post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', CHUNKED_THEN_SMUGGLED),
    'refuse',
  ],
  ['TE with leading whitespace', post('Transfer-Encoding:  chunked\r\n', CHUNKED_THEN_SMUGGLED.slice(0, 15)), 5],
  ['TE in upper case', post('Transfer-Encoding: CHUNKED\r\n', CHUNKED_THEN_SMUGGLED.slice(0, 15)), 5],
  ['TE xchunked', post('Transfer-Encoding: xchunked\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['TE chunkedx', post('Transfer-Encoding: chunkedx\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['TE chunked;q=1', post('Transfer-Encoding: chunked;q=1\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['TE gzip, chunked', post('Transfer-Encoding: gzip, chunked\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['TE identity', post('Transfer-Encoding: identity\r\nContent-Length: 5\r\n', 'hello'), 'refuse'],
  ['TE with a vertical tab', post('Transfer-Encoding: \x0bchunked\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['TE with a space before the colon', post('Transfer-Encoding : chunked\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['TE folded onto a second line', post('Transfer-Encoding:\r\n chunked\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['a folded line after TE', post('Transfer-Encoding: chunked\r\n  abc\r\n', CHUNKED_THEN_SMUGGLED), 'refuse'],
  ['TE on HTTP/1.0', post('Transfer-Encoding: chunked\r\n', CHUNKED_THEN_SMUGGLED, 0), 'refuse'],
  [
    'Transfer_Encoding (an ordinary field) with Content-Length',
    post('Transfer_Encoding: chunked\r\nContent-Length: 5\r\n', 'hello'),
    5,
  ],
  ['a bare LF ending a field line', post('X: 1\nContent-Length: 5\r\n', 'hello'), 'refuse'],
  ['a bare LF ending the head', `POST /case HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\nhello`, 'refuse'],
  ['a bare CR inside a field line', post('X: 1\rContent-Length: 5\r\n', 'hello'), 'refuse'],
  ['a bare CR ending the head', `POST /case HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\rhello`, 'refuse'],
  ['a NUL in a field value', post('X: a\x00b\r\nContent-Length: 5\r\n', 'hello'), 'refuse'],
  ['a NUL in a field name', post('X\x00Y: 1\r\nContent-Length: 5\r\n', 'hello'), 'refuse'],
  ['a NUL in the target', `POST /ca\x00se HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`, 'refuse'],
  ['two Host fields', post('Host: y\r\nContent-Length: 5\r\n', 'hello'), 'refuse'],
  [
    'a chunk size that overflows',
    post('Transfer-Encoding: chunked\r\n', `ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n${SMUGGLED}`),
    'refuse',
  ],
  ['a negative chunk size', post('Transfer-Encoding: chunked\r\n', `-5\r\nhello\r\n0\r\n\r\n`), 'refuse'],
  ['a chunk size in 0x form', post('Transfer-Encoding: chunked\r\n', `0x5\r\nhello\r\n0\r\n\r\n`), 'refuse'],
  ['whitespace after a chunk size', post('Transfer-Encoding: chunked\r\n', `5 \r\nhello\r\n0\r\n\r\n`), 'refuse'],
  ['an empty chunk extension', post('Transfer-Encoding: chunked\r\n', `5;\r\nhello\r\n0\r\n\r\n`), 'refuse'],
  [
    'an unterminated quoted chunk extension',
    post('Transfer-Encoding: chunked\r\n', `5;a="b\r\nhello\r\n0\r\n\r\n`),
    'refuse',
  ],
  ['a bare LF after a chunk size', post('Transfer-Encoding: chunked\r\n', `5\nhello\r\n0\r\n\r\n`), 'refuse'],
  ['chunk data longer than its size', post('Transfer-Encoding: chunked\r\n', `3\r\nhello\r\n0\r\n\r\n`), 'refuse'],
  [
    'a last chunk without its final CRLF, then a request',
    post('Transfer-Encoding: chunked\r\n', `5\r\nhello\r\n0\r\n${SMUGGLED}`),
    'refuse',
  ],
  ['a trailer line without a colon', post('Transfer-Encoding: chunked\r\n', `5\r\nhello\r\n0\r\nX\r\n\r\n`), 'refuse'],
  ['a folded trailer line', post('Transfer-Encoding: chunked\r\n', `5\r\nhello\r\n0\r\nX: 1\r\n 2\r\n\r\n`), 'refuse'],
  [
    'a chunked body with extension and trailer',
    post('Transfer-Encoding: chunked\r\n', `5;a=b;c="d"\r\nhello\r\n0\r\nX: 1\r\n\r\n`),
    5,
  ],
  ['a request line with two spaces', `POST  /case HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`, 'refuse'],
  ['a request line ending in a space', `POST /case HTTP/1.1 \r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`, 'refuse'],
  ['a version in lower case', `POST /case http/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`, 'refuse'],
];

/** Sends `bytes` whole or a byte at a time, half-closes, and returns the server's transcript. */
async function send(port: number, bytes: string, byByte: boolean): Promise<string> {
  const conn = await RawConnection.open(port);
  try {
    if (byByte) for (let i = 0; i < bytes.length; i++) await conn.write(bytes[i]!).catch(() => {});
    else await conn.write(bytes).catch(() => {});
    conn.end();
    return await conn.readUntilClose({ timeoutMs: 5000 });
  } finally {
    conn.destroy();
  }
}

function check(responses: RawResponse[], expected: 'refuse' | number): void {
  const shown = responses.map((r) => `${r.status} ${r.text.split('\n')[0]}`).join(' | ');
  assert.ok(!responses.some((r) => r.text.includes('/smuggled')), `a smuggled request was answered: ${shown}`);
  if (expected === 'refuse') {
    assert.equal(responses.length, 1, `only the refusal: ${shown}`);
    assert.equal(responses[0]!.status, 400, shown);
    assert.equal(responses[0]!.header('connection'), 'close');
    return;
  }
  assert.equal(responses.length, 2, `the request and the canary: ${shown}`);
  assert.equal(responses[0]!.text, `POST /case ${expected}`);
  assert.equal(responses[1]!.text, 'GET /canary 0');
}

describe('HTTP/1.1 framing matrix with a canary', () => {
  let port = 0;
  let close: () => Promise<void>;
  before(async () => {
    const server = await serveSite(new Site(new Echo(), { logError: () => {} }));
    port = server.port!;
    close = server.close;
  });
  after(() => close());

  for (const [name, bytes, expected] of CASES) {
    const outcome = expected === 'refuse' ? 'refused with 400 and closed' : 'one request, then the canary';
    test(`${name}: ${outcome}, whole and a byte at a time`, async () => {
      check(parseResponses(await send(port, bytes + CANARY, false)), expected);
      check(parseResponses(await send(port, bytes + CANARY, true)), expected);
    });
  }
});
