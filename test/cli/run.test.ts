// `trellis run FILE`: configuration modules (a Site, a Resource, defineApp with several sites) that
// import 'trellis' from anywhere on disk, and their one-line errors.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';
import { oneLine, servingUrls } from '../helpers/serving.js';

/** Start-up can take long on a loaded machine (TypeScript modules go through tsx): a liveness bound only. */
const START = 30_000;

const LOOPBACK = 'tcp:0:interface=127.0.0.1';

test("run serves docs/static.md's `export default new Site(root)` module as written, from outside the package", async () => {
  const dir = tempDir('trellis-run-');
  try {
    mkdirSync(join(dir.path, 'htdocs'));
    writeFileSync(join(dir.path, 'htdocs/page.html'), '<p>a page</p>');
    writeFileSync(
      join(dir.path, 'site.ts'),
      `import { File, Resource, Site, type Request } from 'trellis';

class Api extends Resource {
  override isLeaf = true;
  GET(request: Request) {
    return 'api at ' + request.prepath.join('/');
  }
}

const root = new File(${JSON.stringify(join(dir.path, 'htdocs'))}, { cacheControl: 'public, max-age=3600', ignoredExts: ['.html'] });
root.putChild('api', new Api());
export default new Site(root);
`,
    );
    const server = await spawnTrellis(['run', 'site.ts', '--listen', LOOPBACK], { cwd: dir.path, timeoutMs: START });
    try {
      const page = await fetch(new URL('/page', server.url));
      assert.equal(page.status, 200);
      assert.equal(await page.text(), '<p>a page</p>');
      assert.equal(page.headers.get('cache-control'), 'public, max-age=3600');
      const api = await fetch(new URL('/api/x', server.url));
      assert.equal(await api.text(), 'api at api');
    } finally {
      await server.stop();
    }
  } finally {
    dir.cleanup();
  }
});

test('run takes a JavaScript module whose default export is a Resource, listening where --port says', async () => {
  const dir = tempDir('trellis-run-');
  try {
    writeFileSync(
      join(dir.path, 'root.mjs'),
      `import { Data } from 'trellis';\nexport default new Data('a resource', 'text/plain');\n`,
    );
    const server = await spawnTrellis(['run', 'root.mjs', '--port', LOOPBACK], { cwd: dir.path, timeoutMs: START });
    try {
      const res = await fetch(server.url);
      assert.equal(await res.text(), 'a resource');
      assert.match(res.headers.get('server') ?? '', /^Trellis\//);
    } finally {
      await server.stop();
    }
  } finally {
    dir.cleanup();
  }
});

test('run serves defineApp with several sites, each on its own listeners', async () => {
  const dir = tempDir('trellis-run-');
  try {
    writeFileSync(
      join(dir.path, 'app.ts'),
      `import { Data, Site, defineApp } from 'trellis';
export default defineApp({
  sites: [
    { site: new Site(new Data('public', 'text/plain')), listen: ['${LOOPBACK}', '${LOOPBACK}'] },
    { site: new Data('admin', 'text/plain'), listen: ['unix:${join(dir.path, 'admin.sock')}'] },
  ],
});
`,
    );
    const server = await spawnTrellis(['run', 'app.ts'], { cwd: dir.path, timeoutMs: START });
    try {
      const urls = await servingUrls(server, 3);
      assert.equal(urls.filter((u) => u.startsWith('http://')).length, 2);
      for (const url of urls.filter((u) => u.startsWith('http://')))
        assert.equal(await (await fetch(url)).text(), 'public');
      assert.ok(urls.includes(`unix:${join(dir.path, 'admin.sock')}`), urls.join(' '));
      const { request } = await import('node:http');
      const body = await new Promise<string>((resolve, reject) => {
        request({ socketPath: join(dir.path, 'admin.sock'), path: '/' }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(body, 'admin');
    } finally {
      await server.stop();
    }
  } finally {
    dir.cleanup();
  }
});

test('run errors are one line and non-zero: missing file, wrong export, bad listener, no FILE, wrong extension', async () => {
  const dir = tempDir('trellis-run-');
  try {
    writeFileSync(join(dir.path, 'number.ts'), 'export default 42;\n');
    writeFileSync(join(dir.path, 'none.ts'), 'export const site = 1;\n');
    writeFileSync(join(dir.path, 'broken.ts'), 'export default new (;\n');
    writeFileSync(
      join(dir.path, 'badlisten.ts'),
      `import { Data } from 'trellis';\nexport default { sites: [{ site: new Data('x', 'text/plain'), listen: ['tcp:nope'] }] };\n`,
    );
    writeFileSync(join(dir.path, 'notsite.ts'), `export default { sites: [{ site: 'hello' }] };\n`);
    writeFileSync(join(dir.path, 'site.txt'), 'x');
    const cases: Array<[string[], RegExp]> = [
      [['run', 'missing.ts'], /no such file .*missing\.ts/],
      [['run', 'number.ts'], /number\.ts: the default export is not a Site, a Resource or \{ sites/],
      [['run', 'none.ts'], /none\.ts: no default export/],
      [['run', 'broken.ts'], /cannot load .*broken\.ts/],
      [['run', 'badlisten.ts'], /badlisten\.ts: sites\[0\]\.listen: bad endpoint "tcp:nope"/],
      [['run', 'notsite.ts'], /notsite\.ts: sites\[0\]\.site is not a Site or a Resource/],
      [['run'], /trellis run needs a FILE/],
      [['run', 'site.txt'], /give a \.ts, \.mts, \.js or \.mjs module, or a \.json configuration/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runTrellis(args, { cwd: dir.path });
      assert.notEqual(r.code, 0, args.join(' '));
      assert.ok(oneLine(r.stderr), `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
  } finally {
    dir.cleanup();
  }
});

test('run --help lists its options and trellis --help lists run', async () => {
  const help = await runTrellis(['run', '--help']);
  assert.equal(help.code, 0);
  for (const option of ['--listen', '--port', '--config-dir']) assert.ok(help.stdout.includes(option), option);
  assert.match((await runTrellis(['--help'])).stdout, /run FILE/);
});

test('run takes the process options: --workers 2 with a --pidfile, the banner printed once by the primary', async () => {
  const dir = tempDir('trellis-run-');
  try {
    writeFileSync(
      join(dir.path, 'pid.mjs'),
      `import { Resource, Site } from 'trellis';\nclass Pid extends Resource {\n  isLeaf = true;\n  GET() {\n    return String(process.pid);\n  }\n}\nexport default new Site(new Pid());\n`,
    );
    const server = await spawnTrellis(
      ['run', 'pid.mjs', '--listen', LOOPBACK, '--workers', '2', '--pidfile', 'run.pid'],
      { cwd: dir.path, timeoutMs: START },
    );
    try {
      await servingUrls(server, 1);
      const pids = new Set<string>();
      for (let i = 0; i < 20 && pids.size < 2; i++)
        pids.add(await (await fetch(server.url, { headers: { connection: 'close' } })).text());
      assert.ok(!pids.has(String(server.proc.pid)), 'the primary serves no request');
      assert.equal(readFileSync(join(dir.path, 'run.pid'), 'utf8').trim(), String(server.proc.pid));
      assert.match(server.stdout(), /2 worker processes \(primary pid \d+\)/);
      assert.equal(server.stdout().match(/serving http/g)?.length, 1, server.stdout());
      assert.match(server.stdout(), /Press Ctrl\+C to stop/);
    } finally {
      await server.stop();
    }
  } finally {
    dir.cleanup();
  }
});
