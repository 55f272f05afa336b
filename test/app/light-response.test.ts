// LightResponse against undici's Response: every member answers the same, the constructor refuses
// the same arguments, and a FetchAppResource sends the same answer for both.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FetchAppResource, Resource, Site } from '../../src/index.js';
import {
  LightResponse,
  installLightResponse,
  lightResponseInstalled,
  lightResponseParts,
} from '../../src/app/light-response.js';
import { FIXTURES } from '../helpers/apps.js';
import { runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';

// The real Response, whatever the global is while these tests run.
const Real = Object.getPrototypeOf(LightResponse) as typeof Response;
const Light = LightResponse as unknown as typeof Response;

type Make = (R: typeof Response) => Response;

/** Constructor arguments, each made with both classes. `kept` says whether the light one keeps them. */
const CASES: Array<{ name: string; make: Make; kept: boolean }> = [
  { name: 'no arguments', make: (R) => new R(), kept: true },
  { name: 'a string', make: (R) => new R('hello'), kept: true },
  { name: 'an empty string', make: (R) => new R(''), kept: true },
  { name: 'a string, a status', make: (R) => new R('made', { status: 201 }), kept: true },
  { name: 'a status and reason', make: (R) => new R('gone', { status: 410, statusText: 'Gone Away' }), kept: true },
  { name: 'bytes', make: (R) => new R(new Uint8Array([104, 105])), kept: true },
  { name: 'a Buffer slice', make: (R) => new R(Buffer.from('xxabcxx').subarray(2, 5)), kept: true },
  { name: 'null body, 204', make: (R) => new R(null, { status: 204 }), kept: true },
  { name: 'null init', make: (R) => new R('x', null as unknown as ResponseInit), kept: true },
  {
    name: 'record headers',
    make: (R) => new R('<p>', { headers: { 'Content-Type': 'text/html', 'X-A': ' 1 ' } }),
    kept: true,
  },
  {
    name: 'pair headers, cookies',
    make: (R) =>
      new R('x', {
        headers: [
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2'],
          ['X-B', 'y'],
        ],
      }),
    kept: true,
  },
  {
    name: 'Headers headers',
    make: (R) => new R('x', { headers: new Headers({ 'x-c': '3', 'content-type': 'text/csv' }) }),
    kept: true,
  },
  {
    name: 'duplicate names',
    make: (R) =>
      new R('x', {
        headers: [
          ['X-D', '1'],
          ['x-d', '2'],
        ],
      }),
    kept: true,
  },
  {
    name: 'a hop-by-hop field',
    make: (R) => new R('x', { headers: { Connection: 'close', 'Keep-Alive': 'timeout=5' } }),
    kept: true,
  },
  { name: 'a string status', make: (R) => new R('x', { status: '202' as unknown as number }), kept: false },
  { name: 'a fractional status', make: (R) => new R('x', { status: 299.9 }), kept: false },
  { name: 'URLSearchParams', make: (R) => new R(new URLSearchParams('a=1&b=2')), kept: false },
  { name: 'a Blob', make: (R) => new R(new Blob(['blob'], { type: 'x/y' })), kept: false },
  { name: 'an ArrayBuffer', make: (R) => new R(new Uint8Array([1, 2]).buffer), kept: false },
  { name: 'a stream', make: (R) => new R(new Blob(['streamed']).stream()), kept: false },
  {
    name: 'a class instance as init',
    make: (R) =>
      new R(
        'x',
        new (class {
          status = 203;
        })() as ResponseInit,
      ),
    kept: false,
  },
];

/** Everything a Response shows without reading its body, as plain data. */
function look(response: Response): Record<string, unknown> {
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    type: response.type,
    url: response.url,
    redirected: response.redirected,
    bodyUsed: response.bodyUsed,
    hasBody: response.body !== null,
    headers: [...response.headers],
    cookies: response.headers.getSetCookie(),
    tag: Object.prototype.toString.call(response),
  };
}

/** The body, read by one of the reading methods, as comparable data. */
async function read(response: Response, how: string): Promise<unknown> {
  switch (how) {
    case 'text':
      return response.text();
    case 'arrayBuffer':
      return [...new Uint8Array(await response.arrayBuffer())];
    case 'blob': {
      const blob = await response.blob();
      return [blob.type, await blob.text()];
    }
    case 'bytes':
      return [...(await (response as unknown as { bytes(): Promise<Uint8Array> }).bytes())];
    case 'body': {
      if (!response.body) return null;
      const chunks: number[] = [];
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) chunks.push(...chunk);
      return chunks;
    }
    default: {
      const copy = response.clone();
      return [await copy.text(), await response.text(), response.bodyUsed, copy.bodyUsed];
    }
  }
}

const READS = ['text', 'arrayBuffer', 'blob', 'body', 'clone', ...('bytes' in Real.prototype ? ['bytes'] : [])];

test('LightResponse keeps string, bytes and null bodies with plain inits, and hands anything else to undici', () => {
  for (const c of CASES) assert.equal(lightResponseParts(c.make(Light)) !== null, c.kept, c.name);
  assert.equal(lightResponseParts(new Real('x')), null);
});

test('LightResponse shows every member as the real Response does, for every kind of argument', async () => {
  for (const c of CASES) {
    assert.deepEqual(look(c.make(Light)), look(c.make(Real)), c.name);
    for (const how of READS)
      assert.deepEqual(await read(c.make(Light), how), await read(c.make(Real), how), `${c.name}, ${how}`);
  }
});

test('LightResponse reads a body once, as the real Response does', async () => {
  for (const R of [Light, Real]) {
    const response = new R('once');
    assert.equal(await response.text(), 'once');
    assert.equal(response.bodyUsed, true);
    await assert.rejects(response.text(), TypeError);
    assert.throws(() => response.clone(), TypeError);
  }
  assert.deepEqual(await new Light('{"a":[1]}').json(), { a: [1] });
  const form = new FormData();
  form.set('a', '1');
  const formResponse = new Light(form);
  assert.match(formResponse.headers.get('content-type') ?? '', /^multipart\/form-data; boundary=/);
  assert.equal((await formResponse.formData()).get('a'), '1');
  await assert.rejects(new Light('{').json(), SyntaxError);
});

test('LightResponse refuses what the real Response refuses, with the same error class', () => {
  const bad: Array<[string, Make]> = [
    ['status 99', (R) => new R('x', { status: 99 })],
    ['status 600', (R) => new R('x', { status: 600 })],
    ['a body with 204', (R) => new R('x', { status: 204 })],
    ['a body with 304', (R) => new R(new Uint8Array(1), { status: 304 })],
    ['a reason with LF', (R) => new R('x', { statusText: 'a\nb' })],
    ['a reason beyond Latin-1', (R) => new R('x', { statusText: 'é€' })],
    ['a field name with a space', (R) => new R('x', { headers: { 'bad name': 'x' } })],
    ['a field value with CR', (R) => new R('x', { headers: { 'x-a': 'a\rb' } })],
    ['a field value beyond Latin-1', (R) => new R('x', { headers: { 'x-a': '€' } })],
    ['a pair of three', (R) => new R('x', { headers: [['a', 'b', 'c']] as unknown as [string, string][] })],
    [
      'a used body stream',
      (R) => {
        const s = new Blob(['x']).stream();
        void s.getReader();
        return new R(s);
      },
    ],
  ];
  for (const [name, make] of bad) {
    let real: unknown = null;
    let light: unknown = null;
    try {
      make(Real);
    } catch (err) {
      real = err;
    }
    try {
      make(Light);
    } catch (err) {
      light = err;
    }
    assert.ok(real instanceof Error, `${name}: the real Response accepts it`);
    assert.ok(light instanceof Error, `${name}: LightResponse accepts it`);
    assert.equal((light as Error).constructor, (real as Error).constructor, name);
  }
});

test('LightResponse copies its bytes and headers at construction, as the real Response does', async () => {
  for (const R of [Light, Real]) {
    const bytes = new Uint8Array([97, 98]);
    const headers = new Headers({ 'x-a': '1' });
    const response = new R(bytes, { headers });
    bytes[0] = 122;
    headers.set('x-a', '2');
    assert.equal(response.headers.get('x-a'), '1');
    assert.equal(await response.text(), 'ab');
  }
});

test('LightResponse passes instanceof both ways, keeps the statics, and can be subclassed', async () => {
  const light = new Light('x');
  const real = new Real('x');
  assert.ok(light instanceof Real);
  assert.ok(light instanceof Light);
  assert.ok(real instanceof Light);
  assert.ok(Response.json({ a: 1 }) instanceof Light);
  assert.equal(Light.name, 'Response');
  assert.equal(Light.length, Real.length);
  assert.equal(light.constructor, Light);
  assert.equal(Object.prototype.toString.call(light), '[object Response]');
  assert.ok(!({} instanceof Light));
  const json = Light.json({ a: 1 }, { status: 201 });
  assert.equal(json.status, 201);
  assert.equal(json.headers.get('content-type'), 'application/json');
  assert.deepEqual(await json.json(), { a: 1 });
  const redirect = Light.redirect('https://example.org/', 301);
  assert.equal(redirect.headers.get('location'), 'https://example.org/');
  assert.equal(Light.error().type, 'error');

  class Mine extends Light {
    extra(): string {
      return `mine ${this.status}`;
    }
  }
  const mine = new Mine('sub', { status: 202 });
  assert.equal(mine.extra(), 'mine 202');
  assert.equal(await mine.text(), 'sub');
  assert.ok(mine instanceof Mine && mine instanceof Light && mine instanceof Real);
  assert.ok(!(light instanceof Mine));
  assert.ok(!(real instanceof Mine));
});

test('LightResponse makes the real Response when its headers are asked for, and changes to them hold', () => {
  const response = new Light('x', { headers: { 'x-a': '1' } });
  assert.notEqual(lightResponseParts(response), null);
  assert.equal(response.status, 200);
  assert.equal(response.ok, true);
  assert.notEqual(lightResponseParts(response), null, 'status and ok are answered without undici');
  response.headers.set('x-b', '2');
  assert.equal(lightResponseParts(response), null);
  assert.equal(response.headers.get('x-b'), '2');
  assert.equal(response.headers, response.headers);
});

test('installLightResponse makes it the global Response until the function it returns is called', () => {
  const before = globalThis.Response;
  const wasInstalled = lightResponseInstalled();
  const restore = installLightResponse();
  assert.equal(globalThis.Response, Light);
  assert.ok(lightResponseInstalled());
  assert.ok(new Response('x') instanceof LightResponse);
  assert.notEqual(lightResponseParts(new Response('x')), null);
  const again = installLightResponse();
  again();
  assert.equal(globalThis.Response, Light, 'a second install changes nothing and its restore neither');
  restore();
  assert.equal(globalThis.Response, wasInstalled ? Light : before);
  assert.equal(lightResponseInstalled(), wasInstalled);
});

/** A Site whose Fetch app answers `/N` with case N, made with `R`. */
function caseSite(R: typeof Response, transform: (r: Response) => Response = (r) => r): Site {
  const root = new Resource();
  root.putChild(
    'app',
    new FetchAppResource((request: globalThis.Request) =>
      transform(CASES[Number(new URL(request.url).pathname.split('/').pop())]!.make(R)),
    ),
  );
  return new Site(root);
}

/**
 * The answer as a client sees it, without the Date field. A HEAD answer is compared without its
 * Content-Length: Trellis gives it where it knows the length without reading the body, which for
 * undici's own Response depends on the Node line (Node 24 keeps its state private).
 */
async function answer(site: Site, path: string, method = 'GET'): Promise<unknown> {
  const response = await site.fetch(new globalThis.Request(`http://localhost${path}`, { method }));
  const headers = [...response.headers].filter(
    ([name]) => name !== 'date' && !(method === 'HEAD' && name === 'content-length'),
  );
  return {
    status: response.status,
    statusText: response.statusText,
    headers,
    body: [...new Uint8Array(await response.arrayBuffer())],
  };
}

test('FetchAppResource sends a LightResponse as it sends the real Response', async () => {
  const light = caseSite(Light);
  const real = caseSite(Real);
  const touched = caseSite(Light, (r) => {
    r.headers.get('x-none');
    return r;
  });
  for (let i = 0; i < CASES.length; i++) {
    for (const method of ['GET', 'HEAD']) {
      const expected = await answer(real, `/app/${i}`, method);
      assert.deepEqual(await answer(light, `/app/${i}`, method), expected, `${CASES[i]!.name} ${method}`);
      assert.deepEqual(
        await answer(touched, `/app/${i}`, method),
        expected,
        `${CASES[i]!.name} ${method}, headers read`,
      );
    }
  }
});

test('FetchAppResource sends the changes an app made to a LightResponse after making it', async () => {
  const root = new Resource();
  root.putChild(
    'app',
    new FetchAppResource(() => {
      const response = new Light('changed', { status: 201 });
      response.headers.set('x-after', 'yes');
      response.headers.append('set-cookie', 'a=1');
      return response;
    }),
  );
  const response = await new Site(root).fetch(new globalThis.Request('http://localhost/app'));
  assert.equal(response.status, 201);
  assert.equal(response.headers.get('x-after'), 'yes');
  assert.deepEqual(response.headers.getSetCookie(), ['a=1']);
  assert.equal(await response.text(), 'changed');
});

/** A Fetch app and a (req, res) app that say whether the global Response was replaced after they loaded. */
const PROBE_APPS = `const Loaded = globalThis.Response;
const report = () => JSON.stringify({ replaced: globalThis.Response !== Loaded, name: globalThis.Response.name });
export default { fetch: () => new Response(report(), { headers: { 'content-type': 'application/json' } }) };
export const node = (req, res) => res.end(report());
`;

describe('trellis web --app and the light Response', () => {
  test("a Fetch app gets LightResponse as the global Response, a (req, res) app keeps Node's", async (t) => {
    const dir = tempDir();
    t.after(() => dir.cleanup());
    writeFileSync(join(dir.path, 'probe.mjs'), PROBE_APPS);
    for (const [spec, replaced] of [
      ['probe.mjs', true],
      ['probe.mjs#node', false],
    ] as const) {
      const proc = await spawnTrellis(['web', '--app', join(dir.path, spec), '--listen', 'tcp:0:interface=127.0.0.1'], {
        timeoutMs: 30_000,
      });
      try {
        assert.deepEqual(await (await fetch(proc.url)).json(), { replaced, name: 'Response' }, spec);
      } finally {
        await proc.stop();
      }
    }
  });

  test("--no-light-response keeps Node's Response, on the command line and in a saved configuration", async (t) => {
    const dir = tempDir();
    t.after(() => dir.cleanup());
    writeFileSync(join(dir.path, 'probe.mjs'), PROBE_APPS);
    const args = [
      'web',
      '--app',
      join(dir.path, 'probe.mjs'),
      '--no-light-response',
      '--listen',
      'tcp:0:interface=127.0.0.1',
    ];
    const proc = await spawnTrellis(args, { timeoutMs: 30_000 });
    try {
      assert.deepEqual(await (await fetch(proc.url)).json(), { replaced: false, name: 'Response' });
    } finally {
      await proc.stop();
    }
    const saved = await runTrellis([...args, '--save-config', join(dir.path, 'saved.json')]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal(
      (JSON.parse(readFileSync(join(dir.path, 'saved.json'), 'utf8')) as { options: Record<string, unknown> }).options[
        'no-light-response'
      ],
      true,
    );
    const run = await spawnTrellis(['run', join(dir.path, 'saved.json')], { timeoutMs: 30_000 });
    try {
      assert.deepEqual(await (await fetch(run.url)).json(), { replaced: false, name: 'Response' });
    } finally {
      await run.stop();
    }
  });

  test('--no-light-response without --app is a one-line error', async () => {
    const r = await runTrellis(['web', '--path', '.', '--no-light-response']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(
      r.stderr,
      /--no-light-response only applies to --app; drop it or serve a Fetch app with --app MODULE#export/,
    );
  });

  test('a Hono app served by trellis web --app answers its routes with the light Response', async () => {
    const proc = await spawnTrellis(
      ['web', '--app', join(FIXTURES, 'hono-app.mjs'), '--listen', 'tcp:0:interface=127.0.0.1'],
      { timeoutMs: 30_000 },
    );
    try {
      const hello = await fetch(`${proc.url}hello`);
      assert.equal(hello.headers.get('content-type'), 'text/plain;charset=UTF-8');
      assert.equal(await hello.text(), 'hello from hono at /');
      assert.deepEqual(await (await fetch(`${proc.url}url?a=1`)).json(), { url: `${proc.url}url?a=1`, path: '/url' });
      const posted = await fetch(`${proc.url}json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      assert.deepEqual(await posted.json(), { got: { a: 1 } });
      const cookies = await fetch(`${proc.url}cookies`);
      assert.equal(cookies.headers.getSetCookie().length, 2);
      const redirect = await fetch(`${proc.url}redirect`, { redirect: 'manual' });
      assert.equal(redirect.status, 302);
      assert.equal(redirect.headers.get('location'), '/hello');
      assert.equal((await fetch(`${proc.url}big?mb=1`)).headers.get('content-type'), 'application/octet-stream');
      assert.equal((await fetch(`${proc.url}boom`)).status, 500);
      assert.equal((await fetch(`${proc.url}nothing`)).status, 404);
    } finally {
      await proc.stop();
    }
  });
});
