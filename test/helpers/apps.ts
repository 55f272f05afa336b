// The framework fixtures (test/fixtures/apps/) as Trellis sites, and the checks every channel and
// front end runs against them: routing, bodies, an upload, a redirect, cookies, a thrown error,
// public URLs, and a client that leaves mid-response.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { AccessLogEntry } from '../../src/access-log.js';
import { appResource } from '../../src/app/detect.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { ROOT } from './server.js';

export const FRAMEWORKS = ['express', 'koa', 'fastify', 'hono'] as const;
export type Framework = (typeof FRAMEWORKS)[number];
export const FIXTURES = join(ROOT, 'test/fixtures/apps');

/** The fixture module of `framework`: `makeApp(base)` and the shared `left` counter. */
export async function fixture(
  framework: Framework,
): Promise<{ makeApp(base?: string): unknown; left: { count: number } }> {
  const mod = (await import(join(FIXTURES, `${framework}-app.mjs`))) as { makeApp(base?: string): unknown };
  const shared = (await import(join(FIXTURES, 'shared.mjs'))) as { left: { count: number } };
  return { makeApp: mod.makeApp, left: shared.left };
}

/** A Site serving `framework`'s fixture at `base` (`/` or `/a/b`), with `X-Added: yes` on every response. */
export async function appSite(
  framework: Framework,
  base: string,
): Promise<{ site: Site; logged: AccessLogEntry[]; left: { count: number } }> {
  const { makeApp, left } = await fixture(framework);
  const app = await appResource(makeApp(base));
  let root: Resource = app;
  if (base !== '/') {
    const segments = base.split('/').filter(Boolean);
    root = new Resource();
    let parent = root;
    segments.forEach((segment, i) => {
      const child = i === segments.length - 1 ? app : new Resource();
      parent.putChild(segment, child);
      parent = child;
    });
  }
  const logged: AccessLogEntry[] = [];
  const accessLog = { log: (e: AccessLogEntry) => void logged.push(e), reopen() {}, close: async () => {} };
  const site = new Site(root, { headers: [['X-Added', 'yes']], accessLog, logError: () => {} });
  return { site, logged, left };
}

export interface AppReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type Send = (
  method: string,
  path: string,
  options?: { headers?: Record<string, string>; body?: Buffer | string },
) => Promise<AppReply>;

function header(reply: AppReply, name: string): string {
  const v = reply.headers[name];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

function json(reply: AppReply): Record<string, unknown> {
  try {
    return JSON.parse(reply.body.toString()) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (status ${reply.status}): ${reply.body.toString().slice(0, 300)}`);
  }
}

/** A multipart/form-data body with one field and one file of `size` bytes. */
export function multipart(size: number): { body: Buffer; type: string; sha256: string } {
  const boundary = '----trellis-test-boundary';
  const file = Buffer.alloc(size);
  for (let i = 0; i < size; i++) file[i] = (i * 31) & 0xff;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nholiday\r\n`),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return {
    body,
    type: `multipart/form-data; boundary=${boundary}`,
    sha256: createHash('sha256').update(file).digest('hex'),
  };
}

/**
 * Runs the common checks through `send` against `framework` mounted at `base`, reached at the public
 * `origin` (`http://host:port`, what its generated URLs must start with).
 */
export async function checkRoutes(
  send: Send,
  framework: Framework,
  base: string,
  origin: string,
  where: string,
): Promise<void> {
  const mount = base === '/' ? '' : base;
  const at = (m: string) => `${where}: ${m}`;

  const hello = await send('GET', `${mount}/hello`);
  assert.equal(hello.status, 200, at('GET /hello'));
  assert.equal(hello.body.toString(), `hello from ${framework} at ${mount || '/'}`, at('the app sees its mount'));
  assert.equal(header(hello, 'x-added'), 'yes', at('--add-header reaches app responses'));
  assert.match(header(hello, 'date'), /GMT$/, at('Date'));

  const url = json(await send('GET', `${mount}/url?x=1&y=%C3%A9`));
  assert.equal(url.url, `${origin}${mount}/url?x=1&y=%C3%A9`, at('the public URL'));
  assert.equal(url.path, '/url', at('the app routes on the path below the mount'));

  const posted = json(
    await send('POST', `${mount}/json`, {
      headers: { 'content-type': 'application/json' },
      body: '{"a":[1,2],"b":"é"}',
    }),
  );
  assert.deepEqual(posted.got, { a: [1, 2], b: 'é' }, at('JSON body'));

  const form = json(
    await send('POST', `${mount}/form`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Ann+Lee&city=K%C3%B6ln',
    }),
  );
  assert.deepEqual(form.got, { name: 'Ann Lee', city: 'Köln' }, at('form body'));

  const upload = multipart(300 * 1024);
  const uploaded = json(
    await send('POST', `${mount}/upload`, { headers: { 'content-type': upload.type }, body: upload.body }),
  );
  assert.deepEqual(
    uploaded,
    {
      fields: { title: 'holiday' },
      files: [{ name: 'photo', filename: 'p.bin', size: 300 * 1024, sha256: upload.sha256 }],
    },
    at('file upload'),
  );

  const redirect = await send('GET', `${mount}/redirect`);
  assert.equal(redirect.status, 302, at('redirect status'));
  const location = header(redirect, 'location');
  assert.ok(
    location === `${mount}/hello` || location === `${origin}${mount}/hello`,
    at(`redirect to the mounted path, got ${location}`),
  );

  const cookies = await send('GET', `${mount}/cookies`, { headers: { cookie: 'z=9; y=8' } });
  assert.equal(cookies.status, 200, at('cookies'));
  assert.deepEqual(json(cookies).cookie, 'z=9; y=8', at('the request cookies reach the app'));
  const set = cookies.headers['set-cookie'];
  const list = Array.isArray(set) ? set : [header(cookies, 'set-cookie')];
  assert.ok(list.join('\n').includes('a=1'), at('first Set-Cookie'));
  assert.ok(list.join('\n').includes('b=2'), at('second Set-Cookie'));

  const boom = await send('GET', `${mount}/boom`);
  assert.equal(boom.status, 500, at("a thrown error is the framework's own 500"));
  assert.equal(header(boom, 'x-added'), 'yes', at('--add-header on the error'));
}
