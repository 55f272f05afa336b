// `npm run bench -- workers`: `trellis web` as one process against `--workers 2` (hello world from a
// resource, and a 1 KiB file), in requests/s, and the RSS of the primary and of each worker. The
// servers are not pinned (a pool is meant to use both cores); wrk is pinned to core 1, so on a
// two-core machine the second worker shares its core with the load generator: the figures are a
// floor for what a pool gains. Loopback only; the lead reruns these on a quiet machine.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, printTable, requireTool, rssMiB, stop, waitForPort, wrk } from './lib.mjs';

requireTool('wrk');
requireTool('taskset', 'util-linux');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const work = mkdtempSync(join(tmpdir(), 'trellis-bench-workers-'));
writeFileSync(join(work, '1k.bin'), randomBytes(1024));

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The pids of `pid`'s children (the workers of a pool). */
function childrenOf(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

async function start(workers) {
  const port = await freePort();
  const args = [
    `${ROOT}dist/cli/main.js`,
    'web',
    '--listen',
    `tcp:${port}:interface=127.0.0.1`,
    '--class',
    `${ROOT}bench/servers/hello-trellis.mjs`,
  ];
  if (workers) args.push('--workers', String(workers));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.resume();
  await waitForPort(port, 30_000);
  return { child, port };
}

async function startFiles(workers) {
  const port = await freePort();
  const args = [`${ROOT}dist/cli/main.js`, 'web', '--path', work, '--listen', `tcp:${port}:interface=127.0.0.1`];
  if (workers) args.push('--workers', String(workers));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.resume();
  await waitForPort(port, 30_000);
  return { child, port };
}

const setups = [
  { name: 'one process', workers: 0 },
  { name: '--workers 2', workers: 2 },
];
const rows = [];
const children = [];
try {
  for (const c of [
    { name: 'hello', path: '/', run: start },
    { name: '1 KiB file', path: '/1k.bin', run: startFiles },
  ]) {
    const running = [];
    for (const s of setups) {
      const server = await c.run(s.workers);
      children.push(server.child);
      running.push({ ...s, ...server });
    }
    await new Promise((r) => setTimeout(r, 500));
    const best = new Map();
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of running) {
        const url = `http://127.0.0.1:${s.port}${c.path}`;
        if (round === 0) wrk(url, { seconds: 1, connections: 50, threads: 2 });
        const r = wrk(url, { seconds: SECONDS, connections: 50, threads: 2 });
        if (!best.has(s.name) || r.rps > best.get(s.name).rps) best.set(s.name, r);
      }
    }
    const base = best.get('one process').rps;
    for (const s of running) {
      const r = best.get(s.name);
      const workerPids = s.workers ? childrenOf(s.child.pid) : [];
      rows.push({
        case: c.name,
        server: s.name,
        'req/s': Math.round(r.rps),
        'vs one process': `${(r.rps / base).toFixed(2)}x`,
        'p99 ms': Number(r.p99.toFixed(1)),
        'RSS MiB': s.workers
          ? `primary ${rssMiB(s.child.pid).toFixed(0)}, workers ${workerPids.map((p) => rssMiB(p).toFixed(0)).join(' + ')}`
          : rssMiB(s.child.pid).toFixed(0),
        errors: r.errors + (r.socketErrors ? ` (${r.socketErrors})` : ''),
      });
    }
    for (const s of running) {
      await stop(s.child);
      children.splice(children.indexOf(s.child), 1);
    }
  }
} finally {
  await Promise.all(children.map(stop));
  rmSync(work, { recursive: true, force: true });
}
printTable(rows);
