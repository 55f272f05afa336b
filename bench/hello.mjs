// `npm run bench -- hello`: a hello-world leaf through Trellis against bare node:http and Fastify, one
// process each pinned to core 0 with wrk on core 1; then spawn-to-first-answer time against node:http.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { ROOT, printTable, requireTool, rssMiB, spawnPinned, stop, waitForPort, wrk } from './lib.mjs';

requireTool('wrk');
requireTool('taskset', 'util-linux');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const servers = [
  { name: 'node:http', args: (port) => [`${ROOT}bench/servers/hello-node.mjs`, String(port)] },
  { name: 'fastify', args: (port) => [`${ROOT}bench/servers/hello-fastify.mjs`, String(port)] },
  {
    name: 'trellis',
    args: (port) => [`${ROOT}dist/cli/main.js`, 'web', '--listen', `tcp:${port}:interface=127.0.0.1`, '--class', `${ROOT}bench/servers/hello-trellis.mjs`],
  },
];

let port = 18900;
const rows = [];
for (const s of servers) {
  const p = port++;
  const child = spawnPinned(process.execPath, s.args(p));
  child.stdout.resume();
  await waitForPort(p);
  const url = `http://127.0.0.1:${p}/`;
  wrk(url, { seconds: 1, connections: 50 }); // warm up the JIT
  const r = wrk(url, { seconds: SECONDS, connections: 50 });
  rows.push({ server: s.name, 'req/s': Math.round(r.rps), 'p99 ms': r.p99, 'RSS MiB': rssMiB(child.pid), errors: r.errors });
  await stop(child);
}
const base = rows.find((r) => r.server === 'node:http')['req/s'];
for (const r of rows) r['vs node'] = `${(r['req/s'] / base).toFixed(2)}x`;
console.log(`\nhello world, ${SECONDS}s per server, 50 connections (server on core 0, wrk on core 1)`);
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

const RUNS = 10;
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
