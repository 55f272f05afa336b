// Plugins: a package declaring `"trellis": { "plugins": { NAME: MODULE } }` gives `trellis NAME`, with
// its options in --help, --save-config and `trellis run`; `web` is one of them.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { webPlugin } from '../../src/cli/web.js';
import { runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';
import { oneLine } from '../helpers/serving.js';

/** Start-up can take long on a loaded machine (TypeScript modules go through tsx): a liveness bound only. */
const START = 30_000;

const LOOPBACK = 'tcp:0:interface=127.0.0.1';

const BANNERFISH = `import { Data, Site, definePlugin } from 'trellis';
export default definePlugin({
  name: 'bannerfish',
  description: 'serve one banner',
  options: {
    text: { value: 'TEXT', short: 't', help: 'what the banner says' },
    listen: { value: 'EP', help: 'where to listen', repeatable: true },
    shout: { help: 'say it in capitals' },
  },
  check(o) {
    if (o.text === '') throw new Error('--text needs some text');
  },
  build(o) {
    if (o.text === 'boom') throw new Error('the banner cannot say boom');
    let text = String(o.text ?? 'hi');
    if (o.shout) text = text.toUpperCase();
    return { sites: [{ site: new Site(new Data(text, 'text/plain')), listen: o.listen ?? ['tcp:8080'] }] };
  },
});
`;

/** A project with the bannerfish package installed, a broken plugin, and one pretending to be web. */
function project() {
  const dir = tempDir('trellis-plugin-');
  writeFileSync(join(dir.path, 'package.json'), JSON.stringify({ name: 'my-site', private: true }));
  const pkg = join(dir.path, 'node_modules/trellis-bannerfish');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'trellis-bannerfish', type: 'module', trellis: { plugins: { bannerfish: './plugin.js' } } }),
  );
  writeFileSync(join(pkg, 'plugin.js'), BANNERFISH);
  const scoped = join(dir.path, 'node_modules/@acme/odd');
  mkdirSync(scoped, { recursive: true });
  writeFileSync(
    join(scoped, 'package.json'),
    JSON.stringify({
      name: '@acme/odd',
      type: 'module',
      trellis: { plugins: { broken: './broken.js', misnamed: './misnamed.js', web: './broken.js' } },
    }),
  );
  writeFileSync(join(scoped, 'broken.js'), 'export default 42;\n');
  writeFileSync(join(scoped, 'misnamed.js'), BANNERFISH);
  return dir;
}

test('trellis --help lists the plugins installed packages declare, and NAME --help lists its options', async (t) => {
  const dir = project();
  t.after(() => dir.cleanup());
  const help = await runTrellis(['--help'], { cwd: dir.path });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /bannerfish \[options\]\s+plugin of trellis-bannerfish/);
  assert.match(help.stdout, /broken \[options\]\s+plugin of @acme\/odd/);
  const own = await runTrellis(['bannerfish', '--help'], { cwd: dir.path });
  assert.equal(own.code, 0, own.stderr);
  assert.match(own.stdout, /serve one banner/);
  for (const option of ['-t, --text TEXT', '--listen EP', '--shout', '--save-config FILE', '--config-dir DIR'])
    assert.ok(own.stdout.includes(option), option);
});

test('trellis NAME serves the plugin, and --save-config then run serves the same', async (t) => {
  const dir = project();
  t.after(() => dir.cleanup());
  const direct = await spawnTrellis(['bannerfish', '-t', 'hello', '--shout', '--listen', LOOPBACK], {
    cwd: dir.path,
    timeoutMs: START,
  });
  try {
    assert.equal(await (await fetch(direct.url)).text(), 'HELLO');
  } finally {
    await direct.stop();
  }
  const saved = await runTrellis(
    ['bannerfish', '--text', 'hello', '--shout', '--listen', LOOPBACK, '--save-config', 'banner.json'],
    { cwd: dir.path },
  );
  assert.equal(saved.code, 0, saved.stderr);
  const json = JSON.parse(readFileSync(join(dir.path, 'banner.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(json.service, 'bannerfish');
  assert.deepEqual(json.options, { text: 'hello', shout: true, listen: [LOOPBACK] });
  const fromFile = await spawnTrellis(['run', 'banner.json'], { cwd: dir.path, timeoutMs: START });
  try {
    assert.equal(await (await fetch(fromFile.url)).text(), 'HELLO');
  } finally {
    await fromFile.stop();
  }
});

test('plugin errors are one line: unknown option, build failure, check failure, bad module, bad saved value', async (t) => {
  const dir = project();
  t.after(() => dir.cleanup());
  writeFileSync(join(dir.path, 'bad.json'), JSON.stringify({ service: 'bannerfish', options: { text: ['a', 'b'] } }));
  writeFileSync(
    join(dir.path, 'empty.json'),
    JSON.stringify({ service: 'bannerfish', options: { text: '', listen: [LOOPBACK] } }),
  );
  writeFileSync(join(dir.path, 'boom.json'), JSON.stringify({ service: 'bannerfish', options: { text: 'boom' } }));
  const cases: Array<[string[], RegExp]> = [
    [['bannerfish', '--bogus'], /unknown option --bogus; run 'trellis bannerfish --help'/],
    [['bannerfish', '--text', 'boom', '--listen', LOOPBACK], /^trellis: bannerfish: the banner cannot say boom$/m],
    [['bannerfish', '--text', '', '--save-config', 'x.json'], /^trellis: bannerfish: --text needs some text$/m],
    [['bannerfish', '--text', '', '--listen', LOOPBACK], /^trellis: bannerfish: --text needs some text$/m],
    [['run', 'empty.json'], /empty\.json: .*--text needs some text$/m],
    [['broken'], /plugin "broken" of @acme\/odd: .*broken\.js does not export default definePlugin/],
    [['misnamed'], /exports a plugin named "bannerfish"; package.json and the module must agree/],
    [['run', 'bad.json'], /bad\.json: "options\.text": needs one TEXT/],
    [['run', 'boom.json'], /boom\.json: the banner cannot say boom/],
    [['nosuchplugin'], /unknown command "nosuchplugin": no plugin of that name/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runTrellis(args, { cwd: dir.path });
    assert.notEqual(r.code, 0, args.join(' '));
    assert.ok(oneLine(r.stderr), `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});

test('web is a plugin like the others, and a package cannot replace it', async (t) => {
  assert.equal(webPlugin.name, 'web');
  assert.equal(typeof webPlugin.build, 'function');
  assert.ok('path' in webPlugin.options && 'listen' in webPlugin.options);
  const dir = project();
  t.after(() => dir.cleanup());
  const help = await runTrellis(['web', '--help'], { cwd: dir.path });
  assert.equal(help.code, 0);
  for (const option of ['--path DIR', '--save-config FILE', '--config-dir DIR'])
    assert.ok(help.stdout.includes(option), option);
  assert.doesNotMatch((await runTrellis(['--help'], { cwd: dir.path })).stdout, /web \[options\]\s+plugin of/);
});
