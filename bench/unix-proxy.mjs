// The relay to personal servers: ReverseProxyResource to a backend on a UNIX socket
// (`trellis web --proxy /=unix:SOCK`), against the same proxy to the backend over TCP, and nginx
// proxy_pass to the same UNIX socket (one worker, keepalive upstream). The proxy under test runs on
// core 0; wrk and the backend share core 1 (the machine has 2 cores).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LOAD_CORE,
  ROOT,
  cpuSeconds,
  printTable,
  requireTool,
  spawnPinned,
  startNginx,
  stop,
  waitForPort,
  wrk,
} from './lib.mjs';

requireTool('wrk');
requireTool('nginx');
requireTool('taskset', 'util-linux');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BACKEND = 18610;
const TRELLIS_TCP = 18611;
const TRELLIS_UNIX = 18612;
const NGINX = 18613;
const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-unix-proxy-'));
const socket = join(dir, 'backend.sock');
const children = [];

// The backend: a tiny node:http server answering 13 bytes on both a TCP port and a UNIX socket.
const backendCode = `const s = require('node:http').createServer((q, r) => { r.setHeader('Content-Type', 'text/plain'); r.end('hello, world\\n'); });
s.listen(${BACKEND}, '127.0.0.1'); const u = require('node:http').createServer(s.listeners('request')[0]); u.listen(${JSON.stringify(socket)});`;
children.push(spawn('taskset', ['-c', String(LOAD_CORE), process.execPath, '-e', backendCode], { stdio: 'ignore' }));

const cli = join(ROOT, 'dist/cli/main.js');
const overTcp = spawnPinned(process.execPath, [
  cli,
  'web',
  '--listen',
  `tcp:${TRELLIS_TCP}:interface=127.0.0.1`,
  '--proxy',
  `/=http://127.0.0.1:${BACKEND}/`,
]);
const overUnix = spawnPinned(process.execPath, [
  cli,
  'web',
  '--listen',
  `tcp:${TRELLIS_UNIX}:interface=127.0.0.1`,
  '--proxy',
  `/=unix:${socket}`,
]);
children.push(overTcp, overUnix);
const nginx = startNginx(
  dir,
  `  upstream backend { server unix:${socket}; keepalive 64; }
  server {
    listen 127.0.0.1:${NGINX};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
`,
);
children.push(nginx);

function totalRequests(raw) {
  return Number(/(\d+) requests in/.exec(raw)?.[1] ?? 0);
}

try {
  await Promise.all([waitForPort(BACKEND), waitForPort(TRELLIS_TCP), waitForPort(TRELLIS_UNIX), waitForPort(NGINX)]);
  for (const port of [TRELLIS_TCP, TRELLIS_UNIX, NGINX])
    wrk(`http://127.0.0.1:${port}/`, { seconds: 3, connections: 50 });
  const rows = [];
  const run = (name, port, pid) => {
    const cpu0 = cpuSeconds(pid);
    const r = wrk(`http://127.0.0.1:${port}/`, { seconds: SECONDS, connections: 50 });
    r.perCpu = totalRequests(r.raw) / (cpuSeconds(pid) - cpu0);
    rows.push({
      proxy: name,
      'req/s': Math.round(r.rps),
      'req per CPU-s': Math.round(r.perCpu),
      'p99 ms': r.p99,
      errors: r.errors,
    });
    return r;
  };
  // Two alternating rounds each (the machine is shared): the better round of each counts.
  const best = (a, b) => (b.rps > a.rps ? b : a);
  let unix = run('Trellis to unix:SOCK, round 1', TRELLIS_UNIX, overUnix.pid);
  let tcp = run('Trellis to tcp, round 1', TRELLIS_TCP, overTcp.pid);
  let ng = run('nginx to unix:SOCK (1 worker), round 1', NGINX, nginx.pid);
  unix = best(unix, run('Trellis to unix:SOCK, round 2', TRELLIS_UNIX, overUnix.pid));
  tcp = best(tcp, run('Trellis to tcp, round 2', TRELLIS_TCP, overTcp.pid));
  ng = best(ng, run('nginx to unix:SOCK (1 worker), round 2', NGINX, nginx.pid));
  printTable(rows);
  console.log(
    `\nTrellis over a UNIX socket / over TCP: ${(unix.rps / tcp.rps).toFixed(2)}x req/s; / nginx to the same socket: ${(unix.rps / ng.rps).toFixed(2)}x req/s, ${(unix.perCpu / ng.perCpu).toFixed(2)}x req per CPU-second`,
  );
} finally {
  for (const c of children) await stop(c);
  rmSync(dir, { recursive: true, force: true });
}
