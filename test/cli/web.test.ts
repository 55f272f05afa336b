import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { needPeer } from '../helpers/peers.js';
import { ROOT, runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

/** Copies the fixture site modules somewhere outside the package, so 'trellis' must be resolved for them. */
function fixtureDir() {
  const dir = tempDir('trellis-site-');
  copyFileSync(join(ROOT, 'test/fixtures/class-site.ts'), join(dir.path, 'site.ts'));
  copyFileSync(join(ROOT, 'test/fixtures/class-site.js'), join(dir.path, 'site.js'));
  return dir;
}

const oneLine = (text: string) => text.trim().split('\n').length === 1;

test('trellis --help and --version', async () => {
  const help = await runTrellis(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /trellis COMMAND/);
  assert.match(help.stdout, /\bweb\b/);
  const webHelp = await runTrellis(['web', '--help']);
  assert.equal(webHelp.code, 0);
  for (const option of [
    '--listen',
    '--port',
    '--https',
    '--add-header',
    '--class',
    '--logfile',
    '--display-tracebacks',
  ])
    assert.ok(webHelp.stdout.includes(option), option);
  const version = await runTrellis(['--version']);
  assert.match(version.stdout, /^trellis \d+\.\d+\.\d+\n$/);
});

test('an unknown command, an unknown flag and a missing value are one-line errors with exit 2', async () => {
  for (const args of [['frobnicate'], ['web', '--bogus'], ['web', '--listen'], ['web', 'stray']]) {
    const r = await runTrellis(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.match(r.stderr, /^trellis: /);
  }
});

test('a bad endpoint string names the problem', async () => {
  const r = await runTrellis(['web', '--listen', 'tcp:notaport']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad endpoint "tcp:notaport": port must be a number/);
  assert.ok(oneLine(r.stderr));
});

test('a port in use is one line and exit 1', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = await runTrellis(['web', '--listen', `tcp:${port}:interface=127.0.0.1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /address already in use/);
    assert.ok(oneLine(r.stderr), r.stderr);
  } finally {
    blocker.close();
  }
});

test('an unreadable certificate is one line and exit 1', async () => {
  const r = await runTrellis([
    'web',
    '--https',
    '0',
    '--certificate',
    '/nonexistent/cert.pem',
    '--privkey',
    '/nonexistent/key.pem',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read the TLS certificate \/nonexistent\/cert\.pem: no such file/);
  assert.ok(oneLine(r.stderr));
  // Without --privkey the key is read from the certificate file: the error names the certificate.
  const alone = await runTrellis(['web', '--https', '0', '--certificate', '/nonexistent/cert.pem']);
  assert.equal(alone.code, 1);
  assert.match(alone.stderr, /cannot read the TLS certificate \/nonexistent\/cert\.pem: no such file/);
  assert.ok(oneLine(alone.stderr));
});

test('a certificate that does not match its key is one line and exit 1', async (t) => {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const a = tempDir();
  const b = tempDir();
  try {
    const one = makeCertificate(openssl, a.path);
    const two = makeCertificate(openssl, b.path);
    const r = await runTrellis([
      'web',
      '--listen',
      `ssl:0:interface=127.0.0.1:privateKey=${one.key}:certKey=${two.cert}`,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot use the TLS key and certificate/);
    assert.ok(oneLine(r.stderr));
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test('--class serves a TypeScript Resource class from a module outside the package', async () => {
  const dir = fixtureDir();
  const server = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--class', './site.ts#Root'], {
    cwd: dir.path,
  });
  try {
    const res = await fetch(new URL('/hello', server.url.replace('localhost', '127.0.0.1')));
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^hello from a class at http:\/\/127\.0\.0\.1:\d+\/hello$/);
  } finally {
    await server.stop();
    dir.cleanup();
  }
});

test('--class takes a JavaScript module and its default export', async () => {
  const dir = fixtureDir();
  const server = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--class', 'site.js'], {
    cwd: dir.path,
  });
  try {
    assert.equal(await (await fetch(new URL('/any/path', server.url))).text(), 'hello from javascript');
  } finally {
    await server.stop();
    dir.cleanup();
  }
});

test('--class errors: missing file, missing export, not a Resource', async () => {
  const dir = fixtureDir();
  try {
    const cases: Array<[string, RegExp]> = [
      ['./nope.ts#Root', /--class: no such file .*nope\.ts/],
      [
        './site.ts#Missing',
        /--class: \.\/site\.ts has no export "Missing" \(exports: .*Root.*\); name one, e\.g\. \.\/site\.ts#\w+$/m,
      ],
      [
        './site.ts',
        /--class: \.\/site\.ts has no export "default" \(exports: .*\); name one, e\.g\. \.\/site\.ts#\w+$/m,
      ],
      ['./site.ts#notAResource', /is not a Resource class or instance/],
    ];
    for (const [spec, message] of cases) {
      const r = await runTrellis(['web', '--port', '0', '--class', spec], { cwd: dir.path });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.ok(oneLine(r.stderr), r.stderr);
    }
  } finally {
    dir.cleanup();
  }
});

test('--add-header reaches every response and --logfile writes combined lines', async () => {
  const dir = fixtureDir();
  const log = join(dir.path, 'access.log');
  const server = await spawnTrellis(
    [
      'web',
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--class',
      './site.ts#Root',
      '--add-header',
      'X-Frame-Options: DENY',
      '--add-header',
      'X-Test:  spaced ',
      '--logfile',
      log,
    ],
    { cwd: dir.path },
  );
  try {
    const ok = await fetch(new URL('/hello', server.url), { headers: { 'User-Agent': 'tester "quoted"' } });
    assert.equal(ok.headers.get('x-frame-options'), 'DENY');
    assert.equal(ok.headers.get('x-test'), 'spaced');
    await ok.text();
    const missing = await fetch(new URL('/missing', server.url));
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-frame-options'), 'DENY');
    await missing.text();
  } finally {
    await server.stop();
  }
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    /^127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/hello HTTP\/1\.1" 200 \d+ "-" "tester \\"quoted\\""$/,
  );
  assert.match(lines[1]!, /"GET \/missing HTTP\/1\.1" 404 /);
  dir.cleanup();
});

test('--add-header refuses a value without a name', async () => {
  const r = await runTrellis(['web', '--add-header', 'no colon here']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--add-header needs "Name: value"/);
});

test('tracebacks appear only with --display-tracebacks', async () => {
  const dir = fixtureDir();
  try {
    for (const [flags, shown] of [
      [[], false],
      [['--display-tracebacks'], true],
    ] as const) {
      const server = await spawnTrellis(
        ['web', '--listen', 'tcp:0:interface=127.0.0.1', '--class', './site.ts#Root', ...flags],
        { cwd: dir.path },
      );
      try {
        const res = await fetch(new URL('/boom', server.url));
        assert.equal(res.status, 500);
        const body = await res.text();
        assert.equal(body.includes('fixture failure &lt;here&gt;'), shown);
        assert.match(server.stderr(), /fixture failure <here>/, 'the error log always has it');
      } finally {
        await server.stop();
      }
    }
  } finally {
    dir.cleanup();
  }
});

test('startup output lists every listener as a URL', async () => {
  const dir = fixtureDir();
  const sock = join(dir.path, 'web.sock');
  const server = await spawnTrellis(
    ['web', '--listen', 'tcp:0:interface=127.0.0.1', '--listen', `unix:${sock}`, '--class', './site.ts#Root'],
    { cwd: dir.path },
  );
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.match(server.stdout(), /serving http:\/\/127\.0\.0\.1:\d+\//);
    assert.ok(server.stdout().includes(`serving unix:${sock}`));
  } finally {
    await server.stop();
    dir.cleanup();
  }
});

test('SIGTERM lets an in-flight request finish, then exits 0', async () => {
  const dir = fixtureDir();
  const server = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--class', './site.ts#Root'], {
    cwd: dir.path,
  });
  try {
    const pending = fetch(new URL('/slow', server.url)).then(async (r) => [r.status, await r.text()] as const);
    await new Promise((r) => setTimeout(r, 150));
    const exited = server.stop('SIGTERM');
    assert.deepEqual(await pending, [200, 'finished after a while']);
    assert.equal(await exited, 0);
    await assert.rejects(fetch(new URL('/hello', server.url)));
  } finally {
    await server.stop('SIGKILL');
    dir.cleanup();
  }
});

test('HTTPS from the command line serves HTTP/2 and HTTP/1.1', async (t) => {
  const openssl = needPeer(t, 'openssl');
  const curl = needPeer(t, 'curl');
  if (!openssl || !curl) return;
  const dir = fixtureDir();
  const tls = makeCertificate(openssl, dir.path);
  writeFileSync(join(dir.path, 'unused'), '');
  const server = await spawnTrellis(
    [
      'web',
      '--listen',
      `ssl:0:interface=127.0.0.1:privateKey=${tls.key}:certKey=${tls.cert}`,
      '--class',
      './site.ts#Root',
    ],
    { cwd: dir.path },
  );
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const port = new URL(server.url).port;
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(curl, [
      '-s',
      '--cacert',
      tls.cert,
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      '-w',
      ' %{http_version}',
      `https://localhost:${port}/hello`,
    ]).toString();
    assert.equal(out, `hello from a class at https://localhost:${port}/hello 2`);
  } finally {
    await server.stop();
    dir.cleanup();
  }
});

test('--https PORT with --certificate and --privkey serves TLS', async (t) => {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const dir = fixtureDir();
  const tls = makeCertificate(openssl, dir.path);
  const server = await spawnTrellis(
    ['web', '--https', '0', '--certificate', tls.cert, '--privkey', tls.key, '--class', './site.ts#Root'],
    { cwd: dir.path },
  );
  try {
    assert.match(server.url, /^https:\/\/localhost:\d+\/$/);
    const { request } = await import('node:https');
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(new URL('/hello', server.url), { ca: readFileSync(tls.cert) }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    assert.match(body, /^hello from a class at https:\/\/localhost:\d+\/hello$/);
  } finally {
    await server.stop();
    dir.cleanup();
  }
});

test('--logfile - writes the access log to stdout', async () => {
  const dir = fixtureDir();
  const server = await spawnTrellis(
    ['web', '--listen', 'tcp:0:interface=127.0.0.1', '--class', './site.ts#Root', '--logfile', '-'],
    { cwd: dir.path },
  );
  try {
    await (await fetch(new URL('/hello?from=stdout', server.url))).text();
    await new Promise((r) => setTimeout(r, 100));
    assert.match(server.stdout(), /"GET \/hello\?from=stdout HTTP\/1\.1" 200 \d+ "-" "/);
  } finally {
    await server.stop();
    dir.cleanup();
  }
});

test('SIGINT also drains and exits 0', async () => {
  const dir = fixtureDir();
  const server = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--class', './site.ts#Root'], {
    cwd: dir.path,
  });
  try {
    const pending = fetch(new URL('/slow', server.url)).then((r) => r.status);
    await new Promise((r) => setTimeout(r, 150));
    const exited = server.stop('SIGINT');
    assert.equal(await pending, 200);
    assert.equal(await exited, 0);
  } finally {
    await server.stop('SIGKILL');
    dir.cleanup();
  }
});
