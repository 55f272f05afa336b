// `trellis web ... --save-config FILE` then `trellis run FILE`: for every option of `web`, the same
// requests get the same answers from both servers (the mktap/TAP round trip). The cases are in
// test/helpers/round-trip.ts; this file runs those over HTTP, save-config-gateways.test.ts the rest.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WEB_OPTIONS } from '../../src/cli/web-config.js';
import { cases, registerRoundTrips, SAVED_ONLY, SECOND_FILE } from '../helpers/round-trip.js';
import { runTrellis, tempDir } from '../helpers/server.js';
import { oneLine } from '../helpers/serving.js';

test('every option of web has a --save-config round-trip case below', () => {
  const covered = new Set(cases.flatMap((c) => c.args).filter((a) => a.startsWith('-')));
  covered.add('--https').add('-c').add('-k'); // the HTTPS case's arguments are made once its certificate exists
  for (const spec of WEB_OPTIONS) {
    if (Object.hasOwn(SAVED_ONLY, spec.name)) continue;
    assert.ok(
      covered.has(`--${spec.name}`) || (spec.short !== undefined && covered.has(`-${spec.short}`)),
      `--${spec.name} has a round-trip case`,
    );
  }
});

test('options served by no round trip are saved all the same', async () => {
  const dir = tempDir('trellis-save-');
  try {
    const file = join(dir.path, 'daemon.json');
    const r = await runTrellis(
      ['web', '--path', '.', '--daemon', '--uid', 'root', '--gid', 'root', '--save-config', file],
      { cwd: dir.path },
    );
    assert.equal(r.code, 0, r.stderr);
    const options = (JSON.parse(readFileSync(file, 'utf8')) as { options: Record<string, unknown> }).options;
    assert.deepEqual(options, { path: '.', daemon: true, uid: 'root', gid: 'root' });
    const personal = join(dir.path, 'personal.json');
    const p = await runTrellis(
      ['web', '--path', '.', '--personal', '--personal-group', 'root', '--save-config', personal],
      { cwd: dir.path },
    );
    assert.equal(p.code, 0, p.stderr);
    const personalOptions = (JSON.parse(readFileSync(personal, 'utf8')) as { options: Record<string, unknown> })
      .options;
    assert.deepEqual(personalOptions, { path: '.', personal: true, 'personal-group': 'root' });
    for (const name of Object.keys(SAVED_ONLY)) assert.ok(name in options || name in personalOptions, name);
  } finally {
    dir.cleanup();
  }
});

registerRoundTrips((c) => !SECOND_FILE.has(c.name));

test('--save-config refuses a bad option value in one line and writes nothing', async () => {
  const dir = tempDir('trellis-save-');
  try {
    const file = join(dir.path, 'bad.json');
    for (const args of [
      ['--port', '99999'],
      ['--mime-type', 'nonsense'],
      ['--add-header', 'no colon'],
    ]) {
      const r = await runTrellis(['web', ...args, '--save-config', file], { cwd: dir.path });
      assert.equal(r.code, 2, args.join(' '));
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.match(r.stderr, new RegExp(`^trellis: ${args[0]}`));
      assert.throws(() => readFileSync(file), /ENOENT/);
    }
  } finally {
    dir.cleanup();
  }
});
