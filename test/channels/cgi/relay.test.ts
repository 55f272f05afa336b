// The relay's pure parts: target strings, which variables leave the process, and the SCGI/FastCGI
// bytes it writes (checked against Trellis's own SCGI and FastCGI parsers).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fcgiRequestHead,
  fcgiResponseReader,
  parseRelayTarget,
  relayParams,
  scgiHead,
} from '../../../src/channels/cgi/relay.js';
import { encodeRecord } from '../../../src/channels/fastcgi/records.js';

describe('parseRelayTarget', () => {
  const ok: Array<[string, unknown]> = [
    ['scgi:unix:/run/app.sock', { protocol: 'scgi', address: { path: '/run/app.sock' } }],
    ['fastcgi:tcp:127.0.0.1:9000', { protocol: 'fastcgi', address: { host: '127.0.0.1', port: 9000 } }],
    ['scgi:tcp:[::1]:4000', { protocol: 'scgi', address: { host: '::1', port: 4000 } }],
    ['fastcgi:tcp:localhost:1', { protocol: 'fastcgi', address: { host: 'localhost', port: 1 } }],
  ];
  for (const [text, expected] of ok)
    it(`parseRelayTarget reads ${text}`, () => assert.deepEqual(parseRelayTarget(text), expected));
  for (const text of [
    'http:unix:/x',
    'scgi:/x',
    'scgi:tcp:host',
    'scgi:tcp:host:0',
    'scgi:tcp:host:70000',
    'fastcgi:unix:',
    'scgi',
  ]) {
    it(`parseRelayTarget refuses ${JSON.stringify(text)} with a usage message`, () => {
      assert.match(String(parseRelayTarget(text)), /^--relay needs scgi:ADDR or fastcgi:ADDR/);
    });
  }
});

describe('relayParams', () => {
  it('forwards CGI variables and HTTP_* only, CONTENT_LENGTH first, never HTTP_PROXY', () => {
    const params = relayParams(
      {
        PATH: '/usr/bin',
        HOME: '/root',
        SECRET_TOKEN: 'x',
        REQUEST_METHOD: 'GET',
        HTTP_HOST: 'h',
        HTTP_PROXY: 'evil',
        CONTENT_LENGTH: '99',
        SCRIPT_NAME: '/app',
        HTTP_bad: 'x',
        REQUEST_URI: '/app',
      },
      5,
    );
    assert.deepEqual(params[0], ['CONTENT_LENGTH', '5']);
    const names = params.map(([n]) => n).sort();
    assert.deepEqual(names, [
      'CONTENT_LENGTH',
      'HTTP_HOST',
      'REQUEST_METHOD',
      'REQUEST_URI',
      'SCRIPT_NAME',
      'TRELLIS_RELAY',
    ]);
  });
});

describe('relay wire formats', () => {
  it('scgiHead writes a netstring with CONTENT_LENGTH first and SCGI=1', () => {
    const head = scgiHead([
      ['CONTENT_LENGTH', '3'],
      ['REQUEST_METHOD', 'POST'],
    ]);
    const payload = 'CONTENT_LENGTH\u00003\u0000SCGI\u00001\u0000REQUEST_METHOD\u0000POST\u0000';
    assert.equal(head.toString('latin1'), `${payload.length}:${payload},`);
  });

  it('fcgiRequestHead starts a responder without keep-alive and ends PARAMS', () => {
    const head = fcgiRequestHead([['REQUEST_METHOD', 'GET']]);
    assert.deepEqual([...head.subarray(0, 16)], [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...head.subarray(-8)], [1, 4, 0, 1, 0, 0, 0, 0]);
  });

  it('fcgiResponseReader passes STDOUT and STDERR on and stops at END_REQUEST, across split chunks', () => {
    const out: string[] = [];
    const err: string[] = [];
    let status = -1;
    const end = Buffer.alloc(8);
    end.writeUInt32BE(3, 0);
    const bytes = Buffer.concat([
      encodeRecord(6, 1, Buffer.from('Status: 200 OK\r\n\r\nhi')),
      encodeRecord(7, 1, Buffer.from('warn')),
      encodeRecord(6, 1),
      encodeRecord(3, 1, end),
    ]);
    const read = fcgiResponseReader({
      stdout: (b) => out.push(b.toString()),
      stderr: (b) => err.push(b.toString()),
      end: (s) => (status = s),
      fail: assert.fail,
    });
    for (let i = 0; i < bytes.length; i += 3) read(bytes.subarray(i, i + 3));
    assert.equal(out.join(''), 'Status: 200 OK\r\n\r\nhi');
    assert.equal(err.join(''), 'warn');
    assert.equal(status, 3);
  });

  it('fcgiResponseReader fails on a record that is not FastCGI version 1', () => {
    let why = '';
    fcgiResponseReader({ stdout: () => {}, stderr: () => {}, end: () => {}, fail: (w) => (why = w) })(
      Buffer.from('HTTP/1.1 200 OK\r\n'),
    );
    assert.match(why, /not a FastCGI response \(unsupported FastCGI version 72\)/);
  });
});
