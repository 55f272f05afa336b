// Table-driven tests of the CGI meta-variable mapping every gateway shares, with the variables each
// front end was observed to send (reference/gateways.md, "What each front end sends").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Data } from '../../src/data.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { Request, type ResponseSink } from '../../src/request.js';
import { fieldPairs } from '../../src/http/headers.js';
import {
  CgiVariables,
  isCgiRefusal,
  parseCgiParams,
  serveCgiParams,
  type CgiParams,
  type CgiRequestParts,
} from '../../src/channels/cgi-params.js';
import { headerNameFromVariable } from '../../src/http/cgi-variables.js';

const BASE = {
  REQUEST_METHOD: 'GET',
  SERVER_PROTOCOL: 'HTTP/1.1',
  HTTP_HOST: '127.0.0.1:8080',
  SERVER_NAME: '127.0.0.1',
  SERVER_PORT: '8080',
  QUERY_STRING: 'x=1',
};

function parts(params: CgiParams, mount?: string): CgiRequestParts {
  const result = parseCgiParams(params, mount === undefined ? {} : { mount });
  if (isCgiRefusal(result)) throw new Error(`refused: ${result.detail}`);
  return result;
}

describe('parseCgiParams mount point (SCRIPT_NAME / PATH_INFO / REQUEST_URI)', () => {
  const cases: Array<{
    name: string;
    params: Record<string, string>;
    mount?: string;
    uri: string;
    prepath: string[];
    postpath: string[];
  }> = [
    {
      name: 'nginx fastcgi: SCRIPT_NAME /app, PATH_INFO /sub/path, REQUEST_URI',
      params: {
        ...BASE,
        SCRIPT_NAME: '/app',
        PATH_INFO: '/sub/path',
        REQUEST_URI: '/app/sub/path?x=1',
        CONTENT_LENGTH: '',
        CONTENT_TYPE: '',
      },
      uri: '/app/sub/path?x=1',
      prepath: ['app'],
      postpath: ['sub', 'path'],
    },
    {
      name: 'bare mount with PATH_INFO "" (nginx) or absent (lighttpd, Apache)',
      params: { ...BASE, SCRIPT_NAME: '/app', PATH_INFO: '', REQUEST_URI: '/app' },
      uri: '/app',
      prepath: ['app'],
      postpath: [],
    },
    {
      name: 'mount with trailing slash request',
      params: { ...BASE, SCRIPT_NAME: '/app', PATH_INFO: '/', REQUEST_URI: '/app/' },
      uri: '/app/',
      prepath: ['app'],
      postpath: [''],
    },
    {
      name: 'root mount: SCRIPT_NAME "" (lighttpd fix-root-scriptname, nginx, Apache recipe)',
      params: { ...BASE, SCRIPT_NAME: '', PATH_INFO: '/sub/path', REQUEST_URI: '/sub/path?x=1' },
      uri: '/sub/path?x=1',
      prepath: [],
      postpath: ['sub', 'path'],
    },
    {
      name: 'root mount: SCRIPT_NAME omitted (HAProxy)',
      params: { ...BASE, PATH_INFO: '/sub/path', REQUEST_URI: '/sub/path?x=1' },
      uri: '/sub/path?x=1',
      prepath: [],
      postpath: ['sub', 'path'],
    },
    {
      name: 'root mount: SCRIPT_NAME "/"',
      params: { ...BASE, SCRIPT_NAME: '/', PATH_INFO: '/sub', REQUEST_URI: '/sub' },
      uri: '/sub',
      prepath: [],
      postpath: ['sub'],
    },
    {
      name: 'no REQUEST_URI (plain RFC 3875): uri rebuilt and re-encoded',
      params: { REQUEST_METHOD: 'GET', SCRIPT_NAME: '/app', PATH_INFO: '/a b/c', QUERY_STRING: 'q=%20&y' },
      uri: '/app/a%20b/c?q=%20&y',
      prepath: ['app'],
      postpath: ['a b', 'c'],
    },
    {
      name: 'no REQUEST_URI, no query',
      params: { REQUEST_METHOD: 'GET', SCRIPT_NAME: '/cgi-bin/app.cgi', PATH_INFO: '', QUERY_STRING: '' },
      uri: '/cgi-bin/app.cgi',
      prepath: ['cgi-bin', 'app.cgi'],
      postpath: [],
    },
    {
      name: 'REQUEST_URI keeps %2F inside a segment',
      params: { ...BASE, SCRIPT_NAME: '/app', PATH_INFO: '/a b/c/d', REQUEST_URI: '/app/a%20b/c%2Fd?q=%20&y' },
      uri: '/app/a%20b/c%2Fd?q=%20&y',
      prepath: ['app'],
      postpath: ['a b', 'c/d'],
    },
    {
      name: 'REQUEST_URI from before an internal rewrite: rebuilt from SCRIPT_NAME + PATH_INFO',
      params: { ...BASE, SCRIPT_NAME: '/app', PATH_INFO: '/real', QUERY_STRING: '', REQUEST_URI: '/pretty' },
      uri: '/app/real',
      prepath: ['app'],
      postpath: ['real'],
    },
    {
      name: 'Apache ProxyPass fcgi raw (SCRIPT_NAME = whole path) with mount /app',
      params: { ...BASE, SCRIPT_NAME: '/app/sub/path', REQUEST_URI: '/app/sub/path?x=1' },
      mount: '/app',
      uri: '/app/sub/path?x=1',
      prepath: ['app'],
      postpath: ['sub', 'path'],
    },
    {
      name: 'lighttpd at "/" without fix-root-scriptname (SCRIPT_NAME = whole path) with mount /',
      params: { ...BASE, SCRIPT_NAME: '/sub/path', REQUEST_URI: '/sub/path?x=1' },
      mount: '/',
      uri: '/sub/path?x=1',
      prepath: [],
      postpath: ['sub', 'path'],
    },
    {
      name: 'mount does not match on a partial segment (/apple is not under /app)',
      params: { ...BASE, SCRIPT_NAME: '/apple', REQUEST_URI: '/apple' },
      mount: '/app',
      uri: '/apple',
      prepath: [],
      postpath: ['apple'],
    },
    {
      name: 'mount with a trailing slash',
      params: { ...BASE, SCRIPT_NAME: '', PATH_INFO: '/app/x', REQUEST_URI: '/app/x' },
      mount: '/app/',
      uri: '/app/x',
      prepath: ['app'],
      postpath: ['x'],
    },
    {
      name: 'deep mount with encoded characters',
      params: { ...BASE, SCRIPT_NAME: '/my app/v1', PATH_INFO: '/x', REQUEST_URI: '/my%20app/v1/x' },
      uri: '/my%20app/v1/x',
      prepath: ['my app', 'v1'],
      postpath: ['x'],
    },
  ];
  for (const c of cases) {
    it(`parseCgiParams: ${c.name}`, () => {
      const p = parts(c.params, c.mount);
      assert.equal(p.uri, c.uri);
      assert.deepEqual(p.prepath, c.prepath);
      assert.deepEqual(p.postpath, c.postpath);
    });
  }
});

describe('parseCgiParams and lighttpd over FastCGI/SCGI (SCRIPT_NAME is its key plus a segment)', () => {
  const LIGHTTPD = {
    ...BASE,
    SERVER_SOFTWARE: 'lighttpd/1.4.69',
    SCRIPT_NAME: '/info',
    PATH_INFO: '/x',
    REQUEST_URI: '/info/x?x=1',
  };
  const split = (params: CgiParams, options: { mount?: string; gateway?: boolean }) => {
    const result = parseCgiParams(params, options);
    if (isCgiRefusal(result)) throw new Error(result.detail);
    return [result.prepath, result.postpath];
  };

  it('mounts a gateway request from lighttpd at the root, whatever SCRIPT_NAME says', () => {
    assert.deepEqual(split(LIGHTTPD, { gateway: true }), [[], ['info', 'x']]);
    assert.deepEqual(split({ ...LIGHTTPD, PATH_INFO: '', REQUEST_URI: '/info' }, { gateway: true }), [[], ['info']]);
  });

  it('takes --mount as given: the bare mount /app is the site root', () => {
    const app = { ...LIGHTTPD, SCRIPT_NAME: '/app', REQUEST_URI: '/app' };
    delete (app as Record<string, string>).PATH_INFO;
    assert.deepEqual(split(app, { gateway: true, mount: '/app' }), [['app'], []]);
    assert.deepEqual(split({ ...app, PATH_INFO: '/a', REQUEST_URI: '/app/a' }, { gateway: true, mount: '/app' }), [
      ['app'],
      ['a'],
    ]);
  });

  it('keeps SCRIPT_NAME from lighttpd for CGI processes and for requests trellis cgi --relay forwarded', () => {
    assert.deepEqual(split(LIGHTTPD, {}), [['info'], ['x']]);
    assert.deepEqual(split({ ...LIGHTTPD, TRELLIS_RELAY: '1' }, { gateway: true }), [['info'], ['x']]);
  });

  it('keeps SCRIPT_NAME from other front ends', () => {
    assert.deepEqual(split({ ...LIGHTTPD, SERVER_SOFTWARE: 'nginx/1.22.1' }, { gateway: true }), [['info'], ['x']]);
  });
});

describe('parseCgiParams headers, addresses, scheme', () => {
  it('turns HTTP_* into headers and CONTENT_* into Content-Type/Length', () => {
    const p = parts({
      ...BASE,
      REQUEST_METHOD: 'POST',
      HTTP_ACCEPT_LANGUAGE: 'en',
      HTTP_X_TEST: 'a b',
      CONTENT_TYPE: 'text/plain',
      CONTENT_LENGTH: '12',
    });
    assert.equal(p.method, 'POST');
    assert.equal(p.headers.get('accept-language'), 'en');
    assert.equal(p.headers.get('X-Test'), 'a b');
    assert.equal(p.headers.get('content-type'), 'text/plain');
    assert.equal(p.headers.get('content-length'), '12');
    assert.equal(p.contentLength, 12);
    assert.ok(p.headers.raw.some(([n]) => n === 'Accept-Language'));
  });

  it('treats empty CONTENT_LENGTH and CONTENT_TYPE (nginx GET) as absent', () => {
    const p = parts({ ...BASE, CONTENT_LENGTH: '', CONTENT_TYPE: '' });
    assert.equal(p.contentLength, null);
    assert.equal(p.headers.has('content-type'), false);
    assert.equal(p.headers.has('content-length'), false);
  });

  it('drops HTTP_PROXY (httpoxy) and HTTP_CONTENT_LENGTH / HTTP_CONTENT_TYPE', () => {
    const p = parts({
      ...BASE,
      HTTP_PROXY: 'evil',
      HTTP_CONTENT_LENGTH: '99',
      HTTP_CONTENT_TYPE: 'x/y',
      CONTENT_LENGTH: '3',
    });
    assert.equal(p.headers.has('proxy'), false);
    assert.equal(p.headers.get('content-length'), '3');
    assert.equal(p.headers.has('content-type'), false);
  });

  it('takes the client from REMOTE_ADDR/REMOTE_PORT and the local address from SERVER_ADDR/SERVER_PORT', () => {
    const p = parts({ ...BASE, REMOTE_ADDR: '10.1.2.3', REMOTE_PORT: '5555', SERVER_ADDR: '127.0.0.1' });
    assert.deepEqual(p.client, { type: 'INET', host: '10.1.2.3', port: 5555 });
    assert.deepEqual(p.local, { type: 'INET', host: '127.0.0.1', port: 8080 });
    const v6 = parts({ ...BASE, REMOTE_ADDR: '::1', REMOTE_PORT: '1' });
    assert.equal(v6.client?.type, 'INET6');
    assert.equal(parts({ REQUEST_METHOD: 'GET' }).client, null);
  });

  const schemes: Array<[Record<string, string>, boolean]> = [
    [{ HTTPS: 'on' }, true],
    [{ HTTPS: 'ON' }, true],
    [{ HTTPS: '1' }, true],
    [{ HTTPS: 'off' }, false],
    [{ HTTPS: '' }, false],
    [{ REQUEST_SCHEME: 'https' }, true],
    [{ REQUEST_SCHEME: 'http' }, false],
    [{}, false],
  ];
  for (const [vars, secure] of schemes) {
    it(`parseCgiParams secure=${secure} for ${JSON.stringify(vars)}`, () => {
      assert.equal(parts({ ...BASE, ...vars }).secure, secure);
    });
  }

  it('builds Host from SERVER_NAME/SERVER_PORT when HTTP_HOST is absent', () => {
    const cases: Array<[Record<string, string>, string | undefined]> = [
      [{ SERVER_NAME: 'example.org', SERVER_PORT: '8080' }, 'example.org:8080'],
      [{ SERVER_NAME: 'example.org', SERVER_PORT: '80' }, 'example.org'],
      [{ SERVER_NAME: 'example.org', SERVER_PORT: '443', HTTPS: 'on' }, 'example.org'],
      [{ SERVER_NAME: '127.0.0.1:9000', SERVER_PORT: '9000' }, '127.0.0.1:9000'],
      [{ SERVER_NAME: '::1', SERVER_PORT: '8080' }, '[::1]:8080'],
      [{ SERVER_NAME: '[::1]:8080', SERVER_PORT: '8080' }, '[::1]:8080'],
      [{ SERVER_NAME: '[::1]', SERVER_PORT: '80' }, '[::1]'],
      [{}, undefined],
    ];
    for (const [vars, host] of cases)
      assert.equal(parts({ REQUEST_METHOD: 'GET', ...vars }).headers.get('host'), host, JSON.stringify(vars));
    assert.equal(parts({ ...BASE, SERVER_NAME: 'localhost' }).headers.get('host'), '127.0.0.1:8080', 'HTTP_HOST wins');
  });

  it('uses SERVER_PROTOCOL, defaulting to HTTP/1.0 when missing or odd', () => {
    assert.equal(parts(BASE).clientproto, 'HTTP/1.1');
    assert.equal(parts({ REQUEST_METHOD: 'GET' }).clientproto, 'HTTP/1.0');
    assert.equal(parts({ REQUEST_METHOD: 'GET', SERVER_PROTOCOL: 'INCLUDED' }).clientproto, 'HTTP/1.0');
  });

  it('accepts a Map as well as a record', () => {
    const p = parts(new Map(Object.entries({ ...BASE, SCRIPT_NAME: '/app', PATH_INFO: '/x', REQUEST_URI: '/app/x' })));
    assert.deepEqual(p.prepath, ['app']);
  });

  it('headerNameFromVariable title-cases words', () => {
    assert.equal(headerNameFromVariable('HTTP_USER_AGENT'), 'User-Agent');
    assert.equal(headerNameFromVariable('HTTP_DNT'), 'Dnt');
  });
});

describe('parseCgiParams refusals (400)', () => {
  const refused: Array<[string, Record<string, string>]> = [
    ['no REQUEST_METHOD', { REQUEST_URI: '/' }],
    ['REQUEST_METHOD not a token', { REQUEST_METHOD: 'G T' }],
    ['CR in a header', { ...BASE, HTTP_X_A: 'a\r\nSet-Cookie: x=1' }],
    ['LF in a header', { ...BASE, HTTP_X_A: 'a\nb' }],
    ['NUL in a header', { ...BASE, HTTP_X_A: 'a\0b' }],
    ['LF in PATH_INFO', { ...BASE, SCRIPT_NAME: '', PATH_INFO: '/a\nb' }],
    ['NUL in SCRIPT_NAME', { ...BASE, SCRIPT_NAME: '/a\0', PATH_INFO: '' }],
    ['CR in REQUEST_URI', { ...BASE, REQUEST_URI: '/a\rb' }],
    ['encoded LF in REQUEST_URI', { ...BASE, REQUEST_URI: '/a%0Ab' }],
    ['encoded NUL in REQUEST_URI', { ...BASE, REQUEST_URI: '/a%00b' }],
    ['CR in SERVER_NAME', { REQUEST_METHOD: 'GET', SERVER_NAME: 'a\rb' }],
    ['CONTENT_LENGTH not a number', { ...BASE, CONTENT_LENGTH: '-1' }],
    ['CONTENT_LENGTH with junk', { ...BASE, CONTENT_LENGTH: '1x' }],
    ['bad percent-encoding in the path', { ...BASE, SCRIPT_NAME: '', PATH_INFO: '', REQUEST_URI: '/%ff' }],
  ];
  for (const [name, params] of refused) {
    it(`parseCgiParams refuses: ${name}`, () => {
      const result = parseCgiParams(params);
      assert.ok(isCgiRefusal(result), `expected a refusal, got ${JSON.stringify(result)}`);
      assert.equal(result.status, 400);
    });
  }

  it('CgiVariables: a later duplicate replaces an earlier one, also its control characters', () => {
    const vars = new CgiVariables()
      .set('REQUEST_METHOD', 'GET')
      .set('HTTP_X_A', '1')
      .set('HTTP_HOST', 'h')
      .set('HTTP_X_A', '2');
    const p = parts(vars);
    assert.deepEqual(p.headers.raw, [
      ['X-A', '2'],
      ['Host', 'h'],
    ]);
    vars.set('HTTP_X_A', 'a\nb');
    assert.ok(isCgiRefusal(parseCgiParams(vars)));
    vars.set('HTTP_X_A', 'fine');
    assert.equal(parts(vars).headers.get('x-a'), 'fine');
    vars.set('PATH_INFO', '/a\rb').set('PATH_INFO', '/ok');
    assert.ok(!isCgiRefusal(parseCgiParams(vars)));
  });

  it('CgiVariables keeps more than a few dozen distinct headers in order, duplicates still replaced', () => {
    const vars = new CgiVariables().set('REQUEST_METHOD', 'GET');
    for (let i = 0; i < 100; i++) vars.set(`HTTP_X_${i}`, String(i));
    vars.set('HTTP_X_7', 'seven').set('HTTP_X_70', 'seventy');
    const p = parts(vars);
    assert.equal(p.headers.raw.length, 100);
    assert.equal(p.headers.get('x-7'), 'seven');
    assert.equal(p.headers.get('x-70'), 'seventy');
    assert.equal(p.headers.raw[99]![0], 'X-99');
  });

  it('ignores control characters in variables it does not use (a CGI process environment)', () => {
    assert.ok(!isCgiRefusal(parseCgiParams({ ...BASE, BASH_FUNC_x: '() { :\n}' })));
  });
});

function memorySink() {
  const out = { code: 0, reason: '', headers: [] as Array<[string, string]>, body: Buffer.alloc(0) };
  const sink: ResponseSink = {
    writeHead(code, reason, flat) {
      Object.assign(out, { code, reason, headers: fieldPairs(flat) });
    },
    write(chunk) {
      out.body = Buffer.concat([out.body, chunk]);
      return true;
    },
    end(chunk) {
      if (chunk) out.body = Buffer.concat([out.body, chunk]);
    },
    endText(text) {
      this.end(Buffer.from(text));
    },
    onDrain() {},
    abort() {},
    closeAfterResponse() {},
    queuedBytes: () => null,
  };
  return { out, sink };
}

describe('parseCgiParams parts and serveCgiParams', () => {
  it('sets prepath so prePathURL and redirects use the public mount', () => {
    const { sink } = memorySink();
    const parts = parseCgiParams({
      ...BASE,
      SCRIPT_NAME: '/app',
      PATH_INFO: '/sub',
      REQUEST_URI: '/app/sub?x=1',
      HTTPS: 'on',
      HTTP_HOST: 'example.org',
    });
    if (isCgiRefusal(parts)) throw new Error(parts.detail);
    const request = new Request({ ...parts, channel: 'fastcgi' }, sink);
    assert.deepEqual(request.prepath, ['app']);
    assert.deepEqual(request.postpath, ['sub']);
    assert.equal(request.prePathURL(), 'https://example.org/app');
    assert.equal(request.channel, 'fastcgi');
    assert.equal(request.arg('x'), '1');
  });

  it('serves through a Site mounted under /app, sitepath set from prepath', async () => {
    class Where extends Resource {
      override isLeaf = true;
      override GET(req: Request): string {
        return `${req.prePathURL()} ${req.sitepath.join('/')}`;
      }
    }
    const root = new Resource();
    root.putChild('where', new Where());
    root.putChild('hello', new Data(Buffer.from('hi'), 'text/plain'));
    const site = new Site(root, { serverHeader: null });
    const { out, sink } = memorySink();
    serveCgiParams(
      site,
      { ...BASE, SCRIPT_NAME: '/app', PATH_INFO: '/where', REQUEST_URI: '/app/where' },
      { body: null, sink, channel: 'cgi' },
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(out.code, 200);
    assert.equal(out.body.toString(), 'http://127.0.0.1:8080/app/where app');
  });

  it('serveCgiParams answers a refused request with a 400 page', () => {
    const site = new Site(new Resource(), { serverHeader: null });
    const { out, sink } = memorySink();
    serveCgiParams(site, { ...BASE, HTTP_X: 'a\r\nb' }, { body: null, sink, channel: 'scgi' });
    assert.equal(out.code, 400);
    assert.match(out.body.toString(), /control characters/);
  });
});

describe('header names from HTTP_* variables', () => {
  it('are worked out per variable, also for names outside latin1 seen before a lookalike', () => {
    // U+0141 truncated to latin1 would read "A": the cached answer must still belong to its own name.
    assert.equal(parts({ ...BASE, 'HTTP_\u0141': 'x' }).headers.has('\u0141'), false);
    assert.equal(parts({ ...BASE, HTTP_A: 'kept' }).headers.get('a'), 'kept');
  });
});
