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


test('only the channel boundary constructs a Request in src/ (and the CGI local redirect, a request made inside the Site)', () => {
  const builders = sources(SRC)
    .filter((file) => /\bnew Request\(/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(SRC, file));
  // RFC 3875 §6.2.2: a script's `Location: /path` alone is served as a new GET from the Site's root;
  // it comes from no wire, so no channel builds it. It still enters through `site.handle()`.
  assert.deepEqual(builders, ['cgi/local-redirect.ts', 'channels/boundary.ts']);
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
