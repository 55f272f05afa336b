// The symlink policy under a swap race, through a real `trellis web --path` process: a name that flips
// between a hard link to a file inside the root and a symlink to a file outside it never serves the
// outside file, and losing the race leaves nothing cached that would serve it later.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { spawnTrellis, tempDir } from '../helpers/server.js';

const RACE_MS = 8_000;
const dir = tempDir('trellis-symlink-race-');
after(() => dir.cleanup());

/** Swaps `name` between a hard link to `inside` and a symlink to `outside` with atomic renames, until killed. */
const SWAPPER = `
const { linkSync, renameSync, symlinkSync, rmSync } = require('node:fs');
const [inside, outside, name] = process.argv.slice(1);
for (;;) {
  rmSync(name + '.hl', { force: true });
  linkSync(inside, name + '.hl');
  renameSync(name + '.hl', name);
  rmSync(name + '.sl', { force: true });
  symlinkSync(outside, name + '.sl');
  renameSync(name + '.sl', name);
}`;

function get(agent: Agent, url: URL): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('File never serves a file outside the root while a name is swapped for a symlink to it, nor after', async () => {
  const www = join(dir.path, 'www');
  const secrets = join(dir.path, 'secrets');
  mkdirSync(www);
  mkdirSync(secrets);
  const secret = `SECRET-${'x'.repeat(20)}`;
  writeFileSync(join(secrets, 'secret.txt'), secret);
  writeFileSync(join(www, 'in.txt'), 'inside, public');
  const name = join(www, 'p.txt');
  symlinkSync(join(secrets, 'secret.txt'), name);

  const server = await spawnTrellis(['web', '--path', www, '--listen', 'tcp:0:interface=127.0.0.1']);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const url = new URL('/p.txt', server.url.replace('localhost', '127.0.0.1'));
  try {
    assert.equal((await get(agent, url)).status, 404, 'a symlink out of the root is 404 before the race');
    const args = ['-e', SWAPPER, join(www, 'in.txt'), join(secrets, 'secret.txt'), name];
    const swapper = spawn(process.execPath, args, { stdio: 'ignore' });
    let requests = 0;
    let leaks = 0;
    const statuses = new Map<number, number>();
    try {
      const until = Date.now() + RACE_MS;
      const client = async () => {
        while (Date.now() < until) {
          const res = await get(agent, url);
          requests++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.body.includes('SECRET')) leaks++;
        }
      };
      await Promise.all([client(), client(), client(), client()]);
    } finally {
      swapper.kill('SIGKILL');
      await new Promise((r) => swapper.once('exit', r));
    }
    assert.equal(leaks, 0, `the outside file was served ${leaks} times in ${requests} requests`);
    assert.ok((statuses.get(200) ?? 0) > 0, `the race ran: ${JSON.stringify([...statuses])}`);

    rmSync(name, { force: true });
    rmSync(`${name}.hl`, { force: true });
    rmSync(`${name}.sl`, { force: true });
    symlinkSync(join(secrets, 'secret.txt'), name);
    for (let i = 0; i < 10; i++) {
      const res = await get(agent, url);
      assert.equal(res.status, 404, `request ${i} after the race: ${res.body}`);
    }
  } finally {
    agent.destroy();
    await server.stop();
  }
});
