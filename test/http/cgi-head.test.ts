// parseCgiHead: the head a CGI script prints (RFC 3875 §6), with the limits of SECURITY.md §2.6.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CGI_HEAD_PARTIAL, isCgiHeadError, parseCgiHead, type CgiHead } from '../../src/http/cgi-head.js';

function head(text: string, options: { nph?: boolean } = {}): CgiHead {
  const parsed = parseCgiHead(Buffer.from(text, 'latin1'), options);
  assert.ok(parsed !== CGI_HEAD_PARTIAL && !isCgiHeadError(parsed), `expected a head, got ${JSON.stringify(parsed)}`);
  return parsed;
}

function error(text: string | Buffer, options: { nph?: boolean } = {}): string {
  const parsed = parseCgiHead(Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'), options);
  assert.ok(parsed !== CGI_HEAD_PARTIAL && isCgiHeadError(parsed), `expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.error;
}

describe('parseCgiHead', () => {
  it('parseCgiHead reads a document response with LF line ends and finds the body', () => {
    const h = head('Content-Type: text/plain\nX-A: 1\n\nbody');
    assert.deepEqual(
      [h.kind, h.status, h.fields, h.bodyStart],
      ['document', 200, ['Content-Type', 'text/plain', 'X-A', '1'], 33],
    );
  });

  it('parseCgiHead reads CRLF line ends', () => {
    const text = 'Content-Type: text/html\r\n\r\n<p>';
    assert.equal(head(text).bodyStart, text.indexOf('<p>'));
  });

  it('parseCgiHead takes Status as the status and reason, never as a field', () => {
    const h = head('Status: 404 Gone away\nContent-Type: text/plain\n\n');
    assert.deepEqual([h.status, h.reason, h.fields], [404, 'Gone away', ['Content-Type', 'text/plain']]);
  });

  it('parseCgiHead tells a local redirect from a client redirect', () => {
    assert.equal(head('Location: /next?a=1\n\n').kind, 'local-redirect');
    const client = head('Location: https://example.org/\n\n');
    assert.deepEqual([client.kind, client.status], ['client-redirect', 302]);
    const withStatus = head('Status: 301 Moved\nLocation: /moved\n\n');
    assert.deepEqual([withStatus.kind, withStatus.status], ['document', 301]);
    assert.equal(head('Status: 303\nLocation: http://x/\n\n').status, 303);
    assert.equal(head('Location: //evil.example/\n\n').kind, 'client-redirect');
  });

  it('parseCgiHead leaves out the fields the server decides: framing, Date, Server, hop-by-hop', () => {
    const h = head(
      'Content-Type: a/b\nContent-Length: 5\nDate: x\nServer: y\nConnection: close\nTransfer-Encoding: chunked\nSet-Cookie: a=1\n\n',
    );
    assert.deepEqual(h.fields, ['Content-Type', 'a/b', 'Set-Cookie', 'a=1']);
  });

  it('parseCgiHead waits for the blank line', () => {
    assert.equal(parseCgiHead(Buffer.from('Content-Type: text/plain\n')), CGI_HEAD_PARTIAL);
    assert.equal(parseCgiHead(Buffer.from('Content-Type: text/pl')), CGI_HEAD_PARTIAL);
  });

  it('parseCgiHead refuses malformed heads', () => {
    assert.match(error('garbage without colon\n\n'), /not a "Name: value" field/);
    assert.match(error('Bad Name: 1\n\n'), /invalid field name/);
    assert.match(error('X-A: a\x00b\n\n'), /control characters/);
    assert.match(error('X-A: a\rb\n\n'), /control characters/);
    assert.match(error('Status: 99\n\n'), /100 to 599/);
    assert.match(error('Status: 600 x\n\n'), /100 to 599/);
    assert.match(error('Status: abc\n\n'), /100 to 599/);
    assert.match(error('\n\nbody'), /no field/);
  });

  it('parseCgiHead refuses a head over 16 KiB or 100 lines', () => {
    assert.match(error(Buffer.alloc(16 * 1024, 'a')), /larger than 16384 bytes/);
    assert.match(error(`${'X-A: 1\n'.repeat(101)}\n`), /more than 100 lines/);
    assert.equal(head(`${'X-A: 1\n'.repeat(100)}\n`).fields.length, 200);
    // Past the limits the error says so (the FastCGI client answers RESPONSE_TOO_LARGE); malformed is not.
    const big = parseCgiHead(Buffer.alloc(16 * 1024, 'a'));
    assert.ok(isCgiHeadError(big) && big.tooLarge === true);
    const bad = parseCgiHead(Buffer.from('Bad Name: 1\n\n'));
    assert.ok(isCgiHeadError(bad) && bad.tooLarge === undefined);
  });

  it('parseCgiHead reads the status line of a non-parsed-header script', () => {
    const h = head('HTTP/1.1 207 Multi\r\nContent-Type: text/xml\r\n\r\n', { nph: true });
    assert.deepEqual([h.status, h.reason, h.fields], [207, 'Multi', ['Content-Type', 'text/xml']]);
    assert.match(error('Content-Type: text/xml\n\n', { nph: true }), /status line/);
  });
});
