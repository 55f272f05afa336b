// site.fetch(): a Site served in memory from a Fetch Request, answered with a streamed Response.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NOT_DONE_YET, NodeAppResource, Resource, Site, type Request as TrellisRequest } from '../../src/index.js';

class Echo extends Resource {
  override isLeaf = true;
  override GET(request: TrellisRequest) {
    request.setHeader('Content-Type', 'text/plain');
    request.addCookie('seen', '1');
    return `${request.method} ${request.uri} host=${request.getHeader('host')} secure=${request.isSecure()} ${request.prePathURL()}`;
  }
  override async POST(request: TrellisRequest) {
    return `posted ${(await request.readBody()).toString()}`;
  }
}

class Ticker extends Resource {
  override isLeaf = true;
  lost = false;
  override GET(request: TrellisRequest) {
    request.notifyFinish().catch(() => (this.lost = true));
    let n = 0;
    const tick = () => {
      if (request.disconnected) return;
      if (n++ === 200) return request.finish();
      if (request.write(Buffer.alloc(16 * 1024, 't'))) setImmediate(tick);
      else void request.drain().then(tick);
    };
    tick();
    return NOT_DONE_YET;
  }
}

function site(): { site: Site; ticker: Ticker } {
  const root = new Resource();
  const ticker = new Ticker();
  root.putChild('echo', new Echo());
  root.putChild('ticks', ticker);
  root.putChild(
    'express-like',
    new NodeAppResource((req, res) =>
      res.end(`node app saw ${req.url} under ${(req as unknown as { baseUrl: string }).baseUrl}`),
    ),
  );
  return { site: new Site(root, { headers: [['X-Added', 'yes']] }), ticker };
}

test('site.fetch answers a GET with the Site headers, cookies and the URL it was given', async () => {
  const { site: s } = site();
  const res = await s.fetch(new Request('https://shop.example/echo/a?b=1'));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-added'), 'yes');
  assert.match(res.headers.get('server') ?? '', /^Trellis\//);
  assert.deepEqual(res.headers.getSetCookie(), ['seen=1']);
  assert.equal(await res.text(), 'GET /echo/a?b=1 host=shop.example secure=true https://shop.example/echo');
});

test('site.fetch streams a request body in and a long response out', async () => {
  const { site: s } = site();
  const posted = await s.fetch(new Request('http://localhost/echo', { method: 'POST', body: 'hello' }));
  assert.equal(await posted.text(), 'posted hello');
  const ticks = await s.fetch(new Request('http://localhost/ticks'));
  assert.equal((await ticks.arrayBuffer()).byteLength, 200 * 16 * 1024);
});

test('site.fetch gives 404 pages, HEAD without a body, and reaches mounted Node apps', async () => {
  const { site: s } = site();
  const missing = await s.fetch(new Request('http://localhost/nothing'));
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /No Such Resource/);
  const head = await s.fetch(new Request('http://localhost/echo', { method: 'HEAD' }));
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  const app = await s.fetch(new Request('http://localhost/express-like/x/y'));
  assert.equal(await app.text(), 'node app saw /x/y under /express-like');
});

test('site.fetch: cancelling the body or aborting the signal is the client leaving', async () => {
  const { site: s, ticker } = site();
  const res = await s.fetch(new Request('http://localhost/ticks'));
  const reader = res.body!.getReader();
  await reader.read();
  await reader.cancel();
  const deadline = Date.now() + 5000;
  while (!ticker.lost && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ticker.lost, 'notifyFinish rejected after the body was cancelled');
  ticker.lost = false;
  const controller = new AbortController();
  const res2 = await s.fetch(new Request('http://localhost/ticks', { signal: controller.signal }));
  controller.abort();
  while (!ticker.lost && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ticker.lost, 'notifyFinish rejected after the signal aborted');
  await res2.body?.cancel().catch(() => {});
});
