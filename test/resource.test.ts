import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NOT_DONE_YET, type Request } from '../src/request.js';
import {
  ErrorPage,
  ForbiddenResource,
  NoResource,
  Resource,
  allowedMethods,
  getChildForRequest,
} from '../src/resource.js';
import { Site } from '../src/site.js';
import { Data } from '../src/data.js';
import { Redirect, redirectTo } from '../src/util/redirect.js';
import { dummyRequest, render } from './helpers/dummy.js';

class Leaf extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    return `pre=${JSON.stringify(request.prepath)} post=${JSON.stringify(request.postpath)}`;
  }
}

class Branch extends Resource {
  override GET() {
    return 'branch';
  }
  override POST() {
    return 'posted';
  }
}

test('getChildForRequest moves segments from postpath to prepath until a leaf', () => {
  const root = new Resource();
  const a = new Resource();
  const leaf = new Leaf();
  root.putChild('a', a);
  a.putChild('leaf', leaf);
  const { request } = dummyRequest({ uri: '/a/leaf/x/y' });
  assert.equal(getChildForRequest(root, request), leaf);
  assert.deepEqual(request.prepath, ['a', 'leaf']);
  assert.deepEqual(request.postpath, ['x', 'y']);
});

test('a trailing slash gives the segment "" and each segment is percent-decoded once', () => {
  const { request } = dummyRequest({ uri: '/a%2520b/c%2Fd/' });
  assert.deepEqual(request.postpath, ['a%20b', 'c/d', '']);
});

test('getChildForRequest awaits a getChild that returns a promise', async () => {
  class Lazy extends Resource {
    override getChild(segment: string) {
      return Promise.resolve(new Data(`lazy ${segment}`, 'text/plain'));
    }
  }
  const root = new Resource();
  root.putChild('lazy', new Lazy());
  const res = await render(new Site(root), { uri: '/lazy/thing' });
  assert.equal(res.code, 200);
  assert.equal(res.text(), 'lazy thing');
});

test('unknown children are a 404 NoResource page', async () => {
  const res = await render(new Site(new Resource()), { uri: '/nothing/here' });
  assert.equal(res.code, 404);
  assert.equal(res.header('content-type'), 'text/html; charset=utf-8');
  assert.match(res.text(), /No Such Resource/);
});

test('render dispatches on the method to the handler of the same name', async () => {
  const root = new Resource();
  root.putChild('b', new Branch());
  const site = new Site(root);
  assert.equal((await render(site, { uri: '/b' })).text(), 'branch');
  assert.equal((await render(site, { uri: '/b', method: 'POST' })).text(), 'posted');
});

test('a method with no handler gets 405 with Allow listing the handlers', async () => {
  const root = new Resource();
  root.putChild('b', new Branch());
  const res = await render(new Site(root), { uri: '/b', method: 'DELETE' });
  assert.equal(res.code, 405);
  assert.equal(res.header('allow'), 'GET, HEAD, POST, OPTIONS');
  assert.match(res.text(), /with the method &quot;DELETE&quot;/);
});

test('an unknown method gets 501 and the page escapes it', async () => {
  const root = new Resource();
  root.putChild('b', new Branch());
  const res = await render(new Site(root), { uri: '/b', method: 'PURGE<x>' });
  assert.equal(res.code, 501);
  assert.match(res.text(), /PURGE&lt;x&gt;/);
  assert.doesNotMatch(res.text(), /<x>/);
});

test('HEAD falls back to GET, keeps Content-Length and sends no body', async () => {
  const root = new Resource();
  root.putChild('b', new Branch());
  const res = await render(new Site(root), { uri: '/b', method: 'HEAD' });
  assert.equal(res.code, 200);
  assert.equal(res.header('content-length'), '6');
  assert.equal(res.body().length, 0);
});

test('HEAD on a NOT_DONE_YET resource drops the written body', async () => {
  class Streamer extends Resource {
    override GET(request: Request) {
      setImmediate(() => {
        request.write('hello');
        request.finish();
      });
      return NOT_DONE_YET;
    }
  }
  const root = new Resource();
  root.putChild('s', new Streamer());
  const res = await render(new Site(root), { uri: '/s', method: 'HEAD' });
  assert.equal(res.code, 200);
  assert.equal(res.body().length, 0);
});

test('OPTIONS on a resource answers 204 with Allow', async () => {
  const root = new Resource();
  root.putChild('b', new Branch());
  const res = await render(new Site(root), { uri: '/b', method: 'OPTIONS' });
  assert.equal(res.code, 204);
  assert.equal(res.header('allow'), 'GET, HEAD, POST, OPTIONS');
});

test('OPTIONS * is answered for the server; other methods on * get 405', async () => {
  const site = new Site(new Resource());
  const ok = await render(site, { uri: '*', method: 'OPTIONS' });
  assert.equal(ok.code, 200);
  assert.equal(ok.header('content-length'), '0');
  const bad = await render(site, { uri: '*', method: 'GET' });
  assert.equal(bad.code, 405);
  assert.equal(bad.header('allow'), 'OPTIONS');
});

test('Allow lists handlers defined as class fields (POST = this.GET), on 405 and OPTIONS', async () => {
  class Aliased extends Resource {
    override GET() {
      return 'got';
    }
    override POST = this.GET;
    override PUT = () => 'put';
  }
  const root = new Resource();
  root.putChild('a', new Aliased());
  const site = new Site(root);
  const refused = await render(site, { uri: '/a', method: 'DELETE' });
  assert.equal(refused.code, 405);
  assert.equal(refused.header('allow'), 'GET, HEAD, POST, PUT, OPTIONS');
  const options = await render(site, { uri: '/a', method: 'OPTIONS' });
  assert.equal(options.header('allow'), 'GET, HEAD, POST, PUT, OPTIONS');
  assert.equal((await render(site, { uri: '/a', method: 'POST' })).text(), 'got');
  assert.deepEqual(allowedMethods(new Branch()), ['GET', 'HEAD', 'POST', 'OPTIONS'], 'other classes unaffected');
});

test('allowedMethods honours an explicit allowedMethods list', () => {
  const r = new Branch();
  r.allowedMethods = ['GET'];
  assert.deepEqual(allowedMethods(r), ['GET']);
});

test('ErrorPage answers every sub-path with its escaped page', async () => {
  const root = new Resource();
  root.putChild('gone', new ErrorPage(410, 'Gone <now>', 'It & went'));
  const res = await render(new Site(root), { uri: '/gone/deeper/still' });
  assert.equal(res.code, 410);
  assert.match(res.text(), /<title>410 - Gone &lt;now&gt;<\/title>/);
  assert.match(res.text(), /It &amp; went/);
});

test('ForbiddenResource is a 403 and NoResource a 404', async () => {
  const root = new Resource();
  root.putChild('f', new ForbiddenResource());
  root.putChild('n', new NoResource('custom'));
  const site = new Site(root);
  assert.equal((await render(site, { uri: '/f' })).code, 403);
  const n = await render(site, { uri: '/n' });
  assert.equal(n.code, 404);
  assert.match(n.text(), /custom/);
});

test('Redirect answers 302 with Location and an escaped body', async () => {
  const root = new Resource();
  root.putChild('r', new Redirect('/target?a="1"&b=<2>'));
  const res = await render(new Site(root), { uri: '/r' });
  assert.equal(res.code, 302);
  assert.equal(res.header('location'), '/target?a="1"&b=<2>');
  assert.match(res.text(), /&quot;1&quot;&amp;b=&lt;2&gt;/);
  assert.doesNotMatch(res.text(), /<2>/);
});

test('redirectTo refuses a URL with CR or LF (no response splitting)', () => {
  const { request } = dummyRequest();
  assert.throws(() => redirectTo('/x\r\nSet-Cookie: a=b', request), /control characters/);
});

test('Data serves its bytes with its type, and 405 for POST', async () => {
  const root = new Resource();
  root.putChild('d', new Data('abc', 'text/plain; charset=utf-8'));
  const site = new Site(root);
  const res = await render(site, { uri: '/d' });
  assert.equal(res.text(), 'abc');
  assert.equal(res.header('content-type'), 'text/plain; charset=utf-8');
  assert.equal((await render(site, { uri: '/d', method: 'POST' })).code, 405);
});
