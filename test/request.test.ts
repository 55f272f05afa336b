import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CACHED, NOT_DONE_YET, encodePath, splitPath, type Request } from '../src/request.js';
import { Resource } from '../src/resource.js';
import { Site } from '../src/site.js';
import { HttpError } from '../src/errors.js';
import { dummyRequest, render } from './helpers/dummy.js';
import { connectionLost } from '../src/request-internals.js';

function siteWith(path: string, resource: Resource, options: ConstructorParameters<typeof Site>[1] = {}): Site {
  const root = new Resource();
  root.putChild(path, resource);
  return new Site(root, { logError: () => {}, ...options });
}

function leaf(handler: (request: Request) => unknown, method = 'GET'): Resource {
  const r = new Resource();
  r.isLeaf = true;
  (r as unknown as Record<string, unknown>)[method] = handler;
  return r;
}

test('args holds query arguments with duplicates, + as space, & as the only separator', () => {
  const { request } = dummyRequest({ uri: '/p?a=1&a=2&b+c=d%20e&flag&x=1;y=2' });
  assert.deepEqual(request.args.get('a'), ['1', '2']);
  assert.deepEqual(request.args.get('b c'), ['d e']);
  assert.deepEqual(request.args.get('flag'), ['']);
  assert.deepEqual(request.args.get('x'), ['1;y=2']);
  assert.equal(request.arg('a'), '1');
});

const SPLITS: Array<[string, string[] | null]> = [
  ['a/b', ['a', 'b']],
  ['a/', ['a', '']],
  ['', ['']],
  ['/a', ['', 'a']],
  ['a//b', ['a', '', 'b']],
  ['a%2Fb/%C3%BC', ['a/b', 'ü']],
  ['x/a%20b', ['x', 'a b']],
  ['%2e%2e/x', ['..', 'x']],
  ['%zz', null],
  ['a/%C3', null],
];
for (const [path, segments] of SPLITS) {
  test(`splitPath(${JSON.stringify(path)}) is ${JSON.stringify(segments)}`, () =>
    assert.deepEqual(splitPath(path), segments));
}

test('splitPath agrees with splitting on / and decoding each segment once', () => {
  const path = fc
    .array(fc.constantFrom('a', '/', '%', '2', 'F', 'C', '3', 'B', 'c', 'e'), { maxLength: 12 })
    .map((cs) => cs.join(''));
  fc.assert(
    fc.property(path, (p) => {
      let expected: string[] | null;
      try {
        expected = p.split('/').map((seg) => decodeURIComponent(seg));
      } catch {
        expected = null;
      }
      assert.deepEqual(splitPath(p), expected);
    }),
  );
});

test('encodePath joins encoded segments after a /, and splitPath gives them back', () => {
  assert.equal(encodePath(['a', 'b c']), '/a/b%20c');
  assert.equal(encodePath(['~alice', '']), '/~alice/');
  assert.equal(encodePath(['a/b', 'ü']), '/a%2Fb/%C3%BC');
  assert.equal(encodePath([]), '/');
  fc.assert(
    fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), (segments) => {
      assert.deepEqual(splitPath(encodePath(segments).slice(1)), segments);
    }),
  );
});

test('a Request splits its path into postpath, after the leading slash and before the query', () => {
  assert.deepEqual(dummyRequest({ uri: '/a/b%2Fc/?q=/x' }).request.postpath, ['a', 'b/c', '']);
  assert.deepEqual(dummyRequest({ uri: '/' }).request.postpath, ['']);
  assert.equal(dummyRequest({ uri: '/a%zz' }).request.badPath, true);
});

test('raw request headers keep duplicates visible; get joins them', () => {
  const { request } = dummyRequest({
    headers: [
      ['X-A', '1'],
      ['x-a', '2'],
      ['Cookie', 'a=1'],
      ['Cookie', 'b=2'],
    ],
  });
  assert.equal(request.getHeader('x-a'), '1, 2');
  assert.deepEqual(request.requestHeaders.getAll('X-A'), ['1', '2']);
  assert.equal(request.requestHeaders.raw.length, 4);
  assert.equal(request.getCookie('a'), '1');
  assert.equal(request.getCookie('b'), '2');
});

test('parseForm reads urlencoded bodies into args', async () => {
  const { request } = dummyRequest({
    method: 'POST',
    uri: '/f?q=1',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'name=J%C3%B6rg&q=2',
  });
  const args = await request.parseForm();
  assert.deepEqual(args.get('name'), ['Jörg']);
  assert.deepEqual(args.get('q'), ['1', '2']);
});

test('parseForm reads multipart fields and files', async () => {
  const boundary = 'XyZ';
  const body = [
    `--${boundary}`,
    'Content-Disposition: form-data; name="title"',
    '',
    'hello',
    `--${boundary}`,
    'Content-Disposition: form-data; name="up"; filename="a.txt"',
    'Content-Type: text/plain',
    '',
    'file body',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  const { request } = dummyRequest({
    method: 'POST',
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  const args = await request.parseForm();
  assert.deepEqual(args.get('title'), ['hello']);
  assert.equal(request.files.length, 1);
  assert.equal(request.files[0]!.filename, 'a.txt');
  assert.equal(request.files[0]!.data.toString(), 'file body');
});

test('a malformed multipart body is a 400', async () => {
  const site = siteWith(
    'f',
    leaf(async (r) => {
      await r.parseForm();
      return 'ok';
    }, 'POST'),
  );
  const res = await render(site, {
    method: 'POST',
    uri: '/f',
    headers: { 'Content-Type': 'multipart/form-data; boundary=B' },
    body: '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated',
  });
  assert.equal(res.code, 400);
});

test('readBody past the limit is a 413 and the connection is asked to close', async () => {
  const site = siteWith(
    'u',
    leaf(async (r) => (await r.readBody()).length.toString(), 'POST'),
    { limits: { maxBodySize: 10 } },
  );
  const res = await render(site, { method: 'POST', uri: '/u', body: 'x'.repeat(11) });
  assert.equal(res.code, 413);
  assert.equal(res.closeAfter, true);
  const ok = await render(site, { method: 'POST', uri: '/u', body: 'x'.repeat(10) });
  assert.equal(ok.text(), '10');
});

test('too many form fields is a 413', async () => {
  const site = siteWith(
    'f',
    leaf(async (r) => {
      await r.parseForm();
      return 'ok';
    }, 'POST'),
    { limits: { maxFields: 3 } },
  );
  const res = await render(site, {
    method: 'POST',
    uri: '/f',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'a=1&b=2&c=3&d=4',
  });
  assert.equal(res.code, 413);
});

test('addCookie builds Set-Cookie and refuses CR/LF', async () => {
  const site = siteWith(
    'c',
    leaf((r) => {
      r.addCookie('k', 'v', { path: '/', httpOnly: true, sameSite: 'strict', maxAge: 60 });
      return 'ok';
    }),
  );
  const res = await render(site, { uri: '/c' });
  assert.equal(res.header('set-cookie'), 'k=v; Max-Age=60; Path=/; HttpOnly; SameSite=Strict');
  const { request } = dummyRequest();
  assert.throws(() => request.addCookie('k', 'v\r\nX: y'), /control characters/);
  assert.throws(() => request.addCookie('k', 'v', { path: '/\n' }), /control characters/);
});

test('setHeader refuses CR, LF and NUL in values and bad names', () => {
  const { request } = dummyRequest();
  assert.throws(() => request.setHeader('X-A', 'a\r\nb'), TypeError);
  assert.throws(() => request.setHeader('X-A', 'a\0b'), TypeError);
  assert.throws(() => request.setHeader('Bad Name', 'a'), TypeError);
  request.setHeader('X-A', 'fine\tvalue');
  assert.equal(request.getResponseHeader('x-a'), 'fine\tvalue');
});

test('setLastModified answers 304 to a matching If-Modified-Since, with no body', async () => {
  const when = new Date('2026-01-01T00:00:00Z');
  const site = siteWith(
    'lm',
    leaf((r) => (r.setLastModified(when) === CACHED ? '' : 'fresh')),
  );
  const fresh = await render(site, { uri: '/lm' });
  assert.equal(fresh.code, 200);
  assert.equal(fresh.header('last-modified'), when.toUTCString());
  const cached = await render(site, { uri: '/lm', headers: { 'If-Modified-Since': when.toUTCString() } });
  assert.equal(cached.code, 304);
  assert.equal(cached.body().length, 0);
  assert.equal(cached.header('content-type'), undefined);
  assert.equal(cached.header('last-modified'), when.toUTCString());
  const older = await render(site, {
    uri: '/lm',
    headers: { 'If-Modified-Since': new Date('2025-01-01').toUTCString() },
  });
  assert.equal(older.code, 200);
});

test('setETag: If-None-Match weak match is 304 for GET, 412 for POST; If-Match mismatch is 412', async () => {
  const handler = (r: Request) => (r.setETag('v1') === CACHED ? '' : 'body');
  const root = new Resource();
  const res = new Resource();
  res.isLeaf = true;
  Object.assign(res, { GET: handler, POST: handler });
  root.putChild('e', res);
  const site = new Site(root);
  const got = await render(site, { uri: '/e' });
  assert.equal(got.header('etag'), '"v1"');
  assert.equal((await render(site, { uri: '/e', headers: { 'If-None-Match': 'W/"v1"' } })).code, 304);
  assert.equal((await render(site, { uri: '/e', headers: { 'If-None-Match': '"other", "v1"' } })).code, 304);
  assert.equal((await render(site, { uri: '/e', method: 'POST', headers: { 'If-None-Match': '"v1"' } })).code, 412);
  assert.equal((await render(site, { uri: '/e', method: 'POST', headers: { 'If-Match': '"v2"' } })).code, 412);
  assert.equal((await render(site, { uri: '/e', method: 'POST', headers: { 'If-Match': '"v1"' } })).code, 200);
});

test('If-Unmodified-Since older than Last-Modified is 412', async () => {
  const site = siteWith(
    'u',
    leaf((r) => (r.setLastModified(new Date('2026-01-02T00:00:00Z')) === CACHED ? '' : 'ok'), 'PUT'),
  );
  const res = await render(site, {
    uri: '/u',
    method: 'PUT',
    headers: { 'If-Unmodified-Since': 'Thu, 01 Jan 2026 00:00:00 GMT' },
  });
  assert.equal(res.code, 412);
});

test('prePathURL, URLPath, childLink and sibLink follow the traversal', async () => {
  let seen: Record<string, string> = {};
  const site = siteWith(
    'app',
    (() => {
      const app = new Resource();
      app.putChild(
        'page',
        leaf((r) => {
          seen = {
            pre: r.prePathURL(),
            child: r.URLPath().child('x y').toString(),
            childLink: r.childLink('c'),
            sibLink: r.sibLink('s'),
          };
          return 'ok';
        }),
      );
      return app;
    })(),
  );
  await render(site, { uri: '/app/page/rest', headers: { Host: 'example.com' } });
  assert.deepEqual(seen, {
    pre: 'http://example.com/app/page',
    child: 'http://example.com/app/page/x%20y',
    childLink: 'c',
    sibLink: '../s',
  });
});

test('setHost changes every generated URL, with the port unless it is the default', () => {
  const { request } = dummyRequest({ uri: '/a', headers: { Host: 'internal:8080' } });
  request.prepath = ['a'];
  assert.equal(request.prePathURL(), 'http://internal:8080/a');
  request.setHost('www.example.com', 443, true);
  assert.equal(request.isSecure(), true);
  assert.equal(request.getHeader('host'), 'www.example.com');
  assert.equal(request.prePathURL(), 'https://www.example.com/a');
  request.setHost('www.example.com', 8443, true);
  assert.equal(request.prePathURL(), 'https://www.example.com:8443/a');
  assert.deepEqual(request.getHost(), { host: 'www.example.com', port: 8443 });
});

test('an absolute-form request target is served locally with the Host from the URI', () => {
  const { request } = dummyRequest({ uri: 'http://example.org:81/x/y?z=1', headers: { Host: 'other' } });
  assert.equal(request.path, '/x/y');
  assert.equal(request.queryString, 'z=1');
  assert.equal(request.getRequestHostname(), 'example.org');
  assert.deepEqual(request.postpath, ['x', 'y']);
});

test('invalid percent-encoding in the path is a 400', async () => {
  const res = await render(new Site(new Resource()), { uri: '/bad%ZZ' });
  assert.equal(res.code, 400);
});

test('getUser and getPassword read HTTP Basic credentials', () => {
  const { request } = dummyRequest({
    headers: { Authorization: `Basic ${Buffer.from('ann:s3:cret').toString('base64')}` },
  });
  assert.equal(request.getUser(), 'ann');
  assert.equal(request.getPassword(), 's3:cret');
  assert.equal(dummyRequest().request.getUser(), '');
});

test('write reports backpressure and drain() waits for the channel', async () => {
  const { request, response, drain } = dummyRequest({ backpressure: true });
  assert.equal(request.write('a'), false);
  let drained = false;
  const waiting = request.drain().then(() => (drained = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, false);
  drain();
  await waiting;
  assert.equal(drained, true);
  request.finish();
  assert.equal(response.text(), 'a');
});

test('notifyFinish resolves on finish and rejects when the client goes away', async () => {
  const a = dummyRequest();
  const done = a.request.notifyFinish();
  a.request.write('x');
  a.request.finish();
  await done;
  const b = dummyRequest();
  const lost = b.request.notifyFinish();
  b.request.write('x');
  connectionLost(b.request);
  await assert.rejects(lost, /Connection lost/);
  assert.equal(b.request.write('more'), false);
  b.request.finish();
});

test('a streaming resource stops when notifyFinish rejects', async () => {
  let ticks = 0;
  let stopped = false;
  const site = siteWith(
    'clock',
    leaf((r) => {
      const timer = setInterval(() => {
        ticks++;
        r.write('tick\n');
      }, 1);
      r.notifyFinish()
        .catch(() => {})
        .finally(() => {
          stopped = true;
          clearInterval(timer);
        });
      return NOT_DONE_YET;
    }),
  );
  const { request } = dummyRequest({ uri: '/clock' });
  site.handle(request);
  await new Promise((r) => setTimeout(r, 20));
  connectionLost(request);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(stopped, true);
  const after = ticks;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(ticks, after);
});

test('an error thrown after the headers went out drops the connection', async () => {
  const site = siteWith(
    'half',
    leaf(async (r) => {
      r.write('partial');
      throw new Error('late failure');
    }),
  );
  const res = await render(site, { uri: '/half' });
  assert.equal(res.aborted, true);
});

test('an HttpError renders its status page with the message when exposed', async () => {
  const site = siteWith(
    'h',
    leaf(() => {
      throw new HttpError(409, 'Name <taken>', { headers: { 'Retry-After': '5' } });
    }),
  );
  const res = await render(site, { uri: '/h' });
  assert.equal(res.code, 409);
  assert.equal(res.header('retry-after'), '5');
  assert.match(res.text(), /Name &lt;taken&gt;/);
});

test('a render method returning nothing is a 500, not a hang', async () => {
  const site = siteWith(
    'n',
    leaf(() => undefined),
  );
  const res = await render(site, { uri: '/n' });
  assert.equal(res.code, 500);
});

test('processingFailed on the request answers with the Site error page, with the Site headers', async () => {
  const later = leaf((request) => {
    setImmediate(() => request.processingFailed(new HttpError(418, 'No coffee here.', { expose: true })));
    return NOT_DONE_YET;
  });
  const res = await render(siteWith('p', later, { headers: [['X-Site', 'yes']] }), { uri: '/p' });
  assert.equal(res.code, 418);
  assert.equal(res.header('x-site'), 'yes');
  assert.match(res.text(), /No coffee here\./);
});

test('processingFailed after the response started drops the connection; outside a Site it drops too', async () => {
  const started = leaf((request) => {
    request.write('partial');
    setImmediate(() => request.processingFailed(new Error('backend went away')));
    return NOT_DONE_YET;
  });
  const res = await render(siteWith('p', started), { uri: '/p' });
  assert.equal(res.aborted, true);
  const { request, response } = dummyRequest({ uri: '/' });
  request.processingFailed(new Error('no site'));
  assert.equal(response.aborted, true);
});
