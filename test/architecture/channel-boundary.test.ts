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


test('only the channel boundary (and the in-memory request of trellis/testing) constructs a Request in src/', () => {
  const builders = sources(SRC)
    .filter((file) => /\bnew Request\(/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(SRC, file));
  // testRequest() builds one without serving it: a test calls a handler with it directly.
  assert.deepEqual(builders, ['channels/boundary.ts', 'testing.ts']);
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
