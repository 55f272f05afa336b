import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PasswdFile, parsePasswd, realName } from '../../src/users/passwd.js';
import { tempDir } from '../helpers/server.js';

test('parsePasswd reads the seven fields of each account line', () => {
  const [alice] = parsePasswd('alice:x:1000:1001:Alice Liddell,,,:/home/alice:/bin/bash\n');
  assert.deepEqual(alice, {
    name: 'alice',
    uid: 1000,
    gid: 1001,
    gecos: 'Alice Liddell,,,',
    home: '/home/alice',
    shell: '/bin/bash',
  });
});

test('parsePasswd skips comments, NIS lines, short lines, bad ids and relative homes', () => {
  const text = [
    '# comment',
    '+::::::',
    '-bob::::::',
    'carol:x:1:1:',
    'dave:x:one:1::/home/dave:/bin/sh',
    'erin:x:5:5::home/erin:/bin/sh',
    'frank:x:6:6::/home/frank:/bin/sh\r',
    '',
  ].join('\n');
  assert.deepEqual(
    parsePasswd(text).map((e) => e.name),
    ['frank'],
  );
  assert.equal(parsePasswd(text)[0]!.shell, '/bin/sh');
});

test('realName is the first GECOS field, else the login name', () => {
  const [a, b] = parsePasswd('a:x:1:1:Ann Example,Room 1:/h/a:/bin/sh\nb:x:2:2:,,,:/h/b:/bin/sh\n');
  assert.equal(realName(a!), 'Ann Example');
  assert.equal(realName(b!), 'b');
});

test('PasswdFile reads the file again when it changes, the first entry of a name winning', () => {
  const dir = tempDir('trellis-passwd-');
  try {
    const file = join(dir.path, 'passwd');
    writeFileSync(file, 'a:x:1:1::/h/a:/bin/sh\na:x:9:9::/h/other:/bin/sh\n');
    const users = new PasswdFile(file);
    assert.equal(users.lookup('a')?.uid, 1);
    assert.equal(users.list().length, 1);
    writeFileSync(file, 'a:x:1:1::/h/a:/bin/sh\nb:x:2:2:Bee:/h/b:/bin/sh\n');
    assert.equal(users.lookup('b')?.home, '/h/b');
    assert.equal(new PasswdFile(join(dir.path, 'missing')).lookup('a'), undefined);
  } finally {
    dir.cleanup();
  }
});
