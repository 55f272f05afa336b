// What a user meets when starting `trellis web`: the banner, the terminal access log, --cors,
// --single, --https without a certificate, --open, --watch, --help and mistyped flags, all over real
// sockets with the built command; every error a user can cause is one line and a non-zero exit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { findPeer, needPeer } from '../helpers/peers.js';
import { CLI, ROOT, runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';

const LOOPBACK = 'tcp:0:interface=127.0.0.1';
const oneLine = (text: string) => text.trim().split('\n').length === 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A folder with an app: index.html, an asset, a subdirectory. */
function appDir() {
  const dir = tempDir('trellis-app-');
  const www = join(dir.path, 'www');
  mkdirSync(join(www, 'docs'), { recursive: true });
  writeFileSync(join(www, 'index.html'), '<h1>app</h1>');
  writeFileSync(join(www, 'app.js'), 'console.log(1)');
  writeFileSync(join(www, 'docs', 'guide.txt'), 'guide');
  return { ...dir, www };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('the banner lists the URL, each network address when bound to all interfaces, what is served and how to stop', async () => {
  const app = appDir();
  const server = await spawnTrellis(['web', '--port', '0', '--path', app.www]);
  try {
    await until(() => server.stdout().includes('Ctrl+C'), 'the whole banner');
    const out = server.stdout();
    const port = /serving http:\/\/localhost:(\d+)\//.exec(out)?.[1];
    assert.ok(port, out);
    assert.ok(out.includes(`Files from ${app.www} (directory listings on)`), out);
    assert.match(out, /Press Ctrl\+C to stop/);
    // Every address printed answers.
    const network = [...out.matchAll(/on your network: (\S+)/g)].map((m) => m[1]!);
    for (const url of [`http://127.0.0.1:${port}/`, ...network]) {
      const res = await fetch(new URL('/app.js', url));
      assert.equal(res.status, 200, url);
      assert.equal(await res.text(), 'console.log(1)');
    }
    // Not a terminal: no access log on stdout by default.
    assert.doesNotMatch(server.stdout(), /GET \/app\.js/);
  } finally {
    await server.stop();
    app.cleanup();
  }
});

test('bound to one interface, the banner shows that address only', async () => {
  const app = appDir();
  const server = await spawnTrellis(['web', '--listen', LOOPBACK, '--path', app.www]);
  try {
    await until(() => server.stdout().includes('Ctrl+C'), 'the whole banner');
    assert.match(server.stdout(), /serving http:\/\/127\.0\.0\.1:\d+\//);
    assert.doesNotMatch(server.stdout(), /on your network/);
  } finally {
    await server.stop();
    app.cleanup();
  }
});

test('in a terminal the access log is on stdout, readable and coloured; NO_COLOR and --no-logfile are respected', async (t) => {
  const script = findPeer('script');
  if (!script) {
    if (process.env.CI === 'true')
      throw new Error('script not installed: apt-get install util-linux (required under CI=true)');
    t.skip('script not installed: apt-get install util-linux');
    return;
  }
  const app = appDir();
  const runInPty = async (extraArgs: string[], env: NodeJS.ProcessEnv) => {
    const command = [process.execPath, CLI, 'web', '--listen', LOOPBACK, '--path', app.www, ...extraArgs]
      .map((a) => `'${a}'`)
      .join(' ');
    const base: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color' };
    delete base.FORCE_COLOR;
    delete base.NO_COLOR;
    // Node's colour detection (tty.hasColors) counts any CI variable as a 2-colour terminal.
    delete base.CI;
    const proc = spawn(script, ['-qfec', command, '/dev/null'], {
      env: { ...base, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(() => /serving http:\/\/127\.0\.0\.1:(\d+)\//.test(out), 'the banner in a pty');
      const port = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1];
      await (await fetch(`http://127.0.0.1:${port}/app.js`)).text();
      await (await fetch(`http://127.0.0.1:${port}/nothing-here`)).text();
      if (!extraArgs.includes('--no-logfile')) await until(() => out.includes('/nothing-here'), 'the log line');
      else await sleep(300);
      return out;
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('close', r));
    }
  };
  try {
    const coloured = await runInPty([], {});
    assert.match(coloured, /Access log below/);
    assert.match(coloured, /\d\d:\d\d:\d\d\x1b\[0m 127\.0\.0\.1 GET \/app\.js \x1b\[32m200\x1b\[0m/);
    assert.match(coloured, /GET \/nothing-here \x1b\[33m404\x1b\[0m/);
    const plain = await runInPty([], { NO_COLOR: '1' });
    assert.match(plain, /\d\d:\d\d:\d\d 127\.0\.0\.1 GET \/app\.js 200 14 B/);
    assert.doesNotMatch(plain, /\x1b\[3\dm/);
    const quiet = await runInPty(['--no-logfile'], {});
    assert.doesNotMatch(quiet, /GET \/app\.js/);
  } finally {
    app.cleanup();
  }
});

test('--cors answers preflights and adds Access-Control-Allow-Origin, error pages included', async () => {
  const app = appDir();
  const server = await spawnTrellis(['web', '--listen', LOOPBACK, '--path', app.www, '--cors']);
  try {
    const pre = await fetch(new URL('/app.js', server.url), {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://other.example',
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'Content-Type, X-Token',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /\bPUT\b/);
    assert.equal(pre.headers.get('access-control-allow-headers'), 'Content-Type, X-Token');
    assert.equal(pre.headers.get('access-control-max-age'), '600');
    assert.equal(pre.headers.get('access-control-allow-credentials'), null, 'credentials off by default');
    const get = await fetch(new URL('/app.js', server.url), { headers: { Origin: 'https://other.example' } });
    assert.equal(get.headers.get('access-control-allow-origin'), '*');
    await get.text();
    const missing = await fetch(new URL('/nope.js', server.url), { headers: { Origin: 'https://other.example' } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('access-control-allow-origin'), '*');
    await missing.text();
    // A plain OPTIONS (no Access-Control-Request-Method) still reaches the resource.
    const plain = await fetch(new URL('/app.js', server.url), { method: 'OPTIONS' });
    assert.match(plain.headers.get('allow') ?? '', /GET/);
    await plain.text();
  } finally {
    await server.stop();
    app.cleanup();
  }
});

test('--cors=ORIGINS with --cors-credentials allows only those origins, with Vary: Origin', async () => {
  const app = appDir();
  const server = await spawnTrellis([
    'web',
    '--listen',
    LOOPBACK,
    '--path',
    app.www,
    '--cors=https://app.example,http://localhost:3000',
    '--cors-credentials',
  ]);
  try {
    const ok = await fetch(new URL('/app.js', server.url), { headers: { Origin: 'http://localhost:3000' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
    assert.match(ok.headers.get('vary') ?? '', /Origin/);
    await ok.text();
    const other = await fetch(new URL('/app.js', server.url), { headers: { Origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    await other.text();
    const pre = await fetch(new URL('/app.js', server.url), {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'DELETE' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    assert.equal(pre.headers.get('access-control-allow-methods'), null);
  } finally {
    await server.stop();
    app.cleanup();
  }
});

test('--single serves index.html for app routes and keeps real 404s for missing assets', async () => {
  const app = appDir();
  const server = await spawnTrellis(['web', '--listen', LOOPBACK, '--path', app.www, '--single']);
  try {
    for (const path of ['/users/42', '/settings', '/deep/route/']) {
      const res = await fetch(new URL(path, server.url));
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), '<h1>app</h1>', path);
    }
    for (const path of ['/missing.js', '/img/logo.png']) {
      const res = await fetch(new URL(path, server.url));
      assert.equal(res.status, 404, path);
      await res.text();
    }
    assert.equal(await (await fetch(new URL('/app.js', server.url))).text(), 'console.log(1)');
    assert.equal(await (await fetch(new URL('/docs/guide.txt', server.url))).text(), 'guide');
    const listing = await fetch(new URL('/docs/', server.url));
    assert.match(await listing.text(), /Index of/);
    const post = await fetch(new URL('/users/42', server.url), { method: 'POST' });
    assert.equal(post.status, 404, 'only GET and HEAD fall back');
    await post.text();
  } finally {
    await server.stop();
    app.cleanup();
  }
});

test('--https without a certificate makes a development certificate, says so, and serves HTTPS with it', async (t) => {
  if (!needPeer(t, 'openssl')) return;
  const app = appDir();
  const server = await spawnTrellis(['web', '--listen', LOOPBACK, '--https', '0', '--path', app.www], {
    cwd: app.path,
    timeoutMs: 30_000,
  });
  try {
    await until(() => server.stdout().includes('Ctrl+C'), 'the whole banner');
    const out = server.stdout();
    assert.match(out, /self-signed DEVELOPMENT certificate/);
    assert.match(out, /valid for DNS:localhost, IP:127\.0\.0\.1/);
    const fingerprint = /SHA-256 ([0-9A-F:]+)/.exec(out)?.[1];
    assert.ok(fingerprint, out);
    const port = /serving https:\/\/localhost:(\d+)\//.exec(out)?.[1];
    assert.ok(port, out);
    const seen = await new Promise<{ status: number; fingerprint: string; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: Number(port), path: '/app.js', rejectUnauthorized: false, servername: 'localhost' },
        (res) => {
          const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint: cert.fingerprint256, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(seen.status, 200);
    assert.equal(seen.body, 'console.log(1)');
    assert.equal(seen.fingerprint, fingerprint, 'the certificate served is the one printed');
    assert.ok(!existsSync(join(app.path, 'server.pem')), 'nothing left on disk');
  } finally {
    await server.stop();
    app.cleanup();
  }
});

test('--open runs $BROWSER with the URL, and never under CI or tests', async () => {
  const app = appDir();
  const opened = join(app.path, 'opened.txt');
  const browser = join(app.path, 'browser.sh');
  writeFileSync(browser, `#!/bin/sh\necho "$1" > '${opened}'\n`);
  chmodSync(browser, 0o755);
  // Empty values, as spawnTrellis lays them over this process's environment.
  const env: NodeJS.ProcessEnv = { BROWSER: browser, CI: '', NODE_TEST_CONTEXT: '' };
  const server = await spawnTrellis(['web', '--listen', LOOPBACK, '--path', app.www, '--open'], { env });
  try {
    await until(() => existsSync(opened) && readFileSync(opened, 'utf8').includes('\n'), 'the browser script');
    assert.equal(readFileSync(opened, 'utf8').trim(), server.url);
    // The browser starts before the line is printed, and may write its file before the line arrives.
    await until(() => server.stdout().includes('Opening'), 'the Opening line');
    assert.match(server.stdout(), /Opening http:\/\/127\.0\.0\.1:\d+\/ in a browser/);
  } finally {
    await server.stop();
  }
  writeFileSync(opened, '');
  const underCi = await spawnTrellis(['web', '--listen', LOOPBACK, '--path', app.www, '--open'], {
    env: { ...env, CI: 'true' },
  });
  try {
    await until(() => underCi.stdout().includes('--open:'), 'the --open line');
    assert.match(underCi.stdout(), /--open: not opening a browser under CI or tests; visit http/);
    await sleep(200);
    assert.equal(readFileSync(opened, 'utf8'), '');
  } finally {
    await underCi.stop();
    app.cleanup();
  }
});

test('--watch reloads the --class module and the files it imports; a broken edit keeps the previous version', async () => {
  const dir = tempDir('trellis-watch-');
  const write = (greeting: string) =>
    writeFileSync(join(dir.path, 'greeting.ts'), `export const greeting: string = ${JSON.stringify(greeting)};\n`);
  write('first');
  writeFileSync(
    join(dir.path, 'site.ts'),
    `import { Resource } from 'trellis';\nimport { greeting } from './greeting.ts';\n` +
      `export class Root extends Resource {\n  override isLeaf = true;\n  GET() {\n    return greeting;\n  }\n}\n`,
  );
  const server = await spawnTrellis(['web', '--listen', LOOPBACK, '--class', './site.ts#Root', '--watch'], {
    cwd: dir.path,
    timeoutMs: 30_000,
  });
  const body = async () => (await fetch(server.url)).text();
  try {
    await until(() => server.stdout().includes('Watching'), 'the banner');
    assert.equal(await body(), 'first');
    await sleep(200);
    write('second');
    await until(async () => (await body()) === 'second', 'the reload', 30_000);
    assert.match(server.stdout(), /Reloaded \.\/site\.ts#Root \(greeting\.ts changed\)/);
    writeFileSync(join(dir.path, 'greeting.ts'), 'export const greeting: string = ;;; syntax error (\n');
    await until(() => /still serving the previous version/.test(server.stderr()), 'the load error', 30_000);
    assert.equal(await body(), 'second');
    assert.ok(
      oneLine(
        server
          .stderr()
          .split('\n')
          .filter((l) => l.includes('previous version'))[0]!,
      ),
    );
  } finally {
    await server.stop();
    dir.cleanup();
  }
});

test('--help has examples and no line of 100 columns or more; trellis cgi --help too', async () => {
  for (const args of [['web', '--help'], ['cgi', '--help'], ['--help']]) {
    const r = await runTrellis(args);
    assert.equal(r.code, 0);
    for (const line of r.stdout.split('\n'))
      assert.ok(line.length < 100, `${args.join(' ')}: ${line.length} columns: ${line}`);
  }
  const web = await runTrellis(['web', '--help']);
  assert.match(web.stdout, /Examples:\n/);
  for (const flag of ['--cors', '--single', '--watch', '--open', '--no-logfile', '--cors-credentials'])
    assert.ok(web.stdout.includes(flag), flag);
  assert.match(web.stdout, /trellis web --path dist --single --cors/);
});

test('a mistyped flag gets "did you mean"; user errors are one line with a non-zero exit', async () => {
  const app = appDir();
  try {
    const cases: Array<[string[], RegExp]> = [
      [['web', '--prot', '8080'], /unknown option --prot; did you mean --port\?/],
      [['wbe'], /unknown command "wbe"; did you mean 'trellis web'\?/],
      [['web', '--singel'], /did you mean --single\?/],
      [['web', '--cros'], /did you mean --cors\?/],
      [['web', '--wacth'], /did you mean --watch\?/],
      [['web', '--frobnicate'], /unknown option --frobnicate; run 'trellis web --help'/],
      [['web', '--cors=ftp://x.example'], /--cors needs \* or origins like https:\/\/app\.example/],
      [['web', '--cors=https://app.example/path'], /--cors needs .* not "https:\/\/app\.example\/path"/],
      [['web', '--cors', '--cors-credentials'], /--cors-credentials needs named origins/],
      [['web', '--cors-credentials'], /--cors-credentials needs named origins/],
      [['web', '--class', './x.ts#Root', '--single'], /--single only applies to --path/],
      [['web', '--path', '.', '--watch'], /--watch reloads a --class module/],
      [['web', '--path', join(app.www, 'docs'), '--single'], /--single: .*index\.html does not exist/],
      [['web', '--logfile='], /--logfile needs a file name/],
      [['web', '--open=yes'], /option --open takes no value/],
    ];
    for (const [args, message] of cases) {
      const r = await runTrellis(args, { cwd: app.path });
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
      assert.ok(oneLine(r.stderr), r.stderr);
    }
  } finally {
    app.cleanup();
  }
});

test('trellis cgi refuses --watch and --open', async () => {
  const r = await runTrellis(['cgi', '--watch'], { cwd: ROOT, env: { ...process.env, REQUEST_METHOD: 'GET' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--watch and --open only apply to trellis web/);
});
