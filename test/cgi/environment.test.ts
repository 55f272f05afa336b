// cgiEnvironment: a script's environment built from scratch (RFC 3875 §4, SECURITY.md §2.3–§2.5).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cgiEnvironment, cgiMetaVariables, type CgiScriptFacts } from '../../src/cgi/environment.js';
import { HttpError } from '../../src/errors.js';
import { variableForHeader } from '../../src/http/cgi-variables.js';
import { dummyRequest, type DummyOptions } from '../helpers/dummy.js';

const SCRIPT: CgiScriptFacts = {
  filename: '/srv/www/cgi/env.cgi',
  documentRoot: '/srv/www',
  pathTranslated: null,
  contentLength: null,
};

function envFor(
  options: DummyOptions,
  prepath: string[],
  postpath: string[],
  extra: Parameters<typeof cgiEnvironment>[2] = {},
) {
  const { request } = dummyRequest(options);
  request.prepath = prepath;
  request.postpath = postpath;
  return cgiEnvironment(request, SCRIPT, extra);
}

describe('cgiEnvironment', () => {
  it('cgiEnvironment sets the RFC 3875 meta-variables from the request', () => {
    const env = envFor(
      { uri: '/cgi/env.cgi/a%20b/c?x=1&y', headers: { Host: 'www.example.org:8080' } },
      ['cgi', 'env.cgi'],
      ['a b', 'c'],
    );
    assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
    assert.equal(env.REQUEST_METHOD, 'GET');
    assert.equal(env.SCRIPT_NAME, '/cgi/env.cgi');
    assert.equal(env.PATH_INFO, '/a b/c');
    assert.equal(env.QUERY_STRING, 'x=1&y');
    assert.equal(env.REQUEST_URI, '/cgi/env.cgi/a%20b/c?x=1&y');
    assert.equal(env.SERVER_NAME, 'www.example.org');
    assert.equal(env.SERVER_PORT, '8080');
    assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.equal(env.REMOTE_ADDR, '192.0.2.1');
    assert.equal(env.SCRIPT_FILENAME, '/srv/www/cgi/env.cgi');
    assert.equal(env.DOCUMENT_ROOT, '/srv/www');
    assert.equal(env.HTTP_HOST, 'www.example.org:8080');
    assert.equal(env.HTTPS, undefined);
  });

  it('cgiEnvironment leaves PATH_INFO unset without extra path, and QUERY_STRING empty without a query', () => {
    const env = envFor({ uri: '/env.cgi' }, ['env.cgi'], []);
    assert.equal(env.PATH_INFO, undefined);
    assert.equal(env.QUERY_STRING, '');
    assert.equal(env.REQUEST_URI, '/env.cgi');
  });

  it('cgiEnvironment describes the public URL a trusted front end established (host, scheme, prefix)', () => {
    const { request } = dummyRequest({ uri: '/env.cgi/x?q=1', headers: { Host: 'internal:8080' } });
    // What --trust-proxy does for X-Forwarded-Host/-Proto/-Prefix: setHost and the prefix on prepath.
    request.setHost('public.example', 443, true);
    request.prepath = ['app', 'env.cgi'];
    request.postpath = ['x'];
    const env = cgiEnvironment(request, SCRIPT);
    assert.deepEqual(
      [
        env.SERVER_NAME,
        env.SERVER_PORT,
        env.HTTPS,
        env.REQUEST_SCHEME,
        env.SCRIPT_NAME,
        env.REQUEST_URI,
        env.HTTP_HOST,
      ],
      ['public.example', '443', 'on', 'https', '/app/env.cgi', '/app/env.cgi/x?q=1', 'public.example'],
    );
  });

  it('cgiEnvironment never sets HTTP_PROXY (httpoxy), whatever the request or options say', () => {
    const env = envFor({ headers: { Proxy: 'http://evil:3128' } }, ['e'], [], {
      env: { HTTP_PROXY: 'x' },
      passEnv: ['HTTP_PROXY'],
      serverEnv: { HTTP_PROXY: 'y' },
    });
    assert.equal(env.HTTP_PROXY, undefined);
    assert.equal(
      Object.keys(env).some((k) => /proxy/i.test(k)),
      false,
    );
  });

  it('cgiEnvironment drops header names with `_` or other characters, Content-*, Transfer-Encoding', () => {
    const env = envFor(
      {
        headers: [
          ['X_Forwarded_For', 'spoof'],
          ['X-Forwarded-For', 'real'],
          ['Content-Length', '3'],
          ['Transfer-Encoding', 'chunked'],
          ['X.Y', 'z'],
        ],
        body: 'abc',
      },
      ['e'],
      [],
    );
    assert.equal(env.HTTP_X_FORWARDED_FOR, 'real');
    assert.equal(env.HTTP_CONTENT_LENGTH, undefined);
    assert.equal(env.HTTP_TRANSFER_ENCODING, undefined);
    assert.equal(
      Object.keys(env)
        .filter((k) => k.startsWith('HTTP_'))
        .join(),
      'HTTP_X_FORWARDED_FOR',
    );
    assert.equal(variableForHeader('Accept-Language'), 'HTTP_ACCEPT_LANGUAGE');
    assert.equal(variableForHeader('Proxy'), null);
  });

  it('cgiEnvironment joins duplicate headers with ", " and cookies with "; "', () => {
    const env = envFor(
      {
        headers: [
          ['Accept', 'a'],
          ['Accept', 'b'],
          ['Cookie', 'x=1'],
          ['Cookie', 'y=2'],
        ],
      },
      ['e'],
      [],
    );
    assert.equal(env.HTTP_ACCEPT, 'a, b');
    assert.equal(env.HTTP_COOKIE, 'x=1; y=2');
  });

  it("cgiEnvironment leaks nothing of the server's environment but PATH and passEnv", () => {
    const serverEnv = { SECRET_TOKEN: 's3cret', LANG: 'C.UTF-8', PATH: '/opt/evil/bin:/usr/bin', HOME: '/root' };
    const env = envFor({}, ['e'], [], { serverEnv, passEnv: ['LANG'] });
    assert.equal(env.SECRET_TOKEN, undefined);
    assert.equal(env.HOME, undefined);
    assert.equal(env.LANG, 'C.UTF-8');
    assert.equal(env.PATH, '/usr/bin:/bin');
    assert.equal(envFor({}, ['e'], [], { path: '/usr/local/bin:/usr/bin' }).PATH, '/usr/local/bin:/usr/bin');
  });

  it('cgiEnvironment refuses PATH_INFO that could climb or forge: %2F, backslash, dot-segments, controls', () => {
    for (const bad of [['..', 'etc'], ['../../etc/passwd'], ['a\\..\\b'], ['a\nb'], ['a\0b'], ['.']]) {
      assert.throws(
        () => envFor({}, ['e'], bad),
        (err: unknown) => err instanceof HttpError && err.status === 400,
        `PATH_INFO ${JSON.stringify(bad)}`,
      );
    }
    assert.throws(
      () => envFor({}, ['e\r\nX: y'], []),
      (err: unknown) => err instanceof HttpError && err.status === 400,
    );
  });

  it('cgiEnvironment sets CONTENT_LENGTH and CONTENT_TYPE for a body, and HTTPS over TLS', () => {
    const { request } = dummyRequest({
      method: 'POST',
      body: 'a=1',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      secure: true,
    });
    request.prepath = ['e'];
    request.postpath = [];
    const env = cgiEnvironment(request, { ...SCRIPT, contentLength: 3 });
    assert.deepEqual(
      [env.CONTENT_LENGTH, env.CONTENT_TYPE, env.HTTPS, env.REQUEST_METHOD],
      ['3', 'application/x-www-form-urlencoded', 'on', 'POST'],
    );
  });

  it('cgiMetaVariables, the FastCGI PARAMS too, are the environment without PATH and passEnv', () => {
    const { request } = dummyRequest({
      uri: '/e/x?q=1',
      headers: { Host: 'h.example', Proxy: 'http://evil', 'X-A': '1' },
    });
    request.prepath = ['e'];
    request.postpath = ['x'];
    const meta = cgiMetaVariables(request, SCRIPT);
    const env = cgiEnvironment(request, SCRIPT, { passEnv: ['HOME'], serverEnv: { HOME: '/root' } });
    assert.deepEqual({ ...meta, PATH: env.PATH, HOME: env.HOME }, { ...env });
    assert.equal(meta.PATH, undefined);
    assert.equal(meta.HTTP_PROXY, undefined);
    assert.deepEqual([meta.SCRIPT_NAME, meta.PATH_INFO, meta.HTTP_X_A], ['/e', '/x', '1']);
    request.postpath = ['..'];
    assert.throws(() => cgiMetaVariables(request, SCRIPT), HttpError);
  });
});
