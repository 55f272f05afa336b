// A server whose stderr pipe closed keeps serving and stays idle: writing a log line to a dead pipe
// must not turn into an error that is logged to the same dead pipe, again and again.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, spawnTrellis } from '../helpers/server.js';

/** CPU clock ticks (1/100 s) a process has used, from /proc. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

test('with its stderr pipe closed, trellis web logs a failing request to nowhere and keeps serving, idle', async () => {
  const server = await spawnTrellis(
    ['web', '--listen', 'tcp:0:interface=127.0.0.1', '--class', 'test/fixtures/class-site.ts#Root'],
    { cwd: ROOT },
  );
  try {
    server.proc.stderr!.destroy();
    // A resource that throws: the Site writes its error to stderr, which is now a broken pipe.
    assert.equal((await fetch(new URL('/boom', server.url))).status, 500);
    await sleep(300);
    const before = cpuTicks(server.proc.pid!);
    await sleep(1000);
    const used = cpuTicks(server.proc.pid!) - before;
    assert.ok(used < 30, `an idle server used ${used} of 100 CPU ticks in one second`);
    assert.equal((await fetch(new URL('/hello', server.url))).status, 200);
  } finally {
    await server.stop('SIGKILL');
  }
});
