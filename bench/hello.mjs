// `npm run bench -- hello`: a hello-world leaf through Trellis against bare node:http and Fastify, one
// process each pinned to core 0 with wrk on core 1; then spawn-to-first-answer time against node:http.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { ROOT, alternateRounds, printTable, requireTool, rssMiB, spawnPinned, stop, waitForPort } from './lib.mjs';

requireTool('wrk');
requireTool('taskset', 'util-linux');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const servers = [
  { name: 'node:http', args: (port) => [`${ROOT}bench/servers/hello-node.mjs`, String(port)] },
  { name: 'fastify', args: (port) => [`${ROOT}bench/servers/hello-fastify.mjs`, String(port)] },
  {
    name: 'trellis',
    args: (port) => [
      `${ROOT}dist/cli/main.js`,
      'web',
      '--listen',
      `tcp:${port}:interface=127.0.0.1`,
      '--class',
      `${ROOT}bench/servers/hello-trellis.mjs`,
    ],
  },
];

// Every server runs for the whole benchmark (idle while another is loaded) and the rounds alternate,
// so a burst of outside load does not land on one server only. The best round counts, and the server's
// CPU time per request is reported beside it: it is steadier than throughput on a shared machine.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
let port = 18900;
const running = [];
try {
  for (const s of servers) {
    const p = port++;
    const child = spawnPinned(process.execPath, s.args(p));
    child.stdout.resume();
    running.push({ ...s, child, url: `http://127.0.0.1:${p}/`, best: null });
    await waitForPort(p);
  }
  alternateRounds(running, { seconds: SECONDS, rounds: ROUNDS });
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
const base = rows.find((r) => r.server === 'node:http');
for (const r of rows) {
  r['vs node req/s'] = `${(r['req/s'] / base['req/s']).toFixed(2)}x`;
  r['vs node CPU'] = `${(base['CPU µs/req'] / r['CPU µs/req']).toFixed(2)}x`;
}
console.log(
  `\nhello world, best of ${ROUNDS} alternating rounds of ${SECONDS}s, 50 connections (servers on core 0, wrk on core 1)`,
);
printTable(rows);

/** Milliseconds from spawn until the first 200 answer. */
async function timeToFirstAnswer(args, p) {
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, args(p), { stdio: 'ignore' });
  for (;;) {
    const ok = await new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: p, path: '/' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  await stop(child);
  return ms;
}

const RUNS = 20;
const startRows = [];
for (const s of [servers[0], servers[2]]) {
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(await timeToFirstAnswer(s.args, port++));
  times.sort((a, b) => a - b);
  startRows.push({ server: s.name, 'median ms': times[Math.floor(RUNS / 2)], 'min ms': times[0] });
}
const bare = startRows[0]['median ms'];
for (const r of startRows) r['vs node'] = `${(r['median ms'] / bare).toFixed(2)}x`;
console.log(`\nspawn to first answered request, median of ${RUNS}`);
printTable(startRows);
