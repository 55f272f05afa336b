// Program files (.php, .cgi, .pl, .rpy, ...) are never sent as source (SECURITY.md §2.1–§2.2):
// without a processor they answer 403 with an error-log line, and no ignored-extension lookup leads to one.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Data } from '../../src/data.js';
import { File } from '../../src/static/file.js';
import { isProgramName, PROGRAM_EXTENSIONS } from '../../src/static/processors.js';
import { Site } from '../../src/site.js';
import { render } from '../helpers/dummy.js';
import { scriptFolder } from '../helpers/cgi.js';

const SOURCE = '<?php $password = "hunter2"; ?>';
const dir = scriptFolder([], {
  'login.php': { text: SOURCE, mode: 0o644 },
  'tool.cgi': { text: `#!/bin/sh\n# password=hunter2\n`, mode: 0o755 },
  'site.rpy': { text: 'password = "hunter2"\n', mode: 0o644 },
  'mail.pl': { text: '# password hunter2\n', mode: 0o644 },
  'SHOUT.PHP': { text: SOURCE, mode: 0o644 },
  'old.php.gz': { text: SOURCE, mode: 0o644 },
  'page.html': { text: '<p>page</p>', mode: 0o644 },
  'notes.txt': { text: 'notes', mode: 0o644 },
});
after(() => dir.cleanup());

function siteFor(file: File) {
  const errors: string[] = [];
  return { site: new Site(file, { logError: (m) => void errors.push(m) }), errors };
}

describe('program files without a processor', () => {
  it('isProgramName knows programs by extension or their last two, in any case, also compressed', () => {
    for (const name of [
      'a.php',
      'a.PHP',
      'a.cgi',
      'a.pl',
      'a.rpy',
      'a.phtml',
      'a.php.gz',
      'a.php.',
      'a.php ',
      'a.cgi. .',
      'a.rpy.ts',
      'a.RPY.JS',
      'a.rpy.ts.gz',
      'a.rpy.js.',
    ]) {
      assert.equal(isProgramName(name), true, name);
    }
    for (const name of ['a.html', 'a.txt', 'php', 'a.gz', 'a.js', 'a.ts', 'rpy.ts', 'a.rpy.tsx', 'a.x.ts'])
      assert.equal(isProgramName(name), false, name);
    assert.ok(PROGRAM_EXTENSIONS.has('.rpy') && PROGRAM_EXTENSIONS.has('.cgi') && PROGRAM_EXTENSIONS.has('.php'));
  });

  it('a program file is 403 with a log line, its source never sent', async () => {
    const { site, errors } = siteFor(new File(dir.path));
    for (const name of ['login.php', 'tool.cgi', 'site.rpy', 'mail.pl', 'SHOUT.PHP', 'old.php.gz']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await render(site, { method, uri: `/${name}` });
        assert.equal(res.code, 403, `${method} ${name}`);
        assert.doesNotMatch(res.text(), /hunter2/);
      }
      assert.ok(
        errors.some((l) => l.includes(join(dir.path, name)) && l.includes('is a program')),
        name,
      );
    }
    assert.equal((await render(site, { uri: '/notes.txt' })).text(), 'notes');
  });

  it('a program file served as the whole root (--path FILE) is 403 too, even with a processor', async () => {
    const { site } = siteFor(
      new File(join(dir.path, 'login.php'), { processors: { '.php': () => new Data('ran', 'text/plain') } }),
    );
    const res = await render(site, { uri: '/' });
    assert.equal(res.code, 403);
    assert.doesNotMatch(res.text(), /hunter2/);
  });

  it('the ignored-extension search never finds a program: /login is 404, /page finds page.html', async () => {
    const { site } = siteFor(new File(dir.path, { ignoredExts: ['.php', '.html'] }));
    assert.equal((await render(site, { uri: '/login' })).code, 404);
    assert.equal((await render(site, { uri: '/page' })).text(), '<p>page</p>');
    const any = siteFor(new File(dir.path, { ignoredExts: ['*'] })).site;
    assert.equal((await render(any, { uri: '/login' })).code, 404);
    assert.equal((await render(any, { uri: '/tool' })).code, 404);
  });

  it('with a processor the program runs instead', async () => {
    const { site } = siteFor(new File(dir.path, { processors: { '.php': () => new Data('ran', 'text/plain') } }));
    assert.equal((await render(site, { uri: '/login.php' })).text(), 'ran');
    assert.equal((await render(site, { uri: '/SHOUT.PHP' })).text(), 'ran');
  });

  it('programExtensions changes the list: an empty one serves every file', async () => {
    const { site } = siteFor(new File(dir.path, { programExtensions: [] }));
    assert.equal((await render(site, { uri: '/mail.pl' })).code, 200);
  });
});
