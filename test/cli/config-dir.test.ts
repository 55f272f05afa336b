// `--config-dir DIR` (Debian's local.d): drop-in modules, in name order, add children, virtual hosts,
// processors and listeners to the site; a broken one is named in a one-line error at start.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';
import { httpGet, oneLine, servingUrls } from '../helpers/serving.js';

/** Start-up can take long on a loaded machine (TypeScript modules go through tsx): a liveness bound only. */
const START = 30_000;

const LOOPBACK = 'tcp:0:interface=127.0.0.1';

async function get(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { status, body } = await httpGet(url, path, headers);
  return { status, body };
}

/** A site directory and a local.d whose drop-ins use every hook. */
function setup() {
  const dir = tempDir('trellis-localdir-');
  mkdirSync(join(dir.path, 'site'));
  writeFileSync(join(dir.path, 'site/index.html'), 'the root');
  writeFileSync(join(dir.path, 'site/raw.asis'), 'Status: 299 As Is\nContent-Type: text/plain\n\nraw\n');
  const d = join(dir.path, 'local.d');
  mkdirSync(d);
  writeFileSync(
    join(d, '10-doc.ts'),
    `import { Data, defineDropIn } from 'trellis';\nexport default defineDropIn((c) => c.putChild('doc', new Data('doc from 10', 'text/plain')));\n`,
  );
  writeFileSync(
    join(d, '20-vhost.mjs'),
    `import { Data } from 'trellis';\nexport default (c) => c.addHost('other.example', new Data('the other host', 'text/plain'));\n`,
  );
  writeFileSync(
    join(d, '30-asis.ts'),
    `import type { DropInContext } from 'trellis';\nexport default (c: DropInContext) => c.addProcessor('.asis', 'asis');\n`,
  );
  writeFileSync(join(d, '40-listen.mjs'), `export default (c) => c.listen('${LOOPBACK}');\n`);
  writeFileSync(
    join(d, '50-later.ts'),
    `import { Data, type DropInContext } from 'trellis';\nexport default async (c: DropInContext) => {\n  await new Promise((r) => setTimeout(r, 10));\n  c.putChild('doc', new Data('doc from 50', 'text/plain'));\n};\n`,
  );
  writeFileSync(join(d, 'README'), 'not a module');
  writeFileSync(join(d, '60-backup.ts~'), 'this is not loaded (');
  writeFileSync(join(d, '.hidden.ts'), 'this is not loaded (');
  return { dir, localD: d };
}

async function checkDropIns(urls: string[]): Promise<void> {
  assert.equal(urls.length, 2, urls.join(' '));
  for (const url of urls) {
    assert.deepEqual(await get(url, '/doc'), { status: 200, body: 'doc from 50' }, 'later names run later');
    assert.deepEqual(await get(url, '/', { host: 'other.example' }), { status: 200, body: 'the other host' });
    assert.deepEqual(await get(url, '/', { host: 'localhost' }), { status: 200, body: 'the root' });
    const raw = await get(url, '/raw.asis');
    assert.equal(raw.status, 299);
    assert.equal(raw.body, 'raw\n');
  }
}

test('--config-dir drop-ins add children, a virtual host, a processor and a listener to trellis web, in name order', async (t) => {
  const { dir, localD } = setup();
  t.after(() => dir.cleanup());
  const server = await spawnTrellis(['web', '--path', 'site', '--listen', LOOPBACK, '--config-dir', localD], {
    cwd: dir.path,
    timeoutMs: START,
  });
  t.after(() => server.stop());
  await checkDropIns(await servingUrls(server, 2));
});

test('--config-dir works for trellis run (a module, and a saved configuration that names the directory)', async (t) => {
  const { dir } = setup();
  t.after(() => dir.cleanup());
  writeFileSync(
    join(dir.path, 'site.ts'),
    `import { File, Site } from 'trellis';\nexport default new Site(new File(${JSON.stringify(join(dir.path, 'site'))}));\n`,
  );
  const fromModule = await spawnTrellis(['run', 'site.ts', '--listen', LOOPBACK, '--config-dir', 'local.d'], {
    cwd: dir.path,
    timeoutMs: START,
  });
  try {
    await checkDropIns(await servingUrls(fromModule, 2));
  } finally {
    await fromModule.stop();
  }
  const saved = await runTrellis(
    ['web', '--path', 'site', '--listen', LOOPBACK, '--config-dir', 'local.d', '--save-config', 'web.json'],
    { cwd: dir.path },
  );
  assert.equal(saved.code, 0, saved.stderr);
  const fromJson = await spawnTrellis(['run', join(dir.path, 'web.json')], { timeoutMs: START });
  try {
    await checkDropIns(await servingUrls(fromJson, 2));
  } finally {
    await fromJson.stop();
  }
});

test('a broken drop-in is named in a one-line error at start, and nothing serves', async (t) => {
  const dir = tempDir('trellis-localdir-');
  t.after(() => dir.cleanup());
  const cases: Array<[string, string, RegExp, string[]?]> = [
    ['syntax.ts', 'export default (;\n', /--config-dir: drop-in .*\/syntax\.ts: cannot load/],
    [
      'throws.ts',
      `export default () => { throw new Error('no database here'); };\n`,
      /--config-dir: drop-in .*\/throws\.ts failed: no database here/,
    ],
    [
      'nofunction.ts',
      'export default 42;\n',
      /--config-dir: drop-in .*\/nofunction\.ts has no default export function/,
    ],
    [
      'badlisten.ts',
      `export default (c) => c.listen('tcp:nope');\n`,
      /--config-dir: drop-in .*\/badlisten\.ts failed: listen\("tcp:nope"\): bad endpoint/,
    ],
    [
      'badkind.ts',
      `export default (c) => c.addProcessor('.x', 'nosuchkind');\n`,
      /badkind\.ts failed: addProcessor\("\.x", "nosuchkind"\): unknown kind/,
    ],
    [
      'notfile.mjs',
      `export default (c) => c.addProcessor('.x', 'asis');\n`,
      /notfile\.mjs failed: addProcessor needs a File root/,
      ['--class', 'root.mjs'],
    ],
  ];
  writeFileSync(
    join(dir.path, 'root.mjs'),
    `import { Data } from 'trellis';\nexport default Data.prototype.constructor === Data ? new Data('x', 'text/plain') : null;\n`,
  );
  for (const [name, text, pattern, extra] of cases) {
    const d = join(dir.path, `d-${name}`);
    mkdirSync(d);
    writeFileSync(join(d, '00-fine.ts'), 'export default () => {};\n');
    writeFileSync(join(d, name), text);
    const r = await runTrellis(['web', ...(extra ?? ['--path', '.']), '--listen', LOOPBACK, '--config-dir', d], {
      cwd: dir.path,
    });
    assert.notEqual(r.code, 0, name);
    assert.ok(oneLine(r.stderr), `${name}: ${r.stderr}`);
    assert.match(r.stderr, pattern, name);
    assert.doesNotMatch(r.stdout, /serving/);
  }
  const missing = await runTrellis(['web', '--config-dir', join(dir.path, 'absent')], { cwd: dir.path });
  assert.equal(missing.code, 2);
  assert.ok(oneLine(missing.stderr));
  assert.match(missing.stderr, /--config-dir .*absent: no such directory/);
});
