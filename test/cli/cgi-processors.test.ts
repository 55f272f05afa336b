// `trellis web --path` runs resource scripts, .cgi and .php by default (as twistd web --path runs its
// scripts), says so at start, takes --processor .ext=cgi:INTERPRETER, and --no-processors makes
// program files 403.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { scriptFolder } from '../helpers/cgi.js';
import { findPeer, needPeer } from '../helpers/peers.js';
import { runTrellis, spawnTrellis } from '../helpers/server.js';

const dir = scriptFolder([], {
  'env.cgi':
    '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\necho "SCRIPT_NAME=$SCRIPT_NAME"\necho "REQUEST_URI=$REQUEST_URI"\necho "SERVER_NAME=$SERVER_NAME"\necho "SERVER_PORT=$SERVER_PORT"\necho "HTTPS=$HTTPS"\necho "REMOTE_ADDR=$REMOTE_ADDR"\necho "PATH_INFO=$PATH_INFO"\necho "LANG=$LANG"\n# secret source\n',
  'sleep.cgi': '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nstarted\\n"\nsleep 30\n',
  'hello.pl': { text: 'print "Content-Type: text/plain\\n\\nperl says hi\\n"; # secret source\n', mode: 0o644 },
  'hello.php': { text: '<?php echo "php says ", 6 * 7, "\\n"; // secret source\n', mode: 0o644 },
  'hello.rpy.ts': {
    text: "import { Data } from 'trellis';\n// secret source\nexport const resource = new Data(Buffer.from('script says hi\\n'), 'text/plain');\n",
    mode: 0o644,
  },
});
const www = dir.path;

after(() => dir.cleanup());

async function withServer(
  args: string[],
  fn: (url: string, out: () => string) => Promise<void>,
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  const server = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', ...args], { env });
  try {
    await fn(server.url.replace('localhost', '127.0.0.1').replace(/\/$/, ''), server.stdout);
  } finally {
    await server.stop();
  }
}

test('trellis web --path runs .rpy.ts, .cgi and .php by default and says which extensions execute', async (t) => {
  await withServer(['--path', www], async (url, out) => {
    const res = await fetch(`${url}/env.cgi/x`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /SCRIPT_NAME=\/env\.cgi\nREQUEST_URI=\/env\.cgi\/x\n/);
    await new Promise((r) => setTimeout(r, 100));
    assert.match(out(), /Executing \.rpy\.ts \(script\), \.rpy\.js \(script\), \.cgi \(cgi\)/);
    assert.equal(await (await fetch(`${url}/hello.rpy.ts`)).text(), 'script says hi\n');
    if (findPeer('php-cgi')) {
      assert.match(out(), /\.php \(php\)/);
      assert.equal(await (await fetch(`${url}/hello.php`)).text(), 'php says 42\n');
    } else {
      t.diagnostic('php-cgi not installed: .php is not mapped (apt-get install php-cgi)');
    }
    // .pl has no processor by default: a program, so 403, never its source.
    const pl = await fetch(`${url}/hello.pl`);
    assert.equal(pl.status, 403);
    assert.doesNotMatch(await pl.text(), /secret/);
  });
});

test('--no-processors executes nothing and sends no program as source', async () => {
  await withServer(['--path', www, '--no-processors'], async (url, out) => {
    for (const name of ['env.cgi', 'hello.php', 'hello.pl', 'hello.rpy.ts']) {
      const res = await fetch(`${url}/${name}`);
      assert.equal(res.status, 403, name);
      assert.doesNotMatch(await res.text(), /secret|SCRIPT_NAME/);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.match(out(), /No file executes \(--no-processors\)/);
  });
});

test('--processor .pl=cgi:/usr/bin/perl runs perl scripts as FilteredScripts', async (t) => {
  const perl = needPeer(t, 'perl');
  if (!perl) return;
  await withServer(['--path', www, '--processor', `.pl=cgi:${perl}`], async (url, out) => {
    assert.equal(await (await fetch(`${url}/hello.pl`)).text(), 'perl says hi\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.match(out(), new RegExp(`\\.pl \\(cgi:${perl}\\)`));
  });
});

test('a processor whose interpreter does not exist stops the start with one line', async () => {
  const res = await runTrellis([
    'web',
    '--path',
    www,
    '--processor',
    '.pl=cgi:/nonexistent/perl',
    '--listen',
    'tcp:0:interface=127.0.0.1',
  ]);
  assert.notEqual(res.code, 0);
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  assert.match(res.stderr, /\/nonexistent\/perl is not an executable file/);
  const relative = await runTrellis([
    'web',
    '--path',
    www,
    '--processor',
    '.pl=cgi:perl',
    '--listen',
    'tcp:0:interface=127.0.0.1',
  ]);
  assert.notEqual(relative.code, 0);
  assert.match(relative.stderr, /absolute path/);
});

test('behind a trusted front end a script sees the public URL: host, scheme, prefix, client', async () => {
  await withServer(['--path', www, '--trust-proxy', '127.0.0.1'], async (url) => {
    const res = await fetch(`${url}/env.cgi/more?q=1`, {
      headers: {
        'X-Forwarded-Host': 'www.example.org',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Prefix': '/app',
        'X-Forwarded-For': '203.0.113.9',
      },
    });
    const text = await res.text();
    assert.match(text, /SCRIPT_NAME=\/app\/env\.cgi\n/);
    assert.match(text, /REQUEST_URI=\/app\/env\.cgi\/more\?q=1\n/);
    assert.match(
      text,
      /SERVER_NAME=www\.example\.org\nSERVER_PORT=443\nHTTPS=on\nREMOTE_ADDR=203\.0\.113\.9\nPATH_INFO=\/more\n/,
    );
  });
});

test('--cgi-timeout, --cgi-max-processes and --cgi-pass-env reach the scripts', async () => {
  const args = ['--path', www, '--cgi-timeout', '1', '--cgi-max-processes', '1', '--cgi-pass-env', 'LANG'];
  await withServer(
    args,
    async (url) => {
      const started = Date.now();
      // Its head arrives once the script runs: then it holds the one slot.
      const slow = await fetch(`${url}/sleep.cgi`);
      assert.equal(slow.status, 200);
      const refused = await fetch(`${url}/env.cgi`);
      assert.equal(refused.status, 503);
      // At its 1 s timeout the script is killed: the answer already started, so it is cut, never complete.
      await assert.rejects(slow.text());
      assert.ok(Date.now() - started < 25_000, 'the 30 s script was killed at its 1 s timeout');
      let res = await fetch(`${url}/env.cgi`);
      for (let i = 0; res.status === 503 && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 50));
        res = await fetch(`${url}/env.cgi`);
      }
      assert.match(await res.text(), /\nLANG=C\.UTF-8\n/);
    },
    { LANG: 'C.UTF-8' },
  );
});

test('bad --cgi-* values are one-line errors', async () => {
  for (const [flag, value] of [
    ['--cgi-timeout', 'soon'],
    ['--cgi-timeout', '0'],
    ['--cgi-max-processes', '0'],
    ['--cgi-pass-env', 'HTTP_PROXY'],
    ['--cgi-pass-env', 'A-B'],
  ]) {
    const res = await runTrellis(['web', '--path', www, flag!, value!, '--listen', 'tcp:0:interface=127.0.0.1']);
    assert.notEqual(res.code, 0, `${flag} ${value}`);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    assert.match(res.stderr, new RegExp(flag!));
  }
});
