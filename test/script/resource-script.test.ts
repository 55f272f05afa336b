// Resource scripts end to end through `trellis web`: the `.rpy.ts`/`.rpy.js` processor of --path,
// --resource-script, reloads on edit with the registry kept, broken scripts as 500 pages, and no
// script ever running where processors are off. In process: Registry and ResourceScriptDirectory.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Registry } from '../../src/script/registry.js';
import { ResourceScript } from '../../src/script/resource-script.js';
import { ResourceScriptDirectory } from '../../src/script/directory.js';
import { processorFor } from '../../src/static/processors.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { ROOT, runTrellis, serveSite, spawnTrellis, tempDir } from '../helpers/server.js';

const FIXTURES = join(ROOT, 'test/fixtures/scripts');
const RESOURCE_TS = join(ROOT, 'src/resource.ts');

/** A script answering GET with `text` (TypeScript, importing 'trellis' as users do). */
function helloScript(text: string): string {
  return `import { Resource } from 'trellis';\nclass Hello extends Resource { isLeaf = true; GET(): string { return ${JSON.stringify(text)}; } }\nexport const resource = new Hello();\n`;
}

async function get(url: string): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Rewrites a file so its version visibly changes (a different size, and a later mtime). */
function edit(path: string, text: string): void {
  writeFileSync(path, text);
}

describe('resource scripts under trellis web --path', () => {
  test('seed 001 counter: the registry keeps the Counter across requests and across an edit', async () => {
    const dir = tempDir('trellis-rpy-');
    copyFileSync(join(FIXTURES, 'silly-web.ts'), join(dir.path, 'silly-web.ts'));
    copyFileSync(join(FIXTURES, 'counter.rpy.ts'), join(dir.path, 'counter.rpy.ts'));
    const t = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--path', dir.path]);
    try {
      assert.equal((await get(`${t.url}counter.rpy.ts`)).body, 'you are visitor 1');
      assert.equal((await get(`${t.url}counter.rpy.ts`)).body, 'you are visitor 2');
      // An edit shows on the next request; the Counter (from the imported module) is still in the registry.
      const source = (await import('node:fs')).readFileSync(join(dir.path, 'counter.rpy.ts'), 'utf8');
      edit(join(dir.path, 'counter.rpy.ts'), source.replace('you are visitor', 'welcome, visitor'));
      assert.equal((await get(`${t.url}counter.rpy.ts`)).body, 'welcome, visitor 3');
      assert.equal((await get(`${t.url}counter.rpy.ts`)).body, 'welcome, visitor 4');
    } finally {
      await t.stop();
      dir.cleanup();
    }
  });

  test('an edit shows on the next request; a broken script is a 500 and the server stays up; the next good version is served', async () => {
    const dir = tempDir('trellis-rpy-');
    const script = join(dir.path, 'page.rpy.ts');
    writeFileSync(script, helloScript('one'));
    writeFileSync(join(dir.path, 'plain.ts'), 'export const x: number = 1;\n');
    const t = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--path', dir.path]);
    try {
      assert.equal((await get(`${t.url}page.rpy.ts`)).body, 'one');
      edit(script, helloScript('two, edited'));
      assert.equal((await get(`${t.url}page.rpy.ts`)).body, 'two, edited');
      // The leaf keeps the rest of the path.
      assert.equal((await get(`${t.url}page.rpy.ts/below/here`)).body, 'two, edited');

      const broken: Array<[string, string]> = [
        ['fails to compile', 'export const resource = new (;\n'],
        ['throws', "throw new Error('SECRET-detail from the script');\n"],
        ['exports no resource', 'export const other = 1;\n'],
        ['exports a non-resource', 'export const resource = 42;\n'],
        ['has a resource function that throws', "export function resource() { throw new Error('no'); }\n"],
      ];
      for (const [what, text] of broken) {
        edit(script, text);
        const r = await get(`${t.url}page.rpy.ts`);
        assert.equal(r.status, 500, what);
        assert.doesNotMatch(r.body, /SECRET-detail|page\.rpy\.ts/, `${what}: no details without --display-tracebacks`);
        // Again: the failed version is remembered, and still a 500.
        assert.equal((await get(`${t.url}page.rpy.ts`)).status, 500, what);
      }
      assert.match(t.stderr(), /resource script .*page\.rpy\.ts/);
      edit(script, helloScript('three, fixed'));
      assert.equal((await get(`${t.url}page.rpy.ts`)).body, 'three, fixed');
      // Plain .ts stays a static file.
      const plain = await get(`${t.url}plain.ts`);
      assert.equal(plain.status, 200);
      assert.match(plain.body, /export const x: number = 1/);
    } finally {
      await t.stop();
      dir.cleanup();
    }
  });

  test('--display-tracebacks shows which script failed and why', async () => {
    const dir = tempDir('trellis-rpy-');
    writeFileSync(join(dir.path, 'bad.rpy.ts'), "throw new Error('SECRET-detail from the script');\n");
    const t = await spawnTrellis([
      'web',
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--path',
      dir.path,
      '--display-tracebacks',
    ]);
    try {
      const r = await get(`${t.url}bad.rpy.ts`);
      assert.equal(r.status, 500);
      assert.match(r.body, /bad\.rpy\.ts/);
      assert.match(r.body, /SECRET-detail from the script/);
    } finally {
      await t.stop();
      dir.cleanup();
    }
  });

  test("a script's .js import of a .ts file under Node's type stripping: a 500 whose log line says to import the .ts name", async (t) => {
    if (typeof (process.features as { typescript?: unknown }).typescript !== 'string') {
      t.skip(`Node ${process.version} strips no types: tsx loads the script and maps .js to .ts`);
      return;
    }
    const dir = tempDir('trellis-rpy-');
    copyFileSync(join(FIXTURES, 'silly-web.ts'), join(dir.path, 'silly-web.ts'));
    const script = join(dir.path, 'counter.rpy.ts');
    writeFileSync(
      script,
      (await import('node:fs'))
        .readFileSync(join(FIXTURES, 'counter.rpy.ts'), 'utf8')
        .replace("'./silly-web.ts'", "'./silly-web.js'"),
    );
    const t2 = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--path', dir.path]);
    try {
      const r = await get(`${t2.url}counter.rpy.ts`);
      assert.equal(r.status, 500);
      assert.ok(
        t2
          .stderr()
          .includes(
            `resource script ${script} did not load: ${script} imports './silly-web.js', which does not exist: import './silly-web.ts' instead`,
          ),
        t2.stderr(),
      );
    } finally {
      await t2.stop();
      dir.cleanup();
    }
  });

  test('index.rpy.ts answers for its directory; .rpy.js scripts run too', async () => {
    const dir = tempDir('trellis-rpy-');
    mkdirSync(join(dir.path, 'app'));
    writeFileSync(join(dir.path, 'app', 'index.rpy.ts'), helloScript('the app index'));
    writeFileSync(
      join(dir.path, 'js.rpy.js'),
      "import { Resource } from 'trellis';\nexport const resource = () => Object.assign(new Resource(), { GET: () => 'from js' });\n",
    );
    const t = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--path', dir.path]);
    try {
      assert.equal((await get(`${t.url}app/`)).body, 'the app index');
      assert.equal((await get(`${t.url}js.rpy.js`)).body, 'from js');
    } finally {
      await t.stop();
      dir.cleanup();
    }
  });

  test('with --no-processors no script runs: its side effect never happens', async () => {
    const dir = tempDir('trellis-rpy-');
    const marker = join(dir.path, 'ran');
    writeFileSync(
      join(dir.path, 'evil.rpy.ts'),
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'yes');\nimport { Resource } from 'trellis';\nexport const resource = Object.assign(new Resource(), { GET: () => 'EXECUTED' });\n`,
    );
    const t = await spawnTrellis([
      'web',
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--path',
      dir.path,
      '--no-processors',
    ]);
    try {
      for (const path of ['evil.rpy.ts', 'evil.rpy.ts/x', '']) {
        const r = await get(`${t.url}${path}`);
        assert.notEqual(r.body, 'EXECUTED', path);
      }
      assert.equal((await import('node:fs')).existsSync(marker), false, 'the script never ran');
    } finally {
      await t.stop();
      dir.cleanup();
    }
  });
});

describe('trellis web --resource-script', () => {
  test('serves one script as the whole site, reloaded on edit; seed 001 vhost.rpy works as the root', async () => {
    const dir = tempDir('trellis-rpy-');
    const script = join(dir.path, 'site.rpy.ts');
    writeFileSync(
      script,
      `import { Resource } from 'trellis';\nclass Where extends Resource { isLeaf = true; GET(r: any) { return 'at ' + r.prepath.join('/') + '|' + r.postpath.join('/'); } }\nexport const resource = new Where();\n`,
    );
    const t = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--resource-script', script]);
    try {
      assert.equal((await get(`${t.url}a/b`)).body, 'at |a/b');
      edit(script, helloScript('edited root'));
      assert.equal((await get(`${t.url}x`)).body, 'edited root');
    } finally {
      await t.stop();
      dir.cleanup();
    }
  });

  test('a missing file or a name without a script extension is a one-line error', async () => {
    const dir = tempDir('trellis-rpy-');
    writeFileSync(join(dir.path, 'site.ts'), helloScript('x'));
    try {
      const missing = await runTrellis(['web', '--resource-script', join(dir.path, 'nope.rpy.ts')]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /^trellis: --resource-script .* is not a file/);
      const plain = await runTrellis(['web', '--resource-script', join(dir.path, 'site.ts')]);
      assert.equal(plain.code, 2);
      assert.match(plain.stderr, /\.rpy\.ts or \.rpy\.js/);
      assert.equal(plain.stderr.trim().split('\n').length, 1);
    } finally {
      dir.cleanup();
    }
  });
});

describe('Registry', () => {
  test('getComponent/setComponent/component/removeComponent by class or string key', () => {
    class Counter {
      n = 0;
    }
    const r = new Registry();
    assert.equal(r.getComponent(Counter), undefined);
    assert.equal(r.getComponent('missing', 7), 7);
    const c = r.setComponent(Counter, new Counter());
    assert.equal(r.getComponent(Counter), c);
    assert.equal(
      r.component(Counter, () => new Counter()),
      c,
    );
    assert.equal(r.component('hits', () => ({ n: 1 })).n, 1);
    assert.equal(r.removeComponent(Counter), true);
    assert.equal(r.getComponent(Counter), undefined);
  });
});

describe('processorFor', () => {
  test('tries the compound extension, then the last one, in any case', () => {
    const script = () => new Resource();
    const php = () => new Resource();
    const table = { '.rpy.ts': script, '.php': php };
    assert.equal(processorFor(table, 'a.rpy.ts'), script);
    assert.equal(processorFor(table, 'A.RPY.TS'), script);
    assert.equal(processorFor(table, 'x.y.php'), php);
    assert.equal(processorFor(table, 'a.ts'), undefined);
    assert.equal(processorFor(table, '.php'), undefined);
    assert.equal(processorFor(table, 'rpy.ts'), undefined);
  });
});

describe('ResourceScriptDirectory and ResourceScript in process', () => {
  /** A .rpy.js script under a `"type": "module"` folder, importing Resource from the sources. */
  function jsScript(body: string): string {
    return `import { Resource } from ${JSON.stringify(RESOURCE_TS.replace(/\.ts$/, '.ts'))};\n${body}\n`;
  }

  test('serves scripts by name and without extension, subfolders, the index; never other files or outside links', async () => {
    const dir = tempDir('trellis-rpydir-');
    writeFileSync(join(dir.path, 'package.json'), '{"type":"module"}');
    const scripts = join(dir.path, 'scripts');
    mkdirSync(join(scripts, 'sub'), { recursive: true });
    writeFileSync(
      join(scripts, 'hello.rpy.js'),
      jsScript("export const resource = Object.assign(new Resource(), { GET: () => 'hello script' });"),
    );
    writeFileSync(
      join(scripts, 'sub', 'index.rpy.js'),
      jsScript("export const resource = Object.assign(new Resource(), { GET: () => 'sub index' });"),
    );
    writeFileSync(join(scripts, 'secret.txt'), 'SECRET');
    writeFileSync(
      join(scripts, '.hidden.rpy.js'),
      jsScript("export const resource = Object.assign(new Resource(), { GET: () => 'HIDDEN' });"),
    );
    writeFileSync(
      join(dir.path, 'outside.rpy.js'),
      jsScript("export const resource = Object.assign(new Resource(), { GET: () => 'OUTSIDE' });"),
    );
    symlinkSync(join(dir.path, 'outside.rpy.js'), join(scripts, 'link.rpy.js'));
    const root = new Resource();
    root.putChild('s', new ResourceScriptDirectory(scripts, { registry: new Registry() }));
    const server = await serveSite(new Site(root, { logError: () => {} }));
    try {
      assert.equal((await get(`${server.base}/s/hello.rpy.js`)).body, 'hello script');
      assert.equal((await get(`${server.base}/s/hello`)).body, 'hello script');
      assert.equal((await get(`${server.base}/s/sub/`)).body, 'sub index');
      const redirect = await fetch(`${server.base}/s/sub`, { redirect: 'manual' });
      assert.equal(redirect.status, 302);
      assert.match(redirect.headers.get('location') ?? '', /\/s\/sub\/$/);
      for (const path of ['/s/secret.txt', '/s/.hidden.rpy.js', '/s/link.rpy.js', '/s/', '/s', '/s/nope']) {
        const r = await get(`${server.base}${path}`);
        assert.equal(r.status, 404, path);
        assert.doesNotMatch(r.body, /SECRET|HIDDEN|OUTSIDE/, path);
      }
    } finally {
      await server.close();
      dir.cleanup();
    }
  });

  test('a function export gets the registry and its own path; concurrent first requests load once', async () => {
    const dir = tempDir('trellis-rpydir-');
    writeFileSync(join(dir.path, 'package.json'), '{"type":"module"}');
    const path = join(dir.path, 'ctx.rpy.js');
    writeFileSync(
      path,
      jsScript(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a resource script written as source
        "export function resource({ registry, path }) { const loads = registry.component('loads', () => ({ n: 0 })); loads.n++; return Object.assign(new Resource(), { isLeaf: true, GET: () => `${path} ${loads.n}` }); }",
      ),
    );
    const registry = new Registry();
    const server = await serveSite(new Site(new ResourceScript(path, { registry }), { logError: () => {} }));
    try {
      const bodies = await Promise.all([1, 2, 3, 4].map(() => get(`${server.base}/`).then((r) => r.body)));
      assert.deepEqual(bodies, Array(4).fill(`${path} 1`));
      assert.equal(registry.getComponent<{ n: number }>('loads')!.n, 1);
    } finally {
      await server.close();
      dir.cleanup();
    }
  });
});
