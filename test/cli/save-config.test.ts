// `trellis web ... --save-config FILE` then `trellis run FILE`: for every option of `web`, the same
// requests get the same answers from both servers (the mktap/TAP round trip). The cases are in
// test/helpers/round-trip.ts; this file runs those over HTTP, save-config-gateways.test.ts the rest.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WEB_OPTIONS } from '../../src/cli/web-config.js';
import { cases, registerRoundTrips, SECOND_FILE } from '../helpers/round-trip.js';
import { runTrellis, tempDir } from '../helpers/server.js';
import { oneLine } from '../helpers/serving.js';

test('every option of web has a --save-config round-trip case below', () => {
  const covered = new Set(cases.flatMap((c) => c.args).filter((a) => a.startsWith('-')));
  covered.add('--https').add('-c').add('-k'); // the HTTPS case's arguments are made once its certificate exists
  for (const spec of WEB_OPTIONS) {
    assert.ok(covered.has(`--${spec.name}`) || (spec.short !== undefined && covered.has(`-${spec.short}`)), `--${spec.name} has a round-trip case`);
  }
});

registerRoundTrips((c) => !SECOND_FILE.has(c.name));

test('--save-config refuses a bad option value in one line and writes nothing', async () => {
  const dir = tempDir('trellis-save-');
  try {
    const file = join(dir.path, 'bad.json');
    for (const args of [['--port', '99999'], ['--mime-type', 'nonsense'], ['--add-header', 'no colon']]) {
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
