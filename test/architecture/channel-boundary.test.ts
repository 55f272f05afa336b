// Every channel builds its Request at one boundary (src/channels/boundary.ts), and the members only
// channels use stay off the public Request type.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { Request } from '../../src/request.js';
import { dummyRequest } from '../helpers/dummy.js';
import { ROOT } from '../helpers/server.js';
import { sources } from '../helpers/sources.js';

const SRC = join(ROOT, 'src');

test('only the channel boundary constructs a Request in src/ (and the CGI local redirect, and the in-memory request of trellis/testing)', () => {
  const builders = sources(SRC)
    .filter((file) => /\bnew Request\(/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(SRC, file));
  // RFC 3875 §6.2.2: a script's `Location: /path` alone is served as a new GET from the Site's root;
  // it comes from no wire, so no channel builds it. It still enters through `site.handle()`.
  // testRequest() builds one without serving it: a test calls a handler with it directly.
  assert.deepEqual(builders, ['cgi/local-redirect.ts', 'channels/boundary.ts', 'testing.ts']);
});

test('connectionLost, setTrustedHeader and resetResponse are not members of the public Request', () => {
  const { request } = dummyRequest();
  for (const name of ['connectionLost', 'setTrustedHeader', 'resetResponse']) {
    assert.equal(name in request, false, `request.${name} is public`);
    assert.equal(Object.getOwnPropertyNames(Request.prototype).includes(name), false);
  }
  // @ts-expect-error channels reach it through src/channels/boundary.ts only
  void request.connectionLost;
});

test("'trellis' gives resource authors Request as a type only; the class is in 'trellis/channels'", async () => {
  const main = await import('../../src/index.js');
  const channels = await import('../../src/channels/index.js');
  const testing = await import('../../src/testing.js');
  assert.equal('Request' in main, false, "new Request() is a channel's business");
  for (const name of ['serveParts', 'standIn', 'connectionLost'])
    assert.equal(name in main, false, `${name} is only for channels`);
  assert.equal(channels.Request, Request);
  assert.equal(typeof channels.serveParts, 'function');
  assert.equal(typeof channels.connectionLost, 'function');
  assert.equal(typeof testing.render, 'function');
  assert.equal(typeof testing.testRequest, 'function');
});

test('the package exports map names the three entry points (and the configuration schema) and the bundle builds each', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  assert.deepEqual(Object.keys(pkg.exports), [
    '.',
    './channels',
    './testing',
    './package.json',
    './schema/trellis-config.schema.json',
  ]);
  const bundle = readFileSync(join(ROOT, 'scripts/bundle.mjs'), 'utf8');
  for (const entry of ['src/index.ts', 'src/channels/index.ts', 'src/testing.ts'])
    assert.ok(bundle.includes(`'${entry}'`), entry);
});
