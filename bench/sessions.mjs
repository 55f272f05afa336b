// `npm run bench -- sessions`: requests/s of a session read-and-write per request (load the session,
// increment a counter, write it back) with the memory, SQLite and Redis stores, in the same run.
// 1000 visitors' sessions are made first; wrk sends each request with the next visitor's cookie.
// Trellis and redis-server share core 0 (the store's cost counts against the server, as SQLite's
// does in-process); wrk runs on core 1. Loopback only, bounded time. Target: SQLite >= 0.7x memory.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT,
  SERVER_CORE,
  alternateRounds,
  freePort,
  printTable,
  requireTool,
  rssMiB,
  spawnPinned,
  stop,
  waitForPort,
} from './lib.mjs';

requireTool('wrk');
requireTool('taskset', 'util-linux');
requireTool('redis-server');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const VISITORS = 1000;
const work = mkdtempSync(join(tmpdir(), 'trellis-bench-sessions-'));

function get(port, cookie) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: cookie ? { Cookie: cookie } : {} }, (res) => {
      res.resume().on('end', () => resolve(res.headers['set-cookie']?.[0]?.split(';')[0]));
    });
    req.on('error', reject).end();
  });
}

const children = [];
const rows = [];
try {
  const redisPort = await freePort();
  const redis = spawn(
    'taskset',
    [
      '-c',
      String(SERVER_CORE),
      'redis-server',
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      work,
    ],
    { stdio: 'ignore' },
  );
  children.push(redis);
  await waitForPort(redisPort, 10_000);

  const stores = [
    { name: 'memory', url: 'memory:' },
    { name: 'SQLite', url: `sqlite:${join(work, 'sessions.sqlite')}` },
    { name: 'Redis', url: `redis://127.0.0.1:${redisPort}/0` },
  ];
  const running = [];
  for (const s of stores) {
    const port = await freePort();
    const child = spawnPinned(process.execPath, [
      `${ROOT}dist/cli/main.js`,
      'web',
      '--class',
      `${ROOT}bench/servers/sessions-trellis.mjs`,
      '--listen',
      `tcp:${port}:interface=127.0.0.1`,
      '--sessions',
      s.url,
      '--no-logfile',
    ]);
    child.stdout.resume();
    children.push(child);
    await waitForPort(port, 30_000);
    const cookies = [];
    for (let i = 0; i < VISITORS; i++) cookies.push(await get(port, undefined));
    const script = join(work, `${s.name}.lua`);
    writeFileSync(
      script,
      `local cookies = {${cookies.map((c) => JSON.stringify(c)).join(',')}}
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format("GET", "/", { ["Cookie"] = cookies[i] })
end
`,
    );
    running.push({ ...s, child, url: `http://127.0.0.1:${port}/`, script });
  }
  alternateRounds(running, { seconds: SECONDS, rounds: ROUNDS, wrkOptions: (r) => ({ script: r.script }) });
  const memory = running[0].best.rps;
  for (const r of running) {
    rows.push({
      store: r.name,
      'req/s': Math.round(r.best.rps),
      'vs memory': `${(r.best.rps / memory).toFixed(2)}x`,
      'p99 ms': Number(r.best.p99.toFixed(1)),
      'CPU us/req': Math.round(r.best.cpuUs),
      'RSS MiB': Math.round(rssMiB(r.child.pid)),
      errors: r.best.errors + (r.best.socketErrors ? ` (${r.best.socketErrors})` : ''),
    });
  }
} finally {
  await Promise.all(children.map(stop));
  rmSync(work, { recursive: true, force: true });
}
console.log(
  `\nsession read-and-write per request, ${VISITORS} sessions, best of ${ROUNDS} alternating rounds of ${SECONDS}s, 50 connections (Trellis and redis-server on core ${SERVER_CORE}, wrk on core 1)`,
);
printTable(rows);
