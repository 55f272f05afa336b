// One hostile framing corpus run against both HTTP/1 parsers: the server's request head parser and
// the proxies' backend response parser must refuse the same field sections and frame the rest alike.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { parseRequestHead } from '../../src/channels/http1/request-head.js';
import { ResponseParser, type ResponseHead } from '../../src/proxy/response-parser.js';

/** How a message is framed when accepted: its body length (or chunked) and whether the connection persists. */
interface Framed {
  chunked: boolean;
  contentLength: number | null;
  keepAlive: boolean;
}

interface Case {
  name: string;
  /** HTTP/1.x minor version of the start line. */
  minor?: 0 | 1;
  /** The field lines after the start line (and, for requests, Host), each ending in CRLF. */
  fields: string;
  /** null: refused by both. */
  expect: Framed | null;
}

const CASES: Case[] = [
  {
    name: 'one Content-Length',
    fields: 'Content-Length: 3\r\n',
    expect: { chunked: false, contentLength: 3, keepAlive: true },
  },
  {
    name: 'leading zeros in a Content-Length',
    fields: 'content-length: 007\r\n',
    expect: { chunked: false, contentLength: 7, keepAlive: true },
  },
  {
    name: 'chunked, any case, OWS around',
    fields: 'Transfer-Encoding:  ChUnKeD \t\r\n',
    expect: { chunked: true, contentLength: null, keepAlive: true },
  },
  {
    name: 'Connection: close among other tokens',
    fields: 'Content-Length: 0\r\nConnection: x-a, CLOSE ,\r\n',
    expect: { chunked: false, contentLength: 0, keepAlive: false },
  },
  {
    name: 'HTTP/1.0 with keep-alive',
    minor: 0,
    fields: 'Content-Length: 0\r\nConnection: Keep-Alive\r\n',
    expect: { chunked: false, contentLength: 0, keepAlive: true },
  },
  {
    name: 'HTTP/1.0 without keep-alive',
    minor: 0,
    fields: 'Content-Length: 0\r\n',
    expect: { chunked: false, contentLength: 0, keepAlive: false },
  },
  {
    name: 'keep-alive then close in a second field',
    minor: 0,
    fields: 'Content-Length: 0\r\nConnection: keep-alive\r\nConnection: close\r\n',
    expect: { chunked: false, contentLength: 0, keepAlive: false },
  },
  { name: 'two equal Content-Length fields', fields: 'Content-Length: 3\r\nContent-Length: 3\r\n', expect: null },
  { name: 'a Content-Length list', fields: 'Content-Length: 3, 3\r\n', expect: null },
  { name: 'a signed Content-Length', fields: 'Content-Length: +3\r\n', expect: null },
  { name: 'a negative Content-Length', fields: 'Content-Length: -1\r\n', expect: null },
  { name: 'a hex Content-Length', fields: 'Content-Length: 0x10\r\n', expect: null },
  { name: 'an empty Content-Length', fields: 'Content-Length:\r\n', expect: null },
  { name: 'a 16-digit Content-Length', fields: 'Content-Length: 1000000000000000\r\n', expect: null },
  { name: 'a space inside a Content-Length', fields: 'Content-Length: 1 2\r\n', expect: null },
  {
    name: 'Transfer-Encoding and Content-Length',
    fields: 'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n',
    expect: null,
  },
  {
    name: 'Content-Length and Transfer-Encoding',
    fields: 'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n',
    expect: null,
  },
  { name: 'Transfer-Encoding on HTTP/1.0', minor: 0, fields: 'Transfer-Encoding: chunked\r\n', expect: null },
  { name: 'a coding list ending in chunked', fields: 'Transfer-Encoding: gzip, chunked\r\n', expect: null },
  { name: 'chunked twice in one field', fields: 'Transfer-Encoding: chunked, chunked\r\n', expect: null },
  { name: 'two chunked fields', fields: 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', expect: null },
  { name: 'an unknown coding', fields: 'Transfer-Encoding: identity\r\n', expect: null },
  { name: 'a near-miss chunked', fields: 'Transfer-Encoding: chunked-x\r\n', expect: null },
  { name: 'whitespace before the colon', fields: 'Transfer-Encoding : chunked\r\n', expect: null },
  { name: 'a tab before the colon', fields: 'Content-Length\t: 3\r\n', expect: null },
  { name: 'obs-fold continuing Transfer-Encoding', fields: 'Transfer-Encoding: gzip\r\n chunked\r\n', expect: null },
  { name: 'obs-fold continuing another field', fields: 'X-A: 1\r\n\t2\r\nContent-Length: 0\r\n', expect: null },
  { name: 'a bare LF ending a field', fields: 'X-A: 1\nContent-Length: 0\r\n', expect: null },
  { name: 'a bare CR inside a value', fields: 'X-A: 1\r2\r\nContent-Length: 0\r\n', expect: null },
  { name: 'a NUL inside a value', fields: 'X-A: 1\x002\r\nContent-Length: 0\r\n', expect: null },
  { name: 'a DEL inside a value', fields: 'X-A: 1\x7f\r\nContent-Length: 0\r\n', expect: null },
  { name: 'a vertical tab inside Content-Length', fields: 'Content-Length: 3\x0b\r\n', expect: null },
  { name: 'an empty field name', fields: ': x\r\nContent-Length: 0\r\n', expect: null },
  { name: 'a field name with a slash', fields: 'X/A: 1\r\nContent-Length: 0\r\n', expect: null },
  { name: 'a field name with obs-text', fields: 'X-\xe9: 1\r\nContent-Length: 0\r\n', expect: null },
  { name: 'a line without a colon', fields: 'Content-Length 3\r\n', expect: null },
  {
    name: 'obs-text in a value (kept)',
    fields: 'X-A: caf\xe9\r\nContent-Length: 0\r\n',
    expect: { chunked: false, contentLength: 0, keepAlive: true },
  },
];

type Outcome = Framed | 'refused';

function asRequest(c: Case): Outcome {
  const minor = c.minor ?? 1;
  const text = `POST / HTTP/1.${minor}\r\nHost: a\r\n${c.fields}\r\n`;
  const bytes = Buffer.from(text, 'latin1');
  const r = parseRequestHead(bytes, 0, bytes.length, {
    maxUriLength: 8192,
    maxHeaderBytes: 16384,
    maxHeaderCount: 100,
  });
  assert.notEqual(r.kind, 'partial', 'the request head is complete');
  if (r.kind !== 'head') return 'refused';
  return { chunked: r.head.chunked, contentLength: r.head.contentLength, keepAlive: r.head.keepAlive };
}

function asResponse(c: Case): Outcome {
  const minor = c.minor ?? 1;
  let head: ResponseHead | null = null;
  let error: string | null = null;
  const parser = new ResponseParser({
    onHead: (h) => (head = h),
    onBody: () => {},
    onEnd: () => {},
    onUpgrade: () => {},
    onError: (reason) => (error = reason),
  });
  parser.expect({ head: false, upgrade: false });
  parser.push(Buffer.from(`HTTP/1.${minor} 200 OK\r\n${c.fields}\r\n`, 'latin1'));
  if (error !== null) return 'refused';
  const h = head as ResponseHead | null;
  assert.ok(h, 'a head was reported');
  return { chunked: h.chunked, contentLength: h.contentLength, keepAlive: h.keepAlive };
}

describe('one framing corpus, both HTTP/1 parsers', () => {
  for (const c of CASES) {
    test(`${c.name}: ${c.expect ? 'framed alike' : 'refused'} by the request head parser and the response parser`, () => {
      const expected: Outcome = c.expect ?? 'refused';
      assert.deepEqual(asRequest(c), expected, 'request head parser');
      assert.deepEqual(asResponse(c), expected, 'response parser');
    });
  }
});
