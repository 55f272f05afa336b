// `trellis web --path` and its static-file options, through the real command.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';

const oneLine = (text: string) => text.trim().split('\n').length === 1;
const dir = tempDir('trellis-static-cli-');
const www = join(dir.path, 'www');

before(() => {
  mkdirSync(join(www, 'docs'), { recursive: true });
  mkdirSync(join(www, 'plain'));
  writeFileSync(join(www, 'index.html'), '<h1>home</h1>');
  writeFileSync(join(www, 'home.htm'), '<h1>custom index</h1>');
  writeFileSync(join(www, 'about.html'), '<h1>about</h1>');
  writeFileSync(join(www, 'notes.md'), '# notes');
  writeFileSync(join(www, 'blob'), 'no extension');
  writeFileSync(join(www, 'docs', 'start.html'), '<h1>start</h1>');
  writeFileSync(join(www, 'gone.asis'), 'Status: 410 Gone\nContent-Type: text/plain\n\ngone for good\n');
  writeFileSync(
    join(www, 'proc.mjs'),
    "import { Data } from 'trellis';\nexport const upper = (path) => new Data('processed ' + path.split('/').pop(), 'text/plain; charset=utf-8');\n",
  );
  writeFileSync(join(www, 'x.up'), 'lower');
});

after(() => dir.cleanup());

async function withServer(
  args: string[],
  fn: (url: string, out: () => string) => Promise<void>,
  cwd?: string,
): Promise<void> {
  const server = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', ...args], cwd ? { cwd } : {});
  try {
    await fn(server.url.replace('localhost', '127.0.0.1'), server.stdout);
  } finally {
    await server.stop();
  }
}

test('trellis web --path serves the directory and says which one', async () => {
  await withServer(['--path', www], async (url, out) => {
    const res = await fetch(new URL('/about.html', url));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await res.text(), '<h1>about</h1>');
    assert.equal(await (await fetch(url)).text(), '<h1>home</h1>');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(out().includes(`Files from ${www}`), out());
  });
});

test('with no root option trellis web serves the current directory', async () => {
  await withServer(
    [],
    async (url) => {
      assert.equal(await (await fetch(new URL('/about.html', url))).text(), '<h1>about</h1>');
    },
    www,
  );
});

test('the static options work in any order, before or after --path', async () => {
  const options = [
    '--index',
    'home.htm',
    '--ignore-ext',
    '.html',
    '--mime-type',
    '.md=text/markdown',
    '--mime-type',
    'text/plain',
    '--cache-control',
    'max-age=60',
    '--no-listing',
  ];
  for (const args of [
    [...options, '--path', www],
    ['--path', www, ...options],
  ]) {
    await withServer(args, async (url) => {
      assert.equal(await (await fetch(url)).text(), '<h1>custom index</h1>');
      const about = await fetch(new URL('/about', url));
      assert.equal(await about.text(), '<h1>about</h1>');
      assert.equal(about.headers.get('cache-control'), 'max-age=60');
      assert.equal(
        (await fetch(new URL('/notes.md', url))).headers.get('content-type'),
        'text/markdown; charset=utf-8',
      );
      assert.equal((await fetch(new URL('/blob', url))).headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal((await fetch(new URL('/plain/', url))).status, 403);
    });
  }
});

test('--index is repeatable and replaces the default list', async () => {
  await withServer(['--path', www, '--index', 'missing.html', '--index', 'start.html'], async (url) => {
    assert.equal(await (await fetch(new URL('/docs/', url))).text(), '<h1>start</h1>');
    const root = await (await fetch(url)).text();
    assert.match(root, /Index of \//, 'index.html is no longer an index name');
  });
});

test('--allow-ignore-ext finds a name with any extension', async () => {
  await withServer(['--path', www, '--allow-ignore-ext'], async (url) => {
    assert.equal(await (await fetch(new URL('/notes', url))).text(), '# notes');
  });
});

test('--processor .asis=asis and MODULE#export; --no-processors turns them off', async () => {
  await withServer(
    ['--path', www, '--processor', '.asis=asis', '--processor', `.up=${join(www, 'proc.mjs')}#upper`],
    async (url) => {
      const gone = await fetch(new URL('/gone.asis', url));
      assert.equal(gone.status, 410);
      assert.equal(await gone.text(), 'gone for good\n');
      assert.equal(await (await fetch(new URL('/x.up', url))).text(), 'processed x.up');
    },
  );
  await withServer(['--path', www, '--processor', '.asis=asis', '--no-processors'], async (url) => {
    assert.equal((await fetch(new URL('/gone.asis', url))).status, 200);
  });
});

test('static-file errors are one line with a non-zero exit', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--path', join(dir.path, 'nope')], /--path .*nope: .* does not exist/],
    [['--processor', '.x=bogus', '--path', www], /unknown kind "bogus"; use one of .*asis.*MODULE#export/],
    [['--processor', 'x'], /--processor needs \.ext=KIND/],
    [['--mime-type', 'not a type'], /--mime-type needs TYPE or \.ext=TYPE/],
    [['--mime-type', 'md=text/plain'], /--mime-type needs TYPE or \.ext=TYPE/],
    [['--mime-type', '.md=text/plain; charset'], /--mime-type needs TYPE or \.ext=TYPE/],
    [['--mime-type', '.md=text/pl(ain'], /--mime-type needs TYPE or \.ext=TYPE/],
    [['--index', 'a/b'], /--index needs a file name without slashes/],
    [['--cache-control', ''], /--cache-control needs a header value/],
    [['--no-listing', '--class', './x.ts#X'], /--no-listing only apply to --path/],
  ];
  for (const [args, message] of cases) {
    const r = await runTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, message);
    assert.ok(oneLine(r.stderr), r.stderr);
  }
});

test('an unreadable --path is one line and a non-zero exit', async (t) => {
  if (process.getuid?.() === 0) return t.skip('root reads everything');
  const locked = join(dir.path, 'locked');
  mkdirSync(locked);
  chmodSync(locked, 0o000);
  const r = await runTrellis(['web', '--path', locked]);
  chmodSync(locked, 0o755);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /is not readable/);
});

test('--path takes a single file, served at /', async () => {
  await withServer(['--path', join(www, 'about.html')], async (url) => {
    assert.equal(await (await fetch(url)).text(), '<h1>about</h1>');
    assert.equal((await fetch(new URL('/other', url))).status, 404);
  });
});

test('--add-header and the access log apply to static files', async () => {
  const log = join(dir.path, 'access.log');
  await withServer(['--path', www, '--add-header', 'X-Frame-Options: DENY', '--logfile', log], async (url) => {
    const res = await fetch(new URL('/about.html', url));
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    await res.text();
    const missing = await fetch(new URL('/nope', url));
    assert.equal(missing.headers.get('x-frame-options'), 'DENY');
    await missing.text();
  });
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.match(lines[0]!, /"GET \/about\.html HTTP\/1\.1" 200 14 /);
  assert.match(lines[1]!, /"GET \/nope HTTP\/1\.1" 404 /);
});

test('trellis web --help lists the static options', async () => {
  const r = await runTrellis(['web', '--help']);
  for (const option of [
    '--path',
    '--index',
    '--ignore-ext',
    '--allow-ignore-ext',
    '--mime-type',
    '--processor',
    '--no-processors',
    '--no-listing',
    '--cache-control',
  ]) {
    assert.ok(r.stdout.includes(option), option);
  }
});
