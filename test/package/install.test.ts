// The package as a user gets it: `npm pack`, installed with `npm install` into an empty project; the
// README tour's site type-checked with `tsc --strict` (module nodenext, noImplicitOverride) against the
// shipped declarations, served by the installed `trellis` command, and every URL its root lists
// requested; then the same package used from a CommonJS file through require().
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDir } from '../helpers/server.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The README's TypeScript blocks that name a file on their first line (`// site.ts`). */
function readmeFile(name: string): string {
  for (const m of README.matchAll(/```ts\n([\s\S]*?)```/g)) {
    if (m[1]!.startsWith(`// ${name}\n`)) return m[1]!;
  }
  throw new Error(`README.md has no \`\`\`ts block starting "// ${name}"`);
}

/** The README's tsconfig.json (its one ```json block), which the test tightens further. */
function readmeTsconfig(): { compilerOptions: Record<string, unknown> } {
  const block = /```json\n([\s\S]*?)```/.exec(README);
  if (!block) throw new Error('README.md has no ```json block (the tsconfig.json for tsc)');
  return JSON.parse(block[1]!) as { compilerOptions: Record<string, unknown> };
}

/** A CommonJS server: require('trellis') and require('trellis/testing') (TypeScript's `import = require`). */
const CJS = [
  "import http = require('node:http');",
  "import trellis = require('trellis');",
  "import testing = require('trellis/testing');",
  'const { Resource, Site, toNodeListener } = trellis;',
  'const { render } = testing;',
  'class Hello extends Resource {',
  '  override GET() { return "hello from CommonJS"; }',
  '}',
  'async function main(): Promise<void> {',
  '  const rendered = await render(new Hello());',
  '  if (rendered.text() !== "hello from CommonJS") throw new Error("render() gave " + rendered.text());',
  '  const server = http.createServer(toNodeListener(new Site(new Hello())));',
  "  server.listen(0, '127.0.0.1', () => {",
  '    const address = server.address();',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a user module written as source
  "    if (address && typeof address === 'object') console.log(`listening on http://127.0.0.1:${address.port}`);",
  '  });',
  '}',
  'void main();',
  '',
].join('\n');

const stripsTypes = typeof (process.features as { typescript?: unknown }).typescript === 'string';

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
    timeout: 240_000,
  });
}

/** Starts `node ARGS` in `cwd` and resolves with the URL it prints (`serving URL` or `listening URL`). */
function serve(args: string[], cwd: string): Promise<{ url: string; stop(): void; output(): string }> {
  const proc = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d));
  proc.stderr.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no URL printed in 30 s:\n${out}`));
    }, 30_000);
    const look = () => {
      const m = /(?:serving|listening on) (http:\/\/\S+?)\/?(?:\s|$)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({ url: m[1]!, stop: () => proc.kill('SIGTERM'), output: () => out });
    };
    proc.stdout.on('data', look);
    proc.stderr.on('data', look);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before serving:\n${out}`));
    });
  });
}

test('npm pack, npm install into an empty project, tsc --strict on the README tour, serve it, request every URL it lists; and require() from CommonJS', {
  timeout: 600_000,
}, async () => {
  const dir = tempDir('trellis-pack-');
  try {
    // dist/ is built by `npm test` before the tests run; prepack would rebuild it under running tests.
    const packed = npm(['pack', '--ignore-scripts', '--pack-destination', dir.path], ROOT).trim().split('\n').at(-1)!;
    const tarball = join(dir.path, packed);
    const app = join(dir.path, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'tour-site', private: true, type: 'module' }));

    // What the README says to add for tsc, and tsx only where Node cannot strip types itself: one
    // install, so that the test stays within a few minutes.
    const extras = [
      'typescript@5',
      `@types/node@${process.versions.node.split('.')[0]}`,
      ...(stripsTypes ? [] : ['tsx@4']),
    ];
    npm(['install', tarball, ...extras], app);
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    // tsx brings esbuild (an install script) on Node 20 only, where the test asks for it.
    const fromTsx = (name: string) => !stripsTypes && /^node_modules\/(@esbuild\/[^/]+|esbuild)$/.test(name);
    const scripted = Object.entries(lock.packages)
      .filter(([name, p]) => p.hasInstallScript && !fromTsx(name))
      .map(([name]) => name);
    assert.deepEqual(scripted, [], 'installing trellis runs no install scripts');
    // npm 11 warns about every dependency with one of these, `prepare` included, on each install.
    const shipped = JSON.parse(readFileSync(join(app, 'node_modules/trellis/package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    const lifecycle = Object.keys(shipped.scripts ?? {}).filter((name) =>
      ['preinstall', 'install', 'postinstall', 'prepare'].includes(name),
    );
    assert.deepEqual(lifecycle, [], 'the package declares no install-time scripts');
    const installed = readdirSync(join(app, 'node_modules'));
    if (stripsTypes) {
      assert.equal(installed.includes('esbuild'), false, 'esbuild is not installed with trellis');
      assert.equal(installed.includes('tsx'), false, 'tsx is an optional peer, not installed');
    }

    writeFileSync(join(app, 'site.ts'), readmeFile('site.ts'));
    writeFileSync(join(app, 'site.test.ts'), readmeFile('site.test.ts'));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          ...readmeTsconfig().compilerOptions,
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          noImplicitOverride: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          allowImportingTsExtensions: true,
          noEmit: true,
          skipLibCheck: false,
        },
        include: ['*.ts', '*.cts'],
      }),
    );
    writeFileSync(join(app, 'server.cts'), CJS);
    try {
      execFileSync(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
        cwd: app,
        encoding: 'utf8',
      });
    } catch (err) {
      assert.fail(
        `tsc --strict on the README tour and a CommonJS file failed:\n${(err as { stdout?: string }).stdout ?? err}`,
      );
    }

    // The README's test of the tour, run the way the user would.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // else this nested run reports to the outer runner instead of stdout
    const testRun = execFileSync(
      process.execPath,
      [...(stripsTypes ? [] : ['--import', 'tsx']), '--test', '--test-reporter=tap', 'site.test.ts'],
      { cwd: app, encoding: 'utf8', env },
    );
    assert.match(testRun, /# pass 1\n/);

    const server = await serve(
      [
        join(app, 'node_modules/trellis/dist/cli/main.js'),
        'web',
        '--class',
        './site.ts#Root',
        '--listen',
        'tcp:0:interface=127.0.0.1',
      ],
      app,
    );
    try {
      const index = await fetch(`${server.url}/`);
      assert.equal(index.status, 200, server.output());
      const listed = [...(await index.text()).matchAll(/(\/[\w/?=.-]*[\w/=])/g)].map((m) => m[1]!);
      assert.deepEqual(listed, ['/hello', '/clock', '/note', '/ticks', '/api/x?name=Ada', '/docs/', '/docs/missing']);
      const expect: Record<string, [number, RegExp]> = {
        '/hello': [200, /^Hello, world! I am located at hello\.$/],
        '/clock': [200, /^(\d{4}-\d\d-\d\dT\S+Z\n){2,4}$/],
        '/note': [200, /^A note that changes rarely\.$/],
        '/ticks': [200, /^tick 1\ntick 2\ntick 3\n$/],
        '/api/x?name=Ada': [200, /^\{"path":\["x"\],"name":"Ada"\}$/],
        '/docs/': [200, /^The docs index\.$/],
        '/docs/missing': [410, /This page was removed\./],
      };
      for (const url of listed) {
        const r = await fetch(`${server.url}${url}`);
        const [status, body] = expect[url]!;
        assert.equal(r.status, status, url);
        assert.match(await r.text(), body, url);
      }
      const cached = await fetch(`${server.url}/note`, { headers: { 'If-None-Match': '"note-v1"' } });
      assert.equal(cached.status, 304);
    } finally {
      server.stop();
    }

    // CommonJS (server.cts was type-checked above), run as plain JavaScript: types stripped by hand.
    const js = CJS.replace(/^import (\w+) = /gm, 'const $1 = ')
      .replace('override ', '')
      .replace(': Promise<void>', '');
    writeFileSync(join(app, 'server.cjs'), js);
    const cjsServer = await serve(['server.cjs'], app);
    try {
      const r = await fetch(`${cjsServer.url}/`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'hello from CommonJS');
    } finally {
      cjsServer.stop();
    }
  } finally {
    dir.cleanup();
  }
});
