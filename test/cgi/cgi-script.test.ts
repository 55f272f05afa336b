// CGIScript's behaviour around the script: local redirects, NPH, request bodies of unknown length,
// body limits, HEAD, a missing interpreter, and the same script over HTTP/1.1, HTTPS and HTTP/2.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CGIScript, FilteredScript } from '../../src/cgi/cgi-script.js';
import { File } from '../../src/static/file.js';
import { Site } from '../../src/site.js';
import { scriptFolder, serveLogged } from '../helpers/cgi.js';
import { channelMatrix } from '../helpers/matrix.js';
import { needPeer } from '../helpers/peers.js';
import { parseResponses, rawHttp } from '../helpers/raw-http.js';
import { makeCertificate } from '../helpers/tls.js';

const PERL = '#!/usr/bin/perl\n';
const SCRIPTS = {
  'echo.cgi': `${PERL}binmode STDIN; my $n = $ENV{CONTENT_LENGTH} // 0; my $b = ''; read(STDIN, $b, $n) if $n;
print "Status: 201 Made Here\\nContent-Type: text/plain\\nX-Method: $ENV{REQUEST_METHOD}\\n\\n";
print "method=$ENV{REQUEST_METHOD} length=" . ($ENV{CONTENT_LENGTH} // 'none') . " query=$ENV{QUERY_STRING} cookie=" . ($ENV{HTTP_COOKIE} // '') . " body=$b\\n";\n`,
  'jump.cgi': `${PERL}print "Location: /echo.cgi?from=jump\\n\\n";\n`,
  'nph-raw.cgi': `${PERL}$| = 1; print "HTTP/1.1 202 Taken\\r\\nContent-Type: text/plain\\r\\n\\r\\nnph body\\n";\n`,
};

describe('CGIScript', () => {
  const dir = scriptFolder([], SCRIPTS);
  let server: Awaited<ReturnType<typeof serveLogged>>;
  before(async () => {
    const root = new File(dir.path, {
      processors: {
        '.cgi': (path, { root: docRoot }) => new CGIScript(path, { documentRoot: docRoot, maxBodySize: 1000 }),
      },
    });
    root.putChild('broken', new FilteredScript(`${dir.path}/echo.cgi`, { filter: '/nonexistent/interpreter' }));
    server = await serveLogged(root);
  });
  after(async () => {
    await server.close();
    dir.cleanup();
  });

  it('passes the script status and reason, and its fields', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const text = await rawHttp(server.port!, 'GET /echo.cgi?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [res] = parseResponses(text);
    assert.equal(res!.status, 201);
    assert.match(text, /^HTTP\/1\.1 201 Made Here\r\n/);
    assert.match(res!.body.toString(), /^method=GET length=none query=a=1 /);
  });

  it('a local redirect is a GET from the top: query kept, body not sent again, cookies kept', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const res = await fetch(`${server.base}/jump.cgi`, {
      method: 'POST',
      body: 'x=1',
      headers: { Cookie: 'a=b' },
      redirect: 'manual',
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-method'), 'GET');
    assert.equal(await res.text(), 'method=GET length=none query=from=jump cookie=a=b body=\n');
  });

  it('an NPH script gives its own status line', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const res = await fetch(`${server.base}/nph-raw.cgi`);
    assert.equal(res.status, 202);
    assert.equal(await res.text(), 'nph body\n');
  });

  it('a chunked body is read first so CONTENT_LENGTH is right; past maxBodySize 413', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const chunked =
      'POST /echo.cgi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';
    const [res] = parseResponses(await rawHttp(server.port!, chunked));
    assert.match(res!.body.toString(), /length=5 .* body=abcde/);
    const big = await fetch(`${server.base}/echo.cgi`, { method: 'POST', body: 'x'.repeat(1001) });
    assert.equal(big.status, 413);
    const bigChunk = `POST /echo.cgi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3e9\r\n${'y'.repeat(1001)}\r\n0\r\n\r\n`;
    assert.equal(parseResponses(await rawHttp(server.port!, bigChunk))[0]!.status, 413);
  });

  it('HEAD runs the script and sends its head without a body', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const res = await fetch(`${server.base}/echo.cgi`, { method: 'HEAD' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-method'), 'HEAD');
    assert.equal(await res.text(), '');
  });

  it('an interpreter that cannot start is a 502 with a log line', async () => {
    const before = server.errors.length;
    const res = await fetch(`${server.base}/broken`);
    assert.equal(res.status, 502);
    assert.ok(
      server.errors
        .slice(before)
        .some((l) => l.includes('CgiError [SPAWN_FAILED]') && l.includes('/nonexistent/interpreter')),
    );
  });

  it('the same script answers alike over HTTP/1.1, HTTPS and HTTP/2', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const openssl = needPeer(t, 'openssl');
    if (!openssl) return;
    const root = new File(dir.path, { processors: { '.cgi': (path) => new CGIScript(path) } });
    const { clients, close } = await channelMatrix(new Site(root), makeCertificate(openssl, dir.path));
    try {
      for (const client of clients) {
        const res = await client.request('POST', '/echo.cgi?via=matrix', {
          body: 'hello',
          headers: { 'content-type': 'text/plain' },
        });
        assert.equal(res.status, 201, client.name);
        assert.equal(res.text, 'method=POST length=5 query=via=matrix cookie= body=hello\n', client.name);
      }
    } finally {
      await close();
    }
  });
});
