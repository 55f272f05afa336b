// `npm run bench -- script`: the hello-world leaf as a resource script (`--resource-script`, checked
// for edits on every request) against the same class loaded once with `--class`. Target: at least
// 0.95x. Both servers pinned to core 0 and loaded in alternating rounds by wrk on core 1.
import {
  ROOT,
  cpuSeconds,
  freePort,
  printTable,
  requireTool,
  rssMiB,
  spawnPinned,
  stop,
  waitForPort,
  wrk,
} from './lib.mjs';

requireTool('wrk');
requireTool('taskset', 'util-linux');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLI = `${ROOT}dist/cli/main.js`;
const servers = [
  {
    name: '--class',
    args: (port) => [
      CLI,
      'web',
      '--listen',
      `tcp:${port}:interface=127.0.0.1`,
      '--class',
      `${ROOT}bench/servers/hello-trellis.mjs`,
    ],
  },
  {
    name: '--resource-script',
    args: (port) => [
      CLI,
      'web',
      '--listen',
      `tcp:${port}:interface=127.0.0.1`,
      '--resource-script',
      `${ROOT}bench/servers/hello.rpy.js`,
    ],
  },
];

const running = [];
try {
  for (const s of servers) {
    const p = await freePort();
    const child = spawnPinned(process.execPath, s.args(p));
    child.stdout.resume();
    running.push({ ...s, child, url: `http://127.0.0.1:${p}/`, best: null });
    await waitForPort(p);
  }
  for (const r of running) {
    const check = await fetch(r.url);
    if ((await check.text()) !== 'Hello, world!') throw new Error(`${r.name} answered ${check.status}`);
    wrk(r.url, { seconds: 1, connections: 50 }); // warm up the JIT
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of running) {
      const cpu0 = cpuSeconds(r.child.pid);
      const result = wrk(r.url, { seconds: SECONDS, connections: 50 });
      result.cpuUs = ((cpuSeconds(r.child.pid) - cpu0) * 1e6) / (result.rps * SECONDS);
      if (!r.best || result.rps > r.best.rps) r.best = result;
    }
  }
} finally {
  for (const r of running) r.rss = rssMiB(r.child.pid);
  await Promise.all(running.map((r) => stop(r.child)));
}
const rows = running.map((r) => ({
  server: r.name,
  'req/s': Math.round(r.best.rps),
  'p99 ms': r.best.p99,
  'CPU µs/req': Number(r.best.cpuUs.toFixed(1)),
  'RSS MiB': r.rss,
  errors: r.best.errors,
}));
const base = rows[0];
for (const r of rows) {
  r['vs --class req/s'] = `${(r['req/s'] / base['req/s']).toFixed(2)}x`;
  r['vs --class CPU'] = `${(base['CPU µs/req'] / r['CPU µs/req']).toFixed(2)}x`;
}
console.log(
  `\nhello resource script, best of ${ROUNDS} alternating rounds of ${SECONDS}s, 50 connections (servers on core 0, wrk on core 1); target >= 0.95x`,
);
printTable(rows);
