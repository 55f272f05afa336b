import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { fieldPairs } from '../../src/http/headers.js';
import {
  LAST_CHUNK,
  cgiStatusLine,
  fieldSet,
  statusLine,
  writeChunk,
  writeHead,
  writeHeadPairs,
  writeRequestHead,
  writeResponseHead,
} from '../../src/http/head-writer.js';
import { ChunkedDecoder } from '../../src/http/chunked.js';

const FRAMING = fieldSet(['connection', 'keep-alive', 'transfer-encoding']);

test('statusLine and cgiStatusLine: code and reason, every byte but SP, HTAB and VCHAR made a space', () => {
  const table: Array<[number, string, string, string]> = [
    [200, 'OK', 'HTTP/1.1 200 OK\r\n', 'Status: 200 OK\r\n'],
    [404, 'Not\r\nFound', 'HTTP/1.1 404 Not  Found\r\n', 'Status: 404 Not  Found\r\n'],
    [502, 'Bad\x00Gate\tway', 'HTTP/1.1 502 Bad Gate\tway\r\n', 'Status: 502 Bad Gate\tway\r\n'],
    [299, 'caf\u00e9 \u2603', 'HTTP/1.1 299 caf   \r\n', 'Status: 299 caf   \r\n'],
    [204, '', 'HTTP/1.1 204 \r\n', 'Status: 204 \r\n'],
  ];
  for (const [code, reason, http, cgi] of table) {
    assert.equal(statusLine(code, reason), http, JSON.stringify(reason));
    assert.equal(cgiStatusLine(code, reason), cgi, JSON.stringify(reason));
  }
});

test('writeHead: fields in order, those in drop left out whatever their case, extra lines, blank line', () => {
  const table: Array<[string[], typeof FRAMING | null, string, string]> = [
    [[], null, '', 'S\r\n\r\n'],
    [['A', '1', 'B', ''], null, '', 'S\r\nA: 1\r\nB: \r\n\r\n'],
    [['Connection', 'close', 'A', '1'], null, '', 'S\r\nConnection: close\r\nA: 1\r\n\r\n'],
    [['CONNECTION', 'close', 'A', '1', 'keep-alive', 't=1'], FRAMING, '', 'S\r\nA: 1\r\n\r\n'],
    [
      ['Transfer-Encoding', 'chunked', 'Content-Length', '5'],
      FRAMING,
      'X: y\r\n',
      'S\r\nContent-Length: 5\r\nX: y\r\n\r\n',
    ],
    // Same length as a dropped name, another name: kept.
    [['Connectio_', 'v', 'X-Keep-Alive-', 'w'], FRAMING, '', 'S\r\nConnectio_: v\r\nX-Keep-Alive-: w\r\n\r\n'],
    // A dangling name without a value is not written.
    [['A', '1', 'B'], null, '', 'S\r\nA: 1\r\n\r\n'],
  ];
  for (const [flat, drop, extra, expected] of table) {
    assert.equal(writeHead('S\r\n', flat, drop, extra), expected, JSON.stringify(flat));
    assert.equal(writeHeadPairs('S\r\n', fieldPairs(flat), drop, extra), expected, `pairs ${JSON.stringify(flat)}`);
  }
});

test('writeResponseHead: an HTTP/1.1 status line, the fields, extra lines; the reason cannot split the head', () => {
  assert.equal(
    writeResponseHead(404, 'Not Found', ['Content-Type', 'text/html'], null, 'Connection: close\r\n'),
    'HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n',
  );
  const head = writeResponseHead(200, 'OK\r\nSet-Cookie: a=b', ['Connection', 'x'], FRAMING);
  assert.equal(head, 'HTTP/1.1 200 OK  Set-Cookie: a=b\r\n\r\n');
  assert.equal(head.split('\r\n').length, 3);
});

test('writeRequestHead: request line, fields in order (none dropped), blank line', () => {
  assert.equal(
    writeRequestHead('GET', '/a?b=1', [
      ['Host', 'example.com'],
      ['Connection', 'keep-alive'],
    ]),
    'GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n',
  );
  assert.equal(writeRequestHead('OPTIONS', '*', []), 'OPTIONS * HTTP/1.1\r\n\r\n');
});

test('writeChunk: hex size, CRLF, bytes, CRLF; nothing for empty data; LAST_CHUNK ends the body', () => {
  const out = new PassThrough();
  const written: Buffer[] = [];
  out.on('data', (b: Buffer) => written.push(b));
  const table: Array<[number, string]> = [
    [1, '1'],
    [10, 'a'],
    [255, 'ff'],
    [4096, '1000'],
    [0, ''],
  ];
  let expected = '';
  for (const [size, hex] of table) {
    const data = Buffer.alloc(size, 'x');
    assert.equal(writeChunk(out, data), true);
    if (size) expected += `${hex}\r\n${'x'.repeat(size)}\r\n`;
  }
  out.write(LAST_CHUNK);
  expected += '0\r\n\r\n';
  const wire = Buffer.concat(written);
  assert.equal(wire.toString('latin1'), expected);
  // What the writer frames, the shared decoder reads back.
  const decoder = new ChunkedDecoder();
  const body: Buffer[] = [];
  assert.equal(
    decoder.push(wire, 0, (piece) => body.push(Buffer.from(piece))),
    wire.length,
  );
  assert.equal(decoder.done, true);
  assert.equal(Buffer.concat(body).length, 1 + 10 + 255 + 4096);
});

test('writeChunk: false once the stream asks for a drain', () => {
  const out = new PassThrough({ highWaterMark: 16 });
  assert.equal(writeChunk(out, Buffer.alloc(64)), false);
  assert.equal(writeChunk(out, Buffer.alloc(0)), false);
});
