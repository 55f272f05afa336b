// The CGI channel in memory: the response format on stdout, request bodies read to CONTENT_LENGTH or
// to EOF (Apache's chunked pass-through), refusals, and a front end that stops reading.
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { cgiBody, serveCgi } from '../../../src/channels/cgi/serve.js';
import { Data } from '../../../src/data.js';
import { NOT_DONE_YET, type Request } from '../../../src/request.js';
import { Resource } from '../../../src/resource.js';
import { Site } from '../../../src/site.js';

class Echo extends Resource {
  override isLeaf = true;
  override async POST(request: Request): Promise<string> {
    return `got ${(await request.readBody()).toString()}`;
  }
  override GET(request: Request): string {
    return `${request.prePathURL()} ${request.postpath.join('/')}`;
  }
}

class Forever extends Resource {
  override isLeaf = true;
  lost = false;
  override GET(request: Request): typeof NOT_DONE_YET {
    const timer = setInterval(() => request.write('x'.repeat(100)), 1);
    request.notifyFinish().catch(() => {
      this.lost = true;
      clearInterval(timer);
    });
    return NOT_DONE_YET;
  }
}

function site() {
  const root = new Resource();
  root.putChild('echo', new Echo());
  root.putChild('data', new Data('plain', 'text/plain'));
  const forever = new Forever();
  root.putChild('forever', forever);
  return { site: new Site(root, { serverHeader: null, logError: () => {} }), forever };
}

async function run(env: Record<string, string>, input: Buffer | string | null = null) {
  const stdin = new PassThrough();
  const chunks: Buffer[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  if (input !== null) stdin.end(input);
  const result = await serveCgi(site().site, { env, stdin, stdout });
  return { text: Buffer.concat(chunks).toString(), ...result };
}

describe('serveCgi', () => {
  it('writes a Status line, the headers and the body (CRLF, blank line)', async () => {
    const { text, completed } = await run({
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '/cgi-bin/app',
      PATH_INFO: '/data',
      SERVER_NAME: 'example.org',
      SERVER_PORT: '80',
    });
    assert.equal(completed, true);
    assert.match(text, /^Status: 200 OK\r\n/);
    assert.match(text, /\r\nContent-Type: text\/plain\r\n/);
    assert.match(text, /\r\nContent-Length: 5\r\n\r\nplain$/);
  });

  it('mounts the site at SCRIPT_NAME', async () => {
    const { text } = await run({
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '/cgi-bin/app',
      PATH_INFO: '/echo/a',
      HTTP_HOST: 'example.org',
    });
    assert.match(text, /\r\n\r\nhttp:\/\/example\.org\/cgi-bin\/app\/echo a$/);
  });

  it('reads exactly CONTENT_LENGTH bytes even when stdin has more and never ends', async () => {
    const stdin = new PassThrough();
    stdin.write('hello world and more');
    const out: Buffer[] = [];
    const stdout = new Writable({
      write: (c: Buffer, _e, cb) => {
        out.push(c);
        cb();
      },
    });
    await serveCgi(site().site, {
      env: { REQUEST_METHOD: 'POST', PATH_INFO: '/echo', CONTENT_LENGTH: '11' },
      stdin,
      stdout,
    });
    assert.match(Buffer.concat(out).toString(), /\r\n\r\ngot hello world$/);
  });

  it('reads to EOF for a chunked body passed through without CONTENT_LENGTH (Apache mod_cgid)', async () => {
    const { text } = await run(
      { REQUEST_METHOD: 'POST', PATH_INFO: '/echo', HTTP_TRANSFER_ENCODING: 'chunked' },
      'streamed body',
    );
    assert.match(text, /got streamed body$/);
  });

  it('answers 400 when stdin ends before CONTENT_LENGTH', async () => {
    const { text } = await run({ REQUEST_METHOD: 'POST', PATH_INFO: '/echo', CONTENT_LENGTH: '100' }, 'short');
    assert.match(text, /^Status: 400 /);
  });

  it('survives stdin ending early when the resource never reads the body', async () => {
    const { text, completed } = await run(
      { REQUEST_METHOD: 'GET', PATH_INFO: '/data', CONTENT_LENGTH: '100' },
      'short',
    );
    assert.equal(completed, true);
    assert.match(text, /^Status: 200 OK\r\n/);
  });

  it('refuses control characters in the environment with 400', async () => {
    const { text } = await run({ REQUEST_METHOD: 'GET', PATH_INFO: '/data', HTTP_X: 'a\nb' });
    assert.match(text, /^Status: 400 Bad Request\r\n/);
  });

  it('reports the request as lost when stdout breaks (the front end went away)', async () => {
    const { site: s, forever } = site();
    let written = 0;
    const stdout = new Writable({
      write(chunk: Buffer, _e, cb) {
        written += chunk.length;
        cb(written > 5000 ? Object.assign(new Error('EPIPE'), { code: 'EPIPE' }) : null);
      },
    });
    stdout.on('error', () => {});
    const result = await serveCgi(s, {
      env: { REQUEST_METHOD: 'GET', PATH_INFO: '/forever' },
      stdin: new PassThrough(),
      stdout,
    });
    assert.equal(result.completed, false);
    assert.equal(forever.lost, true);
  });
});

describe('cgiBody', () => {
  it('is null without a body, leaving stdin untouched', () => {
    const stdin = new PassThrough();
    assert.equal(cgiBody(stdin, null, false), null);
    assert.equal(cgiBody(stdin, 0, false), null);
    assert.equal(stdin.listenerCount('data'), 0);
  });
});
