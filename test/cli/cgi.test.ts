// `trellis cgi` as a web server runs it: environment and stdin in, a CGI response out; and
// `trellis cgi --relay` handing the request to Trellis's own SCGI and FastCGI listeners.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listenFastCgi } from '../../src/channels/fastcgi/server.js';
import type { Listener } from '../../src/channels/listen.js';
import { listenScgi } from '../../src/channels/scgi/server.js';
import { gatewaySite } from '../helpers/gateway-site.js';
import { runTrellis, tempDir } from '../helpers/server.js';

const SITE = ['--class', 'test/fixtures/cgi-site.ts#Root'];
const ENV = {
  REQUEST_METHOD: 'GET',
  SERVER_PROTOCOL: 'HTTP/1.1',
  SERVER_NAME: '127.0.0.1',
  SERVER_PORT: '8080',
  HTTP_HOST: 'public.example:8080',
  REMOTE_ADDR: '10.0.0.7',
  GATEWAY_INTERFACE: 'CGI/1.1',
};

function parse(stdout: string): { status: number; headers: Map<string, string>; body: string } {
  const end = stdout.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no header block in ${JSON.stringify(stdout.slice(0, 200))}`);
  const lines = stdout.slice(0, end).split('\r\n');
  const headers = new Map(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status: Number(headers.get('status')!.split(' ')[0]), headers, body: stdout.slice(end + 4) };
}

describe('trellis cgi', () => {
  it('answers a GET for a mounted site with a Status line and the public URL', async () => {
    const r = await runTrellis(['cgi', ...SITE], {
      env: { ...ENV, SCRIPT_NAME: '/app', PATH_INFO: '/info', QUERY_STRING: 'x=1', REQUEST_URI: '/app/info?x=1' },
    });
    assert.equal(r.code, 0, r.stderr);
    const res = parse(r.stdout);
    assert.equal(res.status, 200);
    const info = JSON.parse(res.body);
    assert.equal(info.prePathURL, 'http://public.example:8080/app/info');
    assert.deepEqual(info.prepath, ['app', 'info']);
    assert.equal(info.arg, '1');
    assert.equal(info.client, '10.0.0.7');
    assert.equal(info.channel, 'cgi');
  });

  it('serves a static file through the File resource', async () => {
    const r = await runTrellis(['cgi', ...SITE], { env: { ...ENV, SCRIPT_NAME: '/app', PATH_INFO: '/static.txt' } });
    const res = parse(r.stdout);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'static file through CGI and AJP\n');
    assert.match(res.headers.get('content-type')!, /^text\/plain/);
  });

  it('reads a 1 MiB POST body from stdin', async () => {
    const body = 'p'.repeat(1024 * 1024);
    const r = await runTrellis(['cgi', ...SITE], {
      env: {
        ...ENV,
        REQUEST_METHOD: 'POST',
        SCRIPT_NAME: '',
        PATH_INFO: '/upload',
        CONTENT_LENGTH: String(body.length),
        CONTENT_TYPE: 'application/octet-stream',
      },
      input: body,
    });
    assert.equal(parse(r.stdout).body, `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
  });

  it('redirects to the public URL under the mount', async () => {
    const r = await runTrellis(['cgi', ...SITE], {
      env: { ...ENV, SCRIPT_NAME: '/app', PATH_INFO: '/go', HTTPS: 'on', HTTP_HOST: 'secure.example' },
    });
    const res = parse(r.stdout);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), 'https://secure.example/app/info');
  });

  it('--mount re-splits the path when SCRIPT_NAME is the whole path', async () => {
    const r = await runTrellis(['cgi', ...SITE, '--mount', '/app'], {
      env: { ...ENV, SCRIPT_NAME: '/app/info', REQUEST_URI: '/app/info' },
    });
    assert.deepEqual(JSON.parse(parse(r.stdout).body).postpath, []);
    assert.equal(JSON.parse(parse(r.stdout).body).prePathURL, 'http://public.example:8080/app/info');
  });

  it('answers 400 for CR/LF in the environment', async () => {
    const r = await runTrellis(['cgi', ...SITE], { env: { ...ENV, PATH_INFO: '/info\r\nX: y' } });
    assert.equal(parse(r.stdout).status, 400);
  });

  const errors: Array<[string, string[], Record<string, string>, RegExp]> = [
    [
      'outside a web server (no REQUEST_METHOD)',
      [],
      { REQUEST_METHOD: '' },
      /no CGI request: REQUEST_METHOD is not set; run trellis cgi from a web server/,
    ],
    [
      '--logfile - (would corrupt the response)',
      ['--logfile', '-'],
      ENV,
      /--logfile - would mix the access log into the CGI response/,
    ],
    ['a bad --relay address', ['--relay', 'http:localhost'], ENV, /--relay needs scgi:ADDR or fastcgi:ADDR/],
    [
      '--relay with site options',
      ['--relay', 'scgi:unix:/x', '--class', 'x.ts'],
      ENV,
      /--relay loads no site and takes no other options/,
    ],
    ['an unknown option', ['--nope'], ENV, /unknown option --nope; run 'trellis cgi --help'/],
  ];
  for (const [name, args, env, message] of errors) {
    it(`refuses ${name} with one line and exit status 2`, async () => {
      const r = await runTrellis(['cgi', ...args], { env });
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.equal(r.stdout, '');
    });
  }

  it('--help lists --relay and the web options', async () => {
    const r = await runTrellis(['cgi', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--relay scgi:ADDR\|fastcgi:ADDR/);
    assert.match(r.stdout, /--class MODULE#export/);
  });
});

describe('trellis cgi --relay', () => {
  const dir = tempDir();
  let scgi: Listener;
  let fastcgi: Listener;
  let scgiUnix: Listener;
  before(async () => {
    scgi = await listenScgi(gatewaySite().site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
    fastcgi = await listenFastCgi(gatewaySite().site, { type: 'tcp', port: 0, interface: '127.0.0.1' });
    scgiUnix = await listenScgi(gatewaySite().site, { type: 'unix', path: join(dir.path, 'scgi.sock') });
  });
  after(async () => {
    await Promise.all([scgi.close(100), fastcgi.close(100), scgiUnix.close(100)]);
    dir.cleanup();
  });

  const targets = () => [
    ['scgi over TCP', `scgi:tcp:127.0.0.1:${scgi.port}`],
    ['fastcgi over TCP', `fastcgi:tcp:127.0.0.1:${fastcgi.port}`],
    ['scgi over a UNIX socket', `scgi:unix:${join(dir.path, 'scgi.sock')}`],
  ];
  for (const i of [0, 1, 2]) {
    it(`relays a GET and a 1 MiB POST (${['scgi over TCP', 'fastcgi over TCP', 'scgi over a UNIX socket'][i]})`, async () => {
      const [, target] = targets()[i]!;
      const get = await runTrellis(['cgi', '--relay', target!], {
        env: {
          ...ENV,
          SCRIPT_NAME: '/app',
          PATH_INFO: '/info',
          QUERY_STRING: 'x=2',
          REQUEST_URI: '/app/info?x=2',
          HTTP_PROXY: 'evil',
        },
      });
      assert.equal(get.code, 0, get.stderr);
      const res = parse(get.stdout);
      assert.equal(res.status, 200);
      const info = JSON.parse(res.body);
      assert.equal(info.prePathURL, 'http://public.example:8080/app/info');
      assert.equal(info.arg, '2');
      assert.equal(info.proxy, null, 'HTTP_PROXY is never relayed');
      const body = 'q'.repeat(1024 * 1024);
      const post = await runTrellis(['cgi', '--relay', target!], {
        env: {
          ...ENV,
          REQUEST_METHOD: 'POST',
          SCRIPT_NAME: '',
          PATH_INFO: '/upload',
          CONTENT_LENGTH: String(body.length),
        },
        input: body,
      });
      assert.equal(parse(post.stdout).body, `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
    });
  }

  it('relays a body of unknown length (chunked pass-through) over SCGI and FastCGI', async () => {
    for (const target of [`scgi:tcp:127.0.0.1:${scgi.port}`, `fastcgi:tcp:127.0.0.1:${fastcgi.port}`]) {
      const r = await runTrellis(['cgi', '--relay', target], {
        env: { ...ENV, REQUEST_METHOD: 'POST', PATH_INFO: '/upload', HTTP_TRANSFER_ENCODING: 'chunked' },
        input: 'abc',
      });
      assert.equal(parse(r.stdout).body, `3 ${createHash('sha256').update('abc').digest('hex')}`, target);
    }
  });

  it('answers 502 and logs to stderr when nothing listens', async () => {
    const r = await runTrellis(['cgi', '--relay', `scgi:unix:${join(dir.path, 'nothing.sock')}`], {
      env: { ...ENV, PATH_INFO: '/info' },
    });
    assert.equal(parse(r.stdout).status, 502);
    assert.match(r.stderr, /cannot relay to scgi:unix:.*nothing\.sock/);
    assert.equal(r.code, 1);
  });
});
