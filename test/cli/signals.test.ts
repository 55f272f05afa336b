import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { acceptsTcp, spawnTrellis } from '../helpers/server.js';

const LISTEN = '0A';

/** The TCP ports a process listens on, from its socket descriptors and /proc/net/tcp{,6}. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]!);
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== LISTEN || !inodes.has(cols[9]!)) continue;
      ports.push(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return ports.sort((a, b) => a - b);
}

test('SIGUSR1 to `trellis web` opens no inspector and no port, and the server keeps serving', async () => {
  const inspectorWasOpen = await acceptsTcp(9229);
  const server = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1']);
  try {
    const pid = server.proc.pid!;
    const before = listeningPorts(pid);
    server.proc.kill('SIGUSR1');
    await sleep(500);
    assert.equal(server.proc.exitCode, null, 'still running');
    assert.deepEqual(listeningPorts(pid), before, 'no new listening port');
    if (!inspectorWasOpen) assert.equal(await acceptsTcp(9229), false, 'nothing on 127.0.0.1:9229');
    assert.doesNotMatch(server.stderr(), /Debugger listening|inspector/i);
    assert.match(server.stderr(), /SIGUSR1 received/);
    const res = await fetch(server.url);
    assert.ok(res.status < 500, `answers after SIGUSR1 (${res.status})`);
    await res.arrayBuffer();
  } finally {
    await server.stop('SIGKILL');
  }
});
