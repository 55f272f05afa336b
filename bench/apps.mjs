// `npm run bench -- apps`: the same Express and Hono hello apps on their own servers (Express's
// app.listen, @hono/node-server) and mounted in Trellis (`trellis web --app`), each pinned to core 0
// with wrk on core 1, rounds alternating, the best round counted.
import { ROOT, alternateRounds, printTable, requireTool, rssMiB, spawnPinned, stop, waitForPort } from './lib.mjs';

requireTool('wrk');
requireTool('taskset', 'util-linux');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const server = (name) => `${ROOT}bench/servers/${name}`;
const trellis = (app) => (port) => [
  `${ROOT}dist/cli/main.js`,
  'web',
  '--listen',
  `tcp:${port}:interface=127.0.0.1`,
  '--app',
  server(app),
];
const pairs = [
  {
    app: 'express',
    own: { name: 'express app.listen', args: (port) => [server('express-hello.mjs'), String(port)] },
    trellis: { name: 'express in trellis', args: trellis('express-hello.mjs') },
  },
  {
    app: 'hono',
    own: { name: 'hono @hono/node-server', args: (port) => [server('hono-hello.mjs'), String(port)] },
    trellis: { name: 'hono in trellis', args: trellis('hono-hello.mjs') },
  },
];

let port = 18950;
const running = [];
try {
  for (const pair of pairs) {
    for (const s of [pair.own, pair.trellis]) {
      const p = port++;
      const child = spawnPinned(process.execPath, s.args(p));
      child.stdout.resume();
      running.push({ ...s, app: pair.app, child, url: `http://127.0.0.1:${p}/`, best: null });
      await waitForPort(p, 20_000);
    }
  }
  alternateRounds(running, { seconds: SECONDS, rounds: ROUNDS });
} finally {
  for (const r of running) r.rss = rssMiB(r.child.pid);
  await Promise.all(running.map((r) => stop(r.child)));
}
const rows = running.map((r) => ({
  app: r.app,
  server: r.name,
  'req/s': Math.round(r.best.rps),
  'p99 ms': r.best.p99,
  'CPU µs/req': Number(r.best.cpuUs.toFixed(1)),
  'RSS MiB': r.rss,
  errors: r.best.errors,
}));
for (const r of rows) {
  const own = rows.find((o) => o.app === r.app);
  r['vs own req/s'] = `${(r['req/s'] / own['req/s']).toFixed(2)}x`;
  r['vs own CPU'] = `${(own['CPU µs/req'] / r['CPU µs/req']).toFixed(2)}x`;
}
console.log(
  `\nhello apps, best of ${ROUNDS} alternating rounds of ${SECONDS}s, 50 connections (servers on core 0, wrk on core 1)`,
);
printTable(rows);
