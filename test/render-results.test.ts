// What a handler may return (RenderBody) and what the Site makes of it, in memory through
// trellis/testing: CACHED, streams, Fetch Responses, JSON; the root answering `/`; request.signal.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { CACHED, NOT_DONE_YET, type Request } from '../src/request.js';
import { Resource, type Handler, type RenderResult } from '../src/resource.js';
import { RewriterResource } from '../src/rewrite/rewriter.js';
import { Site } from '../src/site.js';
import { render, testRequest } from '../src/testing.js';

const quiet = (root: Resource) => new Site(root, { serverHeader: null, logError: () => {} });

class Tagged extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    return request.setETag('v1') ?? 'fresh body';
  }
  override PUT(request: Request) {
    return request.setETag('v1') ?? 'stored';
  }
}

test('CACHED returned from a handler answers 304 for a matching If-None-Match, without a body', async () => {
  const fresh = await render(new Tagged());
  assert.equal(fresh.code, 200);
  assert.equal(fresh.text(), 'fresh body');
  const cached = await render(new Tagged(), { headers: { 'If-None-Match': '"v1"' } });
  assert.equal(cached.code, 304);
  assert.equal(cached.text(), '');
  assert.equal(cached.header('etag'), '"v1"');
});

test('CACHED returned from a handler answers 412 for a failed If-Match', async () => {
  const r = await render(new Tagged(), { method: 'PUT', headers: { 'If-Match': '"v0"' } });
  assert.equal(r.code, 412);
  assert.equal(r.text(), '');
});

test('a root with a GET handler answers / itself; a root with a "" child gives / to that child', async () => {
  const own = new Resource({ GET: (request) => `own ${request.prepath.join('/')}|` });
  own.putChild('a', new Resource({ isLeaf: true, GET: () => 'a' }));
  assert.equal((await render(own, { uri: '/' })).text(), 'own |');
  assert.equal((await render(own, { uri: '/a' })).text(), 'a');
  assert.equal((await render(own, { uri: '/nothing' })).code, 404);

  const twisted = new Resource({ GET: () => 'not me' });
  twisted.putChild('', new Resource({ GET: () => 'the index child' }));
  assert.equal((await render(twisted, { uri: '/' })).text(), 'the index child');
});

test('a wrapper that passes traversal on keeps the root answering /', async () => {
  const root = new Resource({ GET: () => 'root' });
  assert.equal((await render(new RewriterResource(root), { uri: '/' })).text(), 'root');
});

test('a child with a handler answers its trailing slash; a resource without handlers still 404s', async () => {
  const root = new Resource();
  root.putChild('dir', new Resource({ GET: () => 'dir' }));
  assert.equal((await render(root, { uri: '/dir/' })).text(), 'dir');
  assert.equal((await render(root, { uri: '/' })).code, 404);
  const dynamic = new (class extends Resource {
    override getChild(segment: string) {
      return new Resource({ isLeaf: true, GET: () => `child "${segment}"` });
    }
    override GET() {
      return 'parent';
    }
  })();
  assert.equal((await render(dynamic, { uri: '/' })).text(), 'child ""', 'a getChild of its own decides what "" means');
});

test('a Node Readable, an async generator and a web ReadableStream are streamed to the end', async () => {
  const sources: Array<[string, () => RenderResult]> = [
    ['readable', () => Readable.from(['a', 'b', Buffer.from('c')])],
    [
      'generator',
      () =>
        (async function* () {
          yield 'a';
          yield new TextEncoder().encode('b');
          yield 'c';
        })(),
    ],
    [
      'web stream',
      () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const s of ['a', 'b', 'c']) controller.enqueue(new TextEncoder().encode(s));
            controller.close();
          },
        }),
    ],
  ];
  for (const [name, make] of sources) {
    const r = await render(new Resource({ isLeaf: true, GET: make }));
    assert.equal(r.code, 200, name);
    assert.equal(r.text(), 'abc', name);
    assert.equal(r.ended, true, name);
  }
});

test('a stream waits for drain when the channel is full (backpressure)', async () => {
  let pulled = 0;
  async function* numbers() {
    for (let i = 0; i < 5; i++) {
      pulled++;
      yield `${i}`;
    }
  }
  const { request, response, drain } = testRequest({ backpressure: true });
  const done = new Promise<void>((resolve) => request.whenDone(() => resolve()));
  quiet(new Resource({ GET: () => numbers() })).handle(request);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(pulled, 1, 'no second chunk before the channel drained');
  for (let i = 0; i < 5; i++) {
    drain();
    await new Promise((r) => setTimeout(r, 5));
  }
  await done;
  assert.equal(response.text(), '01234');
});

test('a client that leaves stops the stream: the Readable is destroyed and request.signal fires', async () => {
  const source = new Readable({ read() {} });
  source.push('first');
  let signalled = false;
  const { request, disconnect } = testRequest();
  request.signal.addEventListener('abort', () => (signalled = true));
  quiet(new Resource({ GET: () => source })).handle(request);
  await new Promise((r) => setTimeout(r, 10));
  disconnect();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(signalled, true);
  assert.equal(request.signal.aborted, true);
  assert.equal(source.destroyed, true);
});

test('request.signal does not fire for a response that completed', async () => {
  const r = await render(new Resource({ GET: () => 'done' }));
  assert.equal(r.request.signal.aborted, false);
});

test('a stream that fails before its first chunk gets a 500 page; after it, the connection drops', async () => {
  const early = await render(
    quiet(
      new Resource({
        GET: () =>
          // biome-ignore lint/correctness/useYield: a stream that fails before its first chunk
          (async function* () {
            throw new Error('no data');
          })(),
      }),
    ),
  );
  assert.equal(early.code, 500);
  const late = await render(
    quiet(
      new Resource({
        GET: () =>
          (async function* () {
            yield 'part';
            throw new Error('cut');
          })(),
      }),
    ),
  );
  assert.equal(late.aborted, true);
});

test('a stream yielding something other than text or bytes is a 500 naming it', async () => {
  const errors: string[] = [];
  const site = new Site(
    new Resource({
      GET: () =>
        (async function* () {
          yield 42 as unknown as string;
        })(),
    }),
    { logError: (m) => errors.push(m) },
  );
  const r = await render(site);
  assert.equal(r.code, 500);
  assert.match(errors.join('\n'), /yielded a number/);
});

test('a Fetch Response gives its status, headers, cookies and streamed body', async () => {
  const headers = new Headers({
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Test': 'yes',
    'Content-Length': '999',
  });
  headers.append('Set-Cookie', 'a=1');
  headers.append('Set-Cookie', 'b=2');
  const r = await render(
    new Resource({ GET: () => new Response('created!', { status: 201, statusText: 'Made', headers }) }),
  );
  assert.equal(r.code, 201);
  assert.equal(r.reason, 'Made');
  assert.equal(r.text(), 'created!');
  assert.equal(r.header('x-test'), 'yes');
  assert.equal(r.header('content-length'), undefined, "the Response's own Content-Length is not passed on");
  assert.deepEqual(
    r.headers.filter(([n]) => n.toLowerCase() === 'set-cookie').map(([, v]) => v),
    ['a=1', 'b=2'],
  );
  const json = await render(new Resource({ GET: async () => Response.json({ ok: true }) }));
  assert.deepEqual(json.json(), { ok: true });
  const empty = await render(new Resource({ GET: () => new Response(null, { status: 204 }) }));
  assert.equal(empty.code, 204);
});

test('request.json() sets the type, the status, and escapes what could close a script element', async () => {
  const r = await render(
    new Resource({ POST: (request) => request.json({ html: '</script><b>&', n: 1 }, { status: 201 }) }),
    { method: 'POST' },
  );
  assert.equal(r.code, 201);
  assert.equal(r.header('content-type'), 'application/json; charset=utf-8');
  assert.doesNotMatch(r.text(), /[<>&]/);
  assert.deepEqual(r.json(), { html: '</script><b>&', n: 1 });
  const { request } = testRequest();
  assert.throws(() => request.json(undefined), TypeError);
});

test('returning something a handler may not (caught by the types) is a 500 naming it', async () => {
  const errors: string[] = [];
  // @ts-expect-error a number is not a RenderResult
  const site = new Site(new Resource({ GET: () => 42 }), { logError: (m) => errors.push(m) });
  assert.equal((await render(site)).code, 500);
  assert.match(errors.join('\n'), /returned 42/);
});

test('handlers on a subclass are checked against RenderResult', () => {
  class Wrong extends Resource {
    // @ts-expect-error undefined is not a RenderResult
    override GET() {
      return undefined;
    }
  }
  class Right extends Resource {
    override GET(request: Request) {
      if (request.arg('later')) return NOT_DONE_YET;
      return request.setLastModified(0) ?? 'body';
    }
  }
  assert.ok(new Wrong() && new Right());
  void CACHED;
});

test('properties beside the Twisted getters', async () => {
  const { request } = testRequest({
    headers: { Host: 'example.org:8080', Authorization: `Basic ${Buffer.from('ada:pw').toString('base64')}` },
    secure: true,
  });
  assert.equal(request.hostname, request.getRequestHostname());
  assert.equal(request.hostname, 'example.org');
  assert.equal(request.secure, request.isSecure());
  assert.deepEqual(request.clientAddress, request.getClientAddress());
  assert.equal(request.clientIP, '192.0.2.1');
  assert.deepEqual(request.host, request.getHost());
  assert.equal(request.user, 'ada');
  assert.equal(request.password, 'pw');
  assert.equal(request.headers.get('host'), 'example.org:8080');
  assert.equal(request.rootURL, null);
});

test('render() from trellis/testing rejects when a response never finishes', async () => {
  await assert.rejects(
    render(new Resource({ GET: () => NOT_DONE_YET }), { timeout: 50 }),
    /did not finish within 50 ms/,
  );
});

test('a handler written as a typed property gets request typed and is dispatched and listed in Allow', async () => {
  class Api extends Resource {
    override isLeaf = true;
    override GET: Handler = (request) => request.json({ path: request.postpath });
  }
  assert.deepEqual((await render(new Api(), { uri: '/x/y' })).json(), { path: ['x', 'y'] });
  assert.equal((await render(new Api(), { method: 'POST' })).header('allow'), 'GET, HEAD, OPTIONS');
});
