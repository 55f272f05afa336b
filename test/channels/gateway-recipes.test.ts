// The deployment pages show exactly the configs the front-end tests run: every recipe file appears
// unchanged on its front end's page in docs/deploy/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FRONT_ENDS, RECIPES } from '../helpers/gateway-matrix.js';
import { ROOT } from '../helpers/server.js';

const PAGES: Array<[RegExp, string]> = [
  [/^nginx-/, 'nginx.md'],
  [/^lighttpd-/, 'lighttpd.md'],
  [/^apache-/, 'apache.md'],
  [/^haproxy-/, 'haproxy.md'],
  [/^cgi-fcgi/, 'cgi-fcgi.md'],
];

const recipes = [...FRONT_ENDS, { recipe: 'lighttpd-fastcgi-root.conf', mount: undefined }];
for (const fe of recipes) {
  test(`docs/deploy shows the tested ${fe.recipe} unchanged`, () => {
    const page = PAGES.find(([re]) => re.test(fe.recipe))?.[1];
    assert.ok(page, `no page for ${fe.recipe}`);
    const doc = readFileSync(join(ROOT, 'docs/deploy', page), 'utf8');
    const text = readFileSync(join(RECIPES, fe.recipe), 'utf8').trimEnd();
    assert.ok(doc.includes(text), `${page} does not show ${fe.recipe} as tested`);
    if (fe.mount) assert.ok(doc.includes(`--mount ${fe.mount}`), `${page} does not say --mount ${fe.mount}`);
  });
}
