// `trellis web --ajp`: where it listens, what it refuses, and its option errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runTrellis, spawnTrellis } from '../helpers/server.js';

describe('trellis web --ajp', () => {
  it('serves AJP on loopback for a bare port, and no HTTP listener unless asked', async () => {
    const proc = await spawnTrellis(['web', '--ajp', '0']);
    try {
      assert.match(proc.url, /^ajp:\/\/127\.0\.0\.1:\d+\/$/);
      assert.doesNotMatch(proc.stdout(), /http:\/\//);
    } finally {
      await proc.stop();
    }
  });

  const refusals: Array<[string, string[], number, RegExp]> = [
    [
      'a non-loopback interface without a secret',
      ['--ajp', 'tcp:0:interface=0.0.0.0'],
      1,
      /refusing to serve AJP on 0\.0\.0\.0:0 without a secret; bind to 127\.0\.0\.1/,
    ],
    ['AJP over TLS', ['--ajp', 'ssl:0:privateKey=k.pem:certKey=c.pem'], 1, /AJP does not run over TLS/],
    ['an empty secret', ['--ajp', '0', '--ajp-secret', ''], 2, /--ajp-secret needs a non-empty secret/],
    [
      'a mount that is not a path',
      ['--ajp', '0', '--mount', 'app'],
      2,
      /--mount needs a path starting with \/, like \/app, not "app"/,
    ],
  ];
  for (const [name, args, code, message] of refusals) {
    it(`refuses ${name} with one line`, async () => {
      const r = await runTrellis(['web', ...args]);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });
  }
});
