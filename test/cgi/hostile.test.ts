// The hostile inputs of SECURITY.md §2.3–§2.6 against real CGI scripts (perl): httpoxy, the
// server's environment, argv from the query, path traversal through PATH_INFO, a script that never
// ends, one that floods stderr, one that prints garbage, too many at once, a client that leaves.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { symlinkSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CGIScript, FilteredScript } from '../../src/cgi/cgi-script.js';
import { CgiProcessLimit } from '../../src/cgi/process-limit.js';
import { File } from '../../src/static/file.js';
import { alive, scriptFolder, serveLogged, until } from '../helpers/cgi.js';
import { findPeer, needPeer } from '../helpers/peers.js';
import { rawHttp } from '../helpers/raw-http.js';

const PERL = '#!/usr/bin/perl\n';
const SCRIPTS = {
  'env.cgi': `${PERL}print "Content-Type: text/plain\\n\\n"; print "ARGC=" . scalar(@ARGV) . "\\n"; print "$_=$ENV{$_}\\n" for sort keys %ENV;\n`,
  'forever.cgi': `${PERL}$| = 1; my $kid = fork(); if (!$kid) { sleep 1000; exit 0 } print STDERR "pids $$ $kid\\n"; 1 while 1;\n`,
  'slow.cgi': `${PERL}$| = 1; print STDERR "pid $$\\n"; print "Content-Type: text/plain\\n\\nstart\\n"; sleep 1000;\n`,
  'flood.cgi': `${PERL}my $line = ('e' x 999) . "\\n"; print STDERR $line for 1 .. 20000; print "Content-Type: text/plain\\n\\nstill fine\\n";\n`,
  'garbage.cgi': `${PERL}print "\\x00\\x01\\xffgarbage\\n\\nbody";\n`,
  'silent.cgi': `${PERL}exit 0;\n`,
  'half.cgi': `${PERL}print "Content-Type: text/plain\\n"; exit 0;\n`,
  'splitting.cgi': `${PERL}print "Content-Type: text/plain\\nX-Evil: a\\rSet-Cookie: owned=1\\n\\n";\n`,
  'loop.cgi': `${PERL}print "Location: /loop.cgi\\n\\n";\n`,
  'writable.cgi': { text: `${PERL}print "Content-Type: text/plain\\n\\nran\\n";\n`, mode: 0o777 },
  'plain.cgi': { text: `${PERL}print "Content-Type: text/plain\\n\\nran\\n";\n`, mode: 0o644 },
};

describe('CGI under hostile input', () => {
  const dir = scriptFolder([], SCRIPTS);
  const outside = scriptFolder([], { 'secret.txt': { text: 'secret\n', mode: 0o644 } });
  let server: Awaited<ReturnType<typeof serveLogged>>;
  const limit = new CgiProcessLimit(4);

  before(async () => {
    mkdirSync(join(dir.path, 'docs'));
    chmodSync(join(dir.path, 'docs'), 0o755);
    symlinkSync(outside.path, join(dir.path, 'docs', 'out'));
    process.env.TRELLIS_TEST_SECRET = 'do-not-leak';
    const root = new File(dir.path, {
      processors: {
        // Only the endless script has a short timeout: on a loaded machine the others may be slow.
        '.cgi': (path, { root: docRoot }) =>
          new CGIScript(path, {
            documentRoot: docRoot,
            timeout: path.endsWith('/forever.cgi') ? 1500 : 60_000,
            killGrace: 500,
            processLimit: limit,
            maxStderrBytes: 4096,
          }),
      },
    });
    server = await serveLogged(root);
  });
  after(async () => {
    delete process.env.TRELLIS_TEST_SECRET;
    await server.close();
    dir.cleanup();
    outside.cleanup();
  });

  const env = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.base}${path}`, { headers });
    const text = await res.text();
    return {
      res,
      text,
      vars: new Map(
        text
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      ),
    };
  };

  it('httpoxy: a Proxy header never becomes HTTP_PROXY (SECURITY.md §2.4)', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const { vars } = await env('/env.cgi', { Proxy: 'http://evil.example:3128', 'X-Ok': '1' });
    assert.equal(vars.get('HTTP_X_OK'), '1');
    assert.equal(
      [...vars.keys()].some((k) => /PROXY/i.test(k)),
      false,
    );
  });

  it("the server's environment does not leak: only meta-variables, HTTP_* and PATH (SECURITY.md §2.3)", async (t) => {
    if (!needPeer(t, 'perl')) return;
    const { vars } = await env('/env.cgi?x=1', { X_Underscore: 'dropped' });
    assert.equal(vars.get('PATH'), '/usr/bin:/bin');
    assert.equal(vars.has('TRELLIS_TEST_SECRET'), false);
    assert.equal(vars.has('HOME'), false);
    assert.equal(vars.has('HTTP_X_UNDERSCORE'), false);
    const allowed =
      /^(ARGC|PATH|GATEWAY_INTERFACE|SERVER_\w+|REQUEST_\w+|SCRIPT_\w+|QUERY_STRING|DOCUMENT_ROOT|REMOTE_\w+|HTTP_[A-Z0-9_]+)$/;
    assert.deepEqual(
      [...vars.keys()].filter((k) => !allowed.test(k)),
      [],
    );
  });

  it('the query never becomes argv, ISINDEX style or any other (SECURITY.md §2.5)', async (t) => {
    if (!needPeer(t, 'perl')) return;
    for (const query of ['a+b', '-e+print', '-n', '%2Detc%2Fpasswd']) {
      const { vars } = await env(`/env.cgi?${query}`);
      assert.equal(vars.get('ARGC'), '0', query);
      assert.equal(vars.get('QUERY_STRING'), query);
    }
    // A FilteredScript's interpreter gets the file and nothing more.
    const perl = findPeer('perl')!;
    assert.deepEqual(new FilteredScript(join(dir.path, 'env.cgi'), { filter: perl }).command(), [
      perl,
      [join(dir.path, 'env.cgi')],
    ]);
  });

  it('path traversal through PATH_INFO is 400, and PATH_TRANSLATED never leaves the root', async (t) => {
    if (!needPeer(t, 'perl')) return;
    for (const path of [
      '/env.cgi/..%2F..%2Fetc%2Fpasswd',
      '/env.cgi/%2e%2e/%2e%2e/etc/passwd',
      '/env.cgi/a%5C..%5C..%5Cetc',
      '/env.cgi/a%0d%0aX:%20y',
    ]) {
      const res = await rawHttp(server.port!, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(res, /^HTTP\/1\.1 400 /, path);
    }
    const inside = await env('/env.cgi/docs/readme');
    assert.equal(inside.vars.get('PATH_TRANSLATED'), join(dir.path, 'docs/readme'));
    const through = await env('/env.cgi/docs/out/secret.txt');
    assert.equal(through.vars.get('PATH_INFO'), '/docs/out/secret.txt');
    assert.equal(through.vars.has('PATH_TRANSLATED'), false, 'a symlink leads PATH_TRANSLATED out of the root');
  });

  it('a script that never ends is killed with its whole process group at the timeout: 504 and a log line', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const res = await fetch(`${server.base}/forever.cgi`);
    assert.equal(res.status, 504);
    const line = server.errors.find((l) => l.includes('forever.cgi stderr: pids'))!;
    const [, parent, kid] = /pids (\d+) (\d+)/.exec(line)!.map(Number) as [number, number, number];
    await until(() => !alive(parent) && !alive(kid), 10_000, 'the script and its child to be killed');
    assert.ok(server.errors.some((l) => l.includes('CgiError') && l.includes('timeout')));
  });

  it('a script flooding stderr is logged up to the limit, the rest counted; its answer still arrives', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const before = server.errors.length;
    const res = await fetch(`${server.base}/flood.cgi`);
    assert.equal(await res.text(), 'still fine\n');
    await until(
      () => server.errors.slice(before).some((l) => l.includes('not logged')),
      10_000,
      'the dropped-bytes line',
    );
    const lines = server.errors.slice(before).filter((l) => l.includes('flood.cgi stderr:'));
    const logged = lines.reduce((n, l) => n + l.length, 0);
    assert.ok(logged < 4096 + lines.length * 200, `${logged} bytes of stderr logged`);
    assert.ok(server.errors.slice(before).some((l) => /\d+ more bytes of stderr not logged/.test(l)));
  });

  it('garbage, no output, a cut head or a response-splitting field give 502 and a log line', async (t) => {
    if (!needPeer(t, 'perl')) return;
    for (const [script, code] of [
      ['garbage.cgi', 'BAD_OUTPUT'],
      ['silent.cgi', 'NO_HEAD'],
      ['half.cgi', 'NO_HEAD'],
      ['splitting.cgi', 'BAD_OUTPUT'],
    ] as const) {
      const before = server.errors.length;
      const res = await fetch(`${server.base}/${script}`);
      assert.equal(res.status, 502, script);
      assert.equal(res.headers.get('set-cookie'), null);
      const text = await res.text();
      assert.doesNotMatch(text, /garbage|owned/);
      assert.ok(
        server.errors.slice(before).some((l) => l.includes(`CgiError [${code}]`) && l.includes(script)),
        `${script}: ${server.errors.slice(before).join('\n')}`,
      );
    }
  });

  it('local redirects stop after 10 with a 502', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const res = await fetch(`${server.base}/loop.cgi`);
    assert.equal(res.status, 502);
    assert.ok(server.errors.some((l) => l.includes('TOO_MANY_REDIRECTS')));
  });

  it('past the process limit a request is 503 with Retry-After; a client that leaves has its script killed', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const before = server.errors.length;
    const requests = Array.from({ length: limit.max }, () => {
      const req = httpRequest(`${server.base}/slow.cgi`);
      req.on('error', () => {});
      req.end();
      return req;
    });
    await until(
      () =>
        limit.running === limit.max &&
        server.errors.slice(before).filter((l) => l.includes('slow.cgi stderr: pid')).length === limit.max,
      20_000,
      'every slot taken',
    );
    const refused = await fetch(`${server.base}/env.cgi`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    const pids = server.errors
      .slice(before)
      .flatMap((l) => /slow\.cgi stderr: pid (\d+)/.exec(l)?.[1] ?? [])
      .map(Number);
    for (const req of requests) req.destroy();
    await until(() => pids.every((pid) => !alive(pid)), 10_000, 'the scripts of clients that left to be killed');
    await until(() => limit.running === 0, 10_000, 'the slots to be free');
    assert.equal((await fetch(`${server.base}/env.cgi`)).status, 200);
  });

  it('a script writable by others, or not executable, is refused (403, logged), never sent as source', async (t) => {
    if (!needPeer(t, 'perl')) return;
    for (const script of ['writable.cgi', 'plain.cgi']) {
      const before = server.errors.length;
      const res = await fetch(`${server.base}/${script}`);
      assert.equal(res.status, 403, script);
      assert.doesNotMatch(await res.text(), /perl|ran/);
      assert.ok(server.errors.slice(before).some((l) => l.includes('refused to run') && l.includes(script)));
    }
  });
});

describe('CGI under a gateway mount point', () => {
  const dir = scriptFolder([], { 'env.cgi': SCRIPTS['env.cgi'] });
  after(() => dir.cleanup());

  it('a site mounted at /app by a FastCGI front end gives scripts SCRIPT_NAME and REQUEST_URI under /app', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const { serveCgiParams } = await import('../../src/channels/cgi-params.js');
    const { Site } = await import('../../src/site.js');
    const site = new Site(
      new File(dir.path, {
        processors: { '.cgi': (path, { root: docRoot }) => new CGIScript(path, { documentRoot: docRoot }) },
      }),
    );
    const chunks: Buffer[] = [];
    let code = 0;
    const done = new Promise<void>((resolve) => {
      const sink = {
        writeHead: (status: number) => void (code = status),
        write: (chunk: Buffer) => {
          chunks.push(Buffer.from(chunk));
          return true;
        },
        end: (chunk?: Buffer) => {
          if (chunk) chunks.push(Buffer.from(chunk));
          resolve();
        },
        endText: (text: string) => {
          chunks.push(Buffer.from(text));
          resolve();
        },
        onDrain: () => {},
        abort: () => resolve(),
        closeAfterResponse: () => {},
        queuedBytes: () => null,
      };
      const params = {
        REQUEST_METHOD: 'GET',
        SERVER_PROTOCOL: 'HTTP/1.1',
        SCRIPT_NAME: '/app',
        PATH_INFO: '/env.cgi/more',
        REQUEST_URI: '/app/env.cgi/more?z=9',
        QUERY_STRING: 'z=9',
        HTTP_HOST: 'public.example',
        SERVER_NAME: 'public.example',
        SERVER_PORT: '80',
        REMOTE_ADDR: '198.51.100.7',
        REMOTE_PORT: '5555',
      };
      serveCgiParams(site, params, { body: null, sink, channel: 'fastcgi' });
    });
    await done;
    const text = Buffer.concat(chunks).toString();
    assert.equal(code, 200, text);
    assert.match(text, /\nSCRIPT_NAME=\/app\/env\.cgi\n/);
    assert.match(text, /\nREQUEST_URI=\/app\/env\.cgi\/more\?z=9\n/);
    assert.match(text, /\nPATH_INFO=\/more\n/);
    assert.match(text, /\nREMOTE_ADDR=198\.51\.100\.7\n/);
  });
});
