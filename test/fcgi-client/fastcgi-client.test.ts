// The FastCGI client against a real `php-cgi -b`: form POST, upload, redirect, cookies, a 50 MiB
// streamed answer with bounded memory, the application killed mid-request or down, and against
// fake applications: malformed records and heads, silence past the timeout.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { encodeRecord, FcgiType } from '../../src/channels/fastcgi/records.js';
import { parseFastCGIAddress } from '../../src/fcgi-client/address.js';
import { fastcgiProcessor } from '../../src/fcgi-client/processor.js';
import { FastCGIClientResource } from '../../src/fcgi-client/resource.js';
import { FastCGIPool } from '../../src/fcgi-client/pool.js';
import { CGI_HEAD_PARTIAL, isCgiHeadError, parseCgiHead } from '../../src/http/cgi-head.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { File } from '../../src/static/file.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { findPeer } from '../helpers/peers.js';
import { ROOT, freePort, serveSite, spawnTrellis } from '../helpers/server.js';

const PHP_DIR = join(ROOT, 'test/fixtures/php');

/** `php-cgi -b` on a loopback port, with `children` workers. */
async function startPhp(php: string, children = 4): Promise<{ daemon: Daemon; port: number }> {
  const port = await freePort();
  const daemon = await startDaemon(
    php,
    ['-d', 'upload_max_filesize=16M', '-d', 'post_max_size=16M', '-b', `127.0.0.1:${port}`],
    port,
    {
      env: { PHP_FCGI_CHILDREN: String(children), PHP_FCGI_MAX_REQUESTS: '100000' },
    },
  );
  return { daemon, port };
}

function skipWithoutPhp(t: TestContext): string | null {
  const php = findPeer('php-cgi');
  if (php) return php;
  if (process.env.CI === 'true')
    throw new Error('php-cgi not installed: apt-get install php-cgi (required under CI=true)');
  t.skip('php-cgi not installed: apt-get install php-cgi');
  return null;
}

describe('parseCgiHead on FastCGI STDOUT (the parser CGIScript shares; test/http/cgi-head.test.ts pins the rest)', () => {
  test('reads Status and repeated fields; CRLF or LF lines; any split of the records', () => {
    const text =
      'Status: 404 Not Found\r\nSet-Cookie: a=1\nSet-Cookie: b=2\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc';
    for (let cut = 0; cut <= text.length; cut++) {
      const r = parseCgiHead(Buffer.from(text.slice(0, cut)));
      if (cut < text.indexOf('\r\n\r\n') + 4) {
        assert.equal(r, CGI_HEAD_PARTIAL, String(cut));
        continue;
      }
      assert.ok(r !== CGI_HEAD_PARTIAL && !isCgiHeadError(r), String(cut));
      assert.equal(r.status, 404);
      assert.equal(r.reason, 'Not Found');
      assert.deepEqual(r.fields, ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
      assert.equal(r.bodyStart, text.length - 3);
    }
    const redirect = parseCgiHead(Buffer.from('Location: https://example.org/x\r\n\r\n'));
    assert.equal(!isCgiHeadError(redirect) && redirect !== CGI_HEAD_PARTIAL && redirect.status, 302);
    const plain = parseCgiHead(Buffer.from('Content-Type: text/plain\n\n'));
    assert.equal(!isCgiHeadError(plain) && plain !== CGI_HEAD_PARTIAL && plain.status, 200);
  });

  test('refuses malformed heads, and marks heads past the limits', () => {
    for (const bad of [
      'Status: abc\r\n\r\n',
      'Status: 99 x\r\n\r\n',
      'No colon\r\n\r\n',
      'Bad Name: x\r\n\r\n',
      ' folded: x\r\n\r\n',
      'X: a\x01b\r\n\r\n',
    ]) {
      const r = parseCgiHead(Buffer.from(bad));
      assert.ok(r !== CGI_HEAD_PARTIAL && isCgiHeadError(r) && !r.tooLarge, JSON.stringify(bad));
    }
    const big = parseCgiHead(Buffer.from(`X: ${'a'.repeat(20_000)}`));
    assert.equal(big !== CGI_HEAD_PARTIAL && isCgiHeadError(big) && big.tooLarge, true);
    const many = parseCgiHead(Buffer.from(`${'X: y\r\n'.repeat(101)}\r\n`));
    assert.equal(many !== CGI_HEAD_PARTIAL && isCgiHeadError(many) && many.tooLarge, true);
  });
});

describe('parseFastCGIAddress', () => {
  test('tcp and unix addresses; anything else is null', () => {
    assert.deepEqual(parseFastCGIAddress('tcp:127.0.0.1:9000'), { type: 'tcp', host: '127.0.0.1', port: 9000 });
    assert.deepEqual(parseFastCGIAddress('tcp:[::1]:9000'), { type: 'tcp', host: '::1', port: 9000 });
    assert.deepEqual(parseFastCGIAddress('tcp:9000'), { type: 'tcp', host: '127.0.0.1', port: 9000 });
    assert.deepEqual(parseFastCGIAddress('unix:/run/php.sock'), { type: 'unix', path: '/run/php.sock' });
    for (const bad of ['tcp:host', 'tcp:1:0', 'tcp:1:70000', 'unix:rel.sock', 'udp:1:2', ''])
      assert.equal(parseFastCGIAddress(bad), null, bad);
  });
});

describe('FastCGI client to php-cgi -b', () => {
  let php: { daemon: Daemon; port: number } | null = null;
  let base = '';
  let close: (() => Promise<void>) | null = null;
  const errors: string[] = [];

  before(async () => {
    const bin = findPeer('php-cgi');
    if (!bin) return;
    php = await startPhp(bin);
    const processors = {
      '.php': fastcgiProcessor(`tcp:127.0.0.1:${php.port}`, {
        poolOptions: { maxConnections: 4 },
        logError: (m) => errors.push(m),
      }),
    };
    const server = await serveSite(new Site(new File(PHP_DIR, { processors }), { logError: (m) => errors.push(m) }));
    base = server.base;
    close = server.close;
  });
  after(async () => {
    await close?.();
    await php?.daemon.stop();
  });

  test('a form POST reaches $_POST', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const res = await fetch(`${base}/form.php`, {
      method: 'POST',
      body: new URLSearchParams({ name: 'Ada', lang: 'ts & php' }),
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'method=POST\nname=Ada\nlang=ts & php\n');
  });

  test('a chunked POST (no Content-Length) is read whole and sent with CONTENT_LENGTH', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('name=chunked'));
        c.close();
      },
    });
    const res = await fetch(`${base}/form.php`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      duplex: 'half',
    } as RequestInit);
    assert.equal(await res.text(), 'method=POST\nname=chunked\n');
  });

  test('a multipart file upload of 3 MiB streams to STDIN and arrives whole', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const data = Buffer.alloc(3 * 1024 * 1024, 'abcdefgh');
    const form = new FormData();
    form.append('note', 'hi');
    form.append('doc', new Blob([data]), 'data.bin');
    const res = await fetch(`${base}/upload.php`, { method: 'POST', body: form });
    assert.equal(res.status, 200);
    const md5 = createHash('md5').update(data).digest('hex');
    assert.equal(await res.text(), `doc data.bin ${data.length} ${md5} 0\nnote=hi\n`);
  });

  test('a Location header redirects the client; Status and custom headers pass', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const res = await fetch(`${base}/redirect.php`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/form.php?from=redirect');
    const missing = await fetch(`${base}/status.php`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-custom'), 'yes');
    assert.equal(await missing.text(), 'not here\n');
  });

  test('a local Location (no Status) is served inside the Site as a GET, the client sees only its answer', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const res = await fetch(`${base}/local.php`, {
      method: 'POST',
      body: new URLSearchParams({ name: 'Ada' }),
      redirect: 'manual',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('location'), null);
    assert.equal(res.headers.get('content-type'), 'text/plain;charset=UTF-8');
    // The body went to local.php only: form.php gets a GET without one.
    assert.equal(await res.text(), 'method=GET\n');
    const head = await fetch(`${base}/local.php`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  test('local redirects stop after 10 in a row with a 502 and a log line; the connections stay usable', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const before = errors.length;
    const res = await fetch(`${base}/loop.php`);
    assert.equal(res.status, 502);
    assert.doesNotMatch(await res.text(), /loop\.php/);
    assert.ok(
      errors.slice(before).some((e) => e.includes('TOO_MANY_REDIRECTS')),
      errors.slice(before).join('\n'),
    );
    for (let i = 0; i < 6; i++) assert.equal(await (await fetch(`${base}/hello.php`)).text(), 'Hello, world!\n');
  });

  test('cookies: two Set-Cookie fields out, the Cookie header in', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const res = await fetch(`${base}/cookie.php`, { headers: { Cookie: 'x=1; y=2' } });
    assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=two; path=/; HttpOnly']);
    assert.equal(await res.text(), 'x=1\ny=2\n');
  });

  test('meta-variables: SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME; no HTTP_PROXY (httpoxy), no underscore headers; 400 for an encoded slash', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const res = await fetch(`${base}/env.php/extra/path?q=1`, {
      headers: { Proxy: 'http://evil.example', 'X-Thing': 'thing', 'X-Under_Score': 'no' },
    });
    const env = (await res.json()) as Record<string, unknown>;
    assert.equal(env.SCRIPT_NAME, '/env.php');
    assert.equal(env.PATH_INFO, '/extra/path');
    assert.equal(env.SCRIPT_FILENAME, join(PHP_DIR, 'env.php'));
    assert.equal(env.DOCUMENT_ROOT, PHP_DIR);
    assert.equal(env.QUERY_STRING, 'q=1');
    assert.equal(env.REQUEST_URI, '/env.php/extra/path?q=1');
    assert.equal(env.HTTP_X_THING, 'thing');
    assert.equal(env.HTTP_PROXY, null);
    assert.equal(env.getenv_HTTP_PROXY, false);
    assert.equal(env.HTTP_X_UNDER_SCORE, null);
    assert.equal(env.REMOTE_ADDR, '127.0.0.1');
    // A segment that would climb out through PATH_TRANSLATED never reaches the application.
    assert.equal((await fetch(`${base}/env.php/a%2F..%2F..%2Fetc`)).status, 400);
  });

  test('STDERR output goes to the error log, the answer is served', async (t) => {
    if (!skipWithoutPhp(t)) return;
    const res = await fetch(`${base}/stderr.php`);
    assert.equal(await res.text(), 'ok\n');
    assert.ok(
      errors.some((e) => e.includes('a line on stderr from PHP')),
      errors.join('\n'),
    );
  });

  test('connections are kept alive and reused across requests', async (t) => {
    if (!skipWithoutPhp(t)) return;
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/hello.php`);
      // The answer came in one read: it goes out whole, with its length rather than chunked.
      assert.equal(res.headers.get('content-length'), '14');
      assert.equal(await res.text(), 'Hello, world!\n');
    }
    const head = await fetch(`${base}/hello.php`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const bodies = await Promise.all(
      Array.from({ length: 12 }, () => fetch(`${base}/hello.php`).then((r) => r.text())),
    );
    assert.deepEqual(bodies, Array(12).fill('Hello, world!\n'));
  });
});

describe('FastCGI client through trellis web --processor', () => {
  test('50 MiB streamed to a slow client with bounded memory; --processor .php=fastcgi:tcp:…', async (t) => {
    const bin = skipWithoutPhp(t);
    if (!bin) return;
    const php = await startPhp(bin, 2);
    const trellis = await spawnTrellis([
      'web',
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--path',
      PHP_DIR,
      '--processor',
      `.php=fastcgi:tcp:127.0.0.1:${php.port}`,
    ]);
    const rss = () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${trellis.proc.pid}/status`, 'utf8'))![1]) * 1024;
    try {
      assert.equal(await (await fetch(`${trellis.url}hello.php`)).text(), 'Hello, world!\n');
      const before = rss();
      let paused = 0;
      const { total, hash } = await new Promise<{ total: number; hash: string }>((resolve, reject) => {
        httpGet(`${trellis.url}big.php`, (res) => {
          const h = createHash('md5');
          let total = 0;
          res.once('data', () => {
            // A slow client: nothing read for two seconds, while php-cgi could write all 50 MiB.
            res.pause();
            setTimeout(() => {
              paused = rss();
              res.resume();
            }, 2000);
          });
          res.on('data', (chunk: Buffer) => {
            total += chunk.length;
            h.update(chunk);
          });
          res.on('end', () => resolve({ total, hash: h.digest('hex') }));
          res.on('error', reject);
        }).on('error', reject);
      });
      assert.equal(total, 50 * 1024 * 1024);
      assert.equal(
        hash,
        createHash('md5')
          .update(Buffer.alloc(50 * 1024 * 1024, '0123456789abcdef'))
          .digest('hex'),
      );
      // Without backpressure the whole answer would sit in Trellis's memory by the end of the pause.
      assert.ok(
        paused - before < 20 * 1024 * 1024,
        `RSS grew by ${Math.round((paused - before) / 1048576)} MiB while the client paused`,
      );
    } finally {
      await trellis.stop();
      await php.daemon.stop();
    }
  });

  test('an unknown address is a one-line error naming the form', async () => {
    const { runTrellis } = await import('../helpers/server.js');
    const r = await runTrellis(['web', '--path', PHP_DIR, '--processor', '.php=fastcgi:nowhere']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^trellis: --processor \.php=fastcgi:nowhere: .*tcp:127\.0\.0\.1:9000/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});

/** Resolves once nothing accepts connections on `port` (at most 5 s). */
async function refusing(port: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (!accepted) return;
    if (Date.now() > deadline) throw new Error(`port ${port} still accepts connections`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('FastCGI client failures', () => {
  test('php-cgi killed mid-answer: a cut response; killed before the head: 502; down: 502 at once', async (t) => {
    const bin = skipWithoutPhp(t);
    if (!bin) return;
    const php = await startPhp(bin, 2);
    const errors: string[] = [];
    const root = new Resource();
    const addr = `tcp:127.0.0.1:${php.port}`;
    const pool = new FastCGIPool(parseFastCGIAddress(addr)!, { maxConnections: 2 });
    root.putChild(
      'hang',
      new FastCGIClientResource({ pool, scriptFilename: join(PHP_DIR, 'hang.php'), logError: (m) => errors.push(m) }),
    );
    root.putChild(
      'silent',
      new FastCGIClientResource({ pool, scriptFilename: join(PHP_DIR, 'silent.php'), logError: (m) => errors.push(m) }),
    );
    root.putChild(
      'hello',
      new FastCGIClientResource({ pool, scriptFilename: join(PHP_DIR, 'hello.php'), logError: (m) => errors.push(m) }),
    );
    const server = await serveSite(new Site(root, { logError: (m) => errors.push(m) }));
    try {
      assert.equal(await (await fetch(`${server.base}/hello`)).text(), 'Hello, world!\n');
      const hang = await fetch(`${server.base}/hang`);
      assert.equal(hang.status, 200);
      const reader = hang.body!.getReader();
      const first = await reader.read();
      assert.ok(first.value && first.value.length > 0);
      const silent = fetch(`${server.base}/silent`);
      await new Promise((r) => setTimeout(r, 300));
      process.kill(-php.daemon.proc.pid!, 'SIGKILL');
      // The cut answer never looks complete.
      await assert.rejects(async () => {
        for (;;) {
          const { done } = await reader.read();
          if (done) break;
        }
      });
      const s = await silent;
      assert.equal(s.status, 502);
      assert.match(await s.text(), /closed the connection/);
      // The group's last process may take a moment to go; "down" means the port refuses connections.
      await refusing(php.port);
      const started = Date.now();
      const down = await fetch(`${server.base}/hello`);
      assert.equal(down.status, 502);
      assert.match(await down.text(), /Could not connect/);
      assert.ok(Date.now() - started < 5000);
      assert.ok(
        errors.some((e) => /BACKEND_CONNECT_REFUSED/.test(e)),
        errors.join('\n'),
      );
    } finally {
      await server.close();
      await php.daemon.stop();
    }
  });

  test('a client that leaves mid-answer frees the worker: the connection is closed, the next request is served', async (t) => {
    const bin = skipWithoutPhp(t);
    if (!bin) return;
    const php = await startPhp(bin, 1);
    const pool = new FastCGIPool(parseFastCGIAddress(`tcp:127.0.0.1:${php.port}`)!, { maxConnections: 1 });
    const root = new Resource();
    root.putChild('big', new FastCGIClientResource({ pool, scriptFilename: join(PHP_DIR, 'big.php') }));
    root.putChild('hello', new FastCGIClientResource({ pool, scriptFilename: join(PHP_DIR, 'hello.php') }));
    const server = await serveSite(new Site(root, { logError: () => {} }));
    try {
      const controller = new AbortController();
      const big = await fetch(`${server.base}/big`, { signal: controller.signal });
      await big.body!.getReader().read();
      controller.abort();
      // One php-cgi worker: it is free again only if the abandoned answer's connection was closed.
      const hello = await fetch(`${server.base}/hello`, { signal: AbortSignal.timeout(20_000) });
      assert.equal(await hello.text(), 'Hello, world!\n');
    } finally {
      await server.close();
      await php.daemon.stop();
    }
  });

  /** A fake FastCGI application that answers each request with `reply(socket)`. */
  async function fakeApp(reply: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
    const server = createServer((socket) => {
      let seen = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        seen = Buffer.concat([seen, d]);
        // The empty STDIN record ends the request: header type 5, content length 0.
        if (seen.includes(Buffer.from([1, FcgiType.STDIN, 0, 1, 0, 0]))) reply(socket);
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, port: (server.address() as { port: number }).port };
  }

  test('a bad record, a bad head, an early END_REQUEST, silence: 502/504 and a log line, the server stays up', async () => {
    const cases: Array<[string, (s: Socket) => void, number, RegExp]> = [
      ['bad version', (s) => s.write(Buffer.from([9, 6, 0, 1, 0, 0, 0, 0])), 502, /invalid record/],
      [
        'bad head',
        (s) => s.write(encodeRecord(FcgiType.STDOUT, 1, Buffer.from('Status: nope\r\n\r\n'))),
        502,
        /invalid response head/,
      ],
      ['wrong id', (s) => s.write(encodeRecord(FcgiType.STDOUT, 7, Buffer.from('X: y\r\n\r\n'))), 502, /request id 7/],
      [
        'no head',
        (s) => s.write(encodeRecord(FcgiType.END_REQUEST, 1, Buffer.alloc(8))),
        502,
        /without a response head/,
      ],
      [
        'overloaded',
        (s) => s.write(encodeRecord(FcgiType.END_REQUEST, 1, Buffer.from([0, 0, 0, 0, 2, 0, 0, 0]))),
        502,
        /overloaded/,
      ],
      ['silence', () => {}, 504, /did not answer in time/],
      ['closed', (s) => s.destroy(), 502, /closed the connection/],
    ];
    for (const [what, reply, status, message] of cases) {
      const app = await fakeApp(reply);
      const errors: string[] = [];
      const resource = new FastCGIClientResource({
        pool: new FastCGIPool({ type: 'tcp', host: '127.0.0.1', port: app.port }),
        timeout: 500,
      });
      const server = await serveSite(new Site(resource, { logError: (m) => errors.push(m) }));
      try {
        const res = await fetch(`${server.base}/`);
        assert.equal(res.status, status, what);
        assert.match(await res.text(), message, what);
        assert.ok(
          errors.some((e) => message.test(e)),
          `${what}: ${errors.join('\n')}`,
        );
      } finally {
        await server.close();
        app.server.close();
      }
    }
  });

  test('a kept connection the application closed while idle is replaced, unnoticed by the client', async () => {
    let connections = 0;
    const app = await fakeApp((s) => {
      s.write(
        Buffer.concat([
          encodeRecord(FcgiType.STDOUT, 1, Buffer.from('Content-Type: text/plain\r\n\r\nhi')),
          encodeRecord(FcgiType.STDOUT, 1),
          encodeRecord(FcgiType.END_REQUEST, 1, Buffer.alloc(8)),
        ]),
      );
      // Closes every kept connection shortly after answering.
      setTimeout(() => s.destroy(), 50);
    });
    app.server.on('connection', () => connections++);
    const resource = new FastCGIClientResource({
      pool: new FastCGIPool({ type: 'tcp', host: '127.0.0.1', port: app.port }),
    });
    const server = await serveSite(new Site(resource));
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal(await (await fetch(`${server.base}/`)).text(), 'hi');
        await new Promise((r) => setTimeout(r, 150));
      }
      assert.equal(connections, 3);
    } finally {
      await server.close();
      app.server.close();
    }
  });
  test('a request whose kept connection and its one retry are both closed unanswered gets 502, never a hang', async () => {
    // Answers the first request on each connection; closes the connection on the next one.
    const END = Buffer.from([1, FcgiType.STDIN, 0, 1, 0, 0]);
    const app = createServer((socket) => {
      let answered = false;
      socket.on('data', (d: Buffer) => {
        if (!d.includes(END)) return;
        if (answered) {
          socket.destroy();
          return;
        }
        answered = true;
        socket.write(
          Buffer.concat([
            encodeRecord(FcgiType.STDOUT, 1, Buffer.from('Content-Type: text/plain\r\n\r\nhi')),
            encodeRecord(FcgiType.STDOUT, 1),
            encodeRecord(FcgiType.END_REQUEST, 1, Buffer.alloc(8)),
          ]),
        );
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const pool = new FastCGIPool({ type: 'tcp', host: '127.0.0.1', port: (app.address() as { port: number }).port });
    const errors: string[] = [];
    const server = await serveSite(new Site(new FastCGIClientResource({ pool, logError: (m) => errors.push(m) })));
    try {
      // Two kept connections, each with one answered request behind it.
      const both = await Promise.all([fetch(`${server.base}/`), fetch(`${server.base}/`)]);
      assert.deepEqual(await Promise.all(both.map((r) => r.text())), ['hi', 'hi']);
      assert.equal(pool.openConnections, 2);
      const third = await fetch(`${server.base}/`, { signal: AbortSignal.timeout(5000) });
      assert.equal(third.status, 502);
      assert.match(await third.text(), /closed the connection/);
    } finally {
      await server.close();
      app.close();
    }
  });

  test('one listener set per connection for all its requests; idle connections close after idleTimeout', async () => {
    let connections = 0;
    const app = await fakeApp((s) =>
      s.write(
        Buffer.concat([
          encodeRecord(FcgiType.STDOUT, 1, Buffer.from('Content-Type: text/plain\r\n\r\nhi')),
          encodeRecord(FcgiType.STDOUT, 1),
          encodeRecord(FcgiType.END_REQUEST, 1, Buffer.alloc(8)),
        ]),
      ),
    );
    app.server.on('connection', () => connections++);
    const pool = new FastCGIPool({ type: 'tcp', host: '127.0.0.1', port: app.port }, { idleTimeout: 300 });
    const server = await serveSite(new Site(new FastCGIClientResource({ pool })));
    try {
      assert.equal(await (await fetch(`${server.base}/`)).text(), 'hi');
      const lent = await pool.acquire();
      const listeners = ['data', 'close', 'error', 'timeout'].map((e) => lent.socket.listenerCount(e));
      pool.release(lent.socket);
      for (let i = 0; i < 5; i++) assert.equal(await (await fetch(`${server.base}/`)).text(), 'hi');
      assert.equal(connections, 1);
      assert.deepEqual(
        ['data', 'close', 'error', 'timeout'].map((e) => lent.socket.listenerCount(e)),
        listeners,
      );
      assert.equal(pool.openConnections, 1);
      // Closed by the pool's sweep once idle for 300 ms (checked every 100 ms).
      const closed = new Promise((r) => lent.socket.once('close', r));
      await closed;
      assert.equal(pool.openConnections, 0);
      assert.equal(await (await fetch(`${server.base}/`)).text(), 'hi');
      assert.equal(connections, 2);
    } finally {
      await server.close();
      app.server.close();
    }
  });

  test('an application silent between records for less than the timeout is waited for', async () => {
    const app = await fakeApp((s) => {
      setTimeout(() => s.write(encodeRecord(FcgiType.STDOUT, 1, Buffer.from('Content-Type: text/plain\r\n\r\n'))), 250);
      setTimeout(
        () =>
          s.write(
            Buffer.concat([
              encodeRecord(FcgiType.STDOUT, 1, Buffer.from('late')),
              encodeRecord(FcgiType.STDOUT, 1),
              encodeRecord(FcgiType.END_REQUEST, 1, Buffer.alloc(8)),
            ]),
          ),
        500,
      );
    });
    const resource = new FastCGIClientResource({
      pool: new FastCGIPool({ type: 'tcp', host: '127.0.0.1', port: app.port }),
      timeout: 400,
    });
    const server = await serveSite(new Site(resource));
    try {
      const res = await fetch(`${server.base}/`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'late');
    } finally {
      await server.close();
      app.server.close();
    }
  });
});
