// The JSON configuration `trellis run FILE` reads: hand-written files, relative paths, one-line
// errors that name the file and the key, and the JSON Schema shipped in the package.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configSchema } from '../../src/cli/config-file.js';
import { webPlugin } from '../../src/cli/web.js';
import { ROOT, runTrellis, spawnTrellis, tempDir } from '../helpers/server.js';
import { oneLine } from '../helpers/serving.js';

/** Start-up can take long on a loaded machine (TypeScript modules go through tsx): a liveness bound only. */
const START = 30_000;

test('a hand-written JSON configuration serves with paths relative to its own directory', async (t) => {
  const dir = tempDir('trellis-json-');
  t.after(() => dir.cleanup());
  mkdirSync(join(dir.path, 'conf/site'), { recursive: true });
  writeFileSync(join(dir.path, 'conf/site/hello.txt'), 'hello from json');
  writeFileSync(
    join(dir.path, 'conf/web.json'),
    JSON.stringify({
      service: 'web',
      options: {
        path: 'site',
        listen: 'tcp:0:interface=127.0.0.1',
        'add-header': ['X-From: json'],
        'no-listing': true,
        'display-tracebacks': false,
      },
    }),
  );
  const server = await spawnTrellis(['run', join(dir.path, 'conf/web.json')], { cwd: ROOT, timeoutMs: START });
  t.after(() => server.stop());
  const res = await fetch(new URL('/hello.txt', server.url));
  assert.equal(await res.text(), 'hello from json');
  assert.equal(res.headers.get('x-from'), 'json');
  assert.equal((await fetch(server.url)).status, 403, '--no-listing applies');
  assert.match(server.stdout(), new RegExp(`Files from ${join(dir.path, 'conf/site')}`));
});

test('JSON configuration errors are one line naming the file, the key and what is wrong', async (t) => {
  const dir = tempDir('trellis-json-');
  t.after(() => dir.cleanup());
  const cases: Array<[string, string, RegExp]> = [
    ['syntax.json', '{"service": "web",', /syntax\.json: is not valid JSON/],
    ['array.json', '[]', /array\.json: must hold a JSON object/],
    ['topkey.json', '{"service": "web", "servce": 1}', /topkey\.json: "servce": is not a configuration key/],
    ['noservice.json', '{"options": {}}', /noservice\.json: "service": must name the service to run/],
    ['unknown.json', '{"service": "nosuch"}', /unknown\.json: "service": names no plugin: "nosuch"/],
    ['format.json', '{"service": "web", "format": 2}', /format\.json: "format": must be 1, not 2/],
    ['options.json', '{"service": "web", "options": []}', /options\.json: "options": must be an object/],
    [
      'port.json',
      '{"service": "web", "options": {"port": "99999"}}',
      /port\.json: "options\.port": --port needs a port number from 0 to 65535, not "99999"/,
    ],
    [
      'bogus.json',
      '{"service": "web", "options": {"bogus": 1}}',
      /bogus\.json: "options\.bogus": unknown option of "web"/,
    ],
    [
      'flag.json',
      '{"service": "web", "options": {"no-listing": "yes"}}',
      /flag\.json: "options\.no-listing": is a flag: true or false, not "yes"/,
    ],
    [
      'index.json',
      '{"service": "web", "options": {"index": {"a": 1}}}',
      /index\.json: "options\.index": needs NAME or an array of them/,
    ],
    [
      'single.json',
      '{"service": "web", "options": {"path": ["a", "b"]}}',
      /single\.json: "options\.path": needs one DIR/,
    ],
    [
      'path.json',
      '{"service": "web", "options": {"path": "/nonexistent/trellis"}}',
      /path\.json: "options\.path": --path \/nonexistent\/trellis: .* does not exist/,
    ],
    [
      'endpoint.json',
      '{"service": "web", "options": {"listen": ["tcp:x"]}}',
      /endpoint\.json: "options\.listen": bad endpoint "tcp:x"/,
    ],
    ['directory.json', '{"service": "web", "directory": 5}', /directory\.json: "directory": must be a directory path/],
  ];
  for (const [name, text, pattern] of cases) {
    writeFileSync(join(dir.path, name), text);
    const r = await runTrellis(['run', name], { cwd: dir.path });
    assert.notEqual(r.code, 0, name);
    assert.ok(oneLine(r.stderr), `${name}: ${r.stderr}`);
    assert.match(r.stderr, pattern, name);
  }
  const missing = await runTrellis(['run', 'absent.json'], { cwd: dir.path });
  assert.match(missing.stderr, /absent\.json: no such file/);
  assert.ok(oneLine(missing.stderr));
});

test('the shipped JSON Schema is current, names every web option and ships in the package', () => {
  const shipped = JSON.parse(readFileSync(join(ROOT, 'schema/trellis-config.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(
    shipped,
    configSchema([webPlugin]),
    'run `node --import tsx scripts/write-schema.ts` after changing the options of web',
  );
  const web = (
    configSchema([webPlugin]).allOf as Array<{
      then: { properties: { options: { properties: Record<string, unknown> } } };
    }>
  )[0]!;
  for (const name of Object.keys(webPlugin.options)) assert.ok(name in web.then.properties.options.properties, name);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    files: string[];
    exports: Record<string, unknown>;
  };
  assert.ok(pkg.files.includes('schema'));
  assert.equal(pkg.exports['./schema/trellis-config.schema.json'], './schema/trellis-config.schema.json');
});

test('a saved configuration points $schema at the shipped schema', async (t) => {
  const dir = tempDir('trellis-json-');
  t.after(() => dir.cleanup());
  const r = await runTrellis(['web', '--path', '.', '--save-config', 'saved.json'], { cwd: dir.path });
  assert.equal(r.code, 0, r.stderr);
  const saved = JSON.parse(readFileSync(join(dir.path, 'saved.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(saved.$schema, new URL('schema/trellis-config.schema.json', `file://${ROOT}`).href);
  assert.deepEqual(saved.options, { path: '.' });
  assert.equal(saved.format, 1);
});
