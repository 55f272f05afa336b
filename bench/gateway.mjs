// `npm run bench -- gateway`: the hello resource behind nginx over FastCGI (kept-alive connections,
// the documented recipe) against nginx proxying HTTP/1.1 with keep-alive to the same Trellis process,
// in one run; Trellis direct over HTTP for reference. Trellis is pinned to core 0; nginx (one worker)
// and wrk share core 1.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT,
  LOAD_CORE,
  cpuSeconds,
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
requireTool('nginx');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const HTTP_PORT = 28961;
const FCGI_PORT = 28962;
const NGINX_FCGI = 28963;
const NGINX_HTTP = 28964;

const work = mkdtempSync(join(tmpdir(), 'trellis-bench-gateway-'));
// The FastCGI side is the recipe from docs/deploy/nginx.md, as the tests run it.
const fastcgiServer = readFileSync(join(ROOT, 'docs/deploy/recipes/nginx-fastcgi.conf'), 'utf8')
  .replaceAll('{{FASTCGI_PORT}}', String(FCGI_PORT))
  .replaceAll('{{PORT}}', String(NGINX_FCGI))
  .replace('keepalive 8;', 'keepalive 64;');
writeFileSync(
  join(work, 'nginx.conf'),
  `daemon off;
master_process off;
worker_processes 1;
pid ${work}/nginx.pid;
error_log ${work}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path ${work}/cb;
  proxy_temp_path ${work}/p;
  fastcgi_temp_path ${work}/f;
  scgi_temp_path ${work}/s;
  uwsgi_temp_path ${work}/u;
${fastcgiServer}
  upstream trellis_http {
    server 127.0.0.1:${HTTP_PORT};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${NGINX_HTTP};
    location ~ ^/app(/|$) {
      proxy_pass http://trellis_http;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`,
);

const trellis = spawnPinned(process.execPath, [
  `${ROOT}dist/cli/main.js`,
  'web',
  '--listen',
  `tcp:${HTTP_PORT}:interface=127.0.0.1`,
  '--fastcgi',
  `tcp:${FCGI_PORT}`,
  '--class',
  `${ROOT}bench/servers/hello-trellis.mjs`,
]);
trellis.stdout.resume();
const nginx = spawnPinned(
  '/usr/sbin/nginx',
  ['-p', work, '-c', join(work, 'nginx.conf'), '-e', join(work, 'error.log')],
  { core: LOAD_CORE },
);
nginx.stdout.resume();

const paths = [
  { name: 'nginx → FastCGI → Trellis', url: `http://127.0.0.1:${NGINX_FCGI}/app/hello` },
  { name: 'nginx → HTTP/1.1 proxy → Trellis', url: `http://127.0.0.1:${NGINX_HTTP}/app/hello` },
  { name: 'Trellis HTTP direct', url: `http://127.0.0.1:${HTTP_PORT}/app/hello` },
];
const results = new Map(paths.map((p) => [p.name, []]));
try {
  await Promise.all([waitForPort(HTTP_PORT), waitForPort(FCGI_PORT), waitForPort(NGINX_FCGI), waitForPort(NGINX_HTTP)]);
  await new Promise((r) => setTimeout(r, 200));
  // Another process on one of these ports would be measured instead: stop rather than mislead.
  if (trellis.exitCode !== null || nginx.exitCode !== null)
    throw new Error('Trellis or nginx exited at startup (a port in use?)');
  for (const p of paths) wrk(p.url, { seconds: 1, connections: 50 }); // warm up the JIT and the pools
  // Alternate the paths so drift on a shared machine hits both alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of paths) {
      // Trellis's own CPU time per request: steady even when other load shares the machine.
      const cpu0 = cpuSeconds(trellis.pid);
      const r = wrk(p.url, { seconds: SECONDS, connections: 50 });
      r.cpuUs = ((cpuSeconds(trellis.pid) - cpu0) * 1e6) / (r.rps * SECONDS);
      results.get(p.name).push(r);
    }
  }
} finally {
  const rss = rssMiB(trellis.pid);
  await stop(nginx);
  await stop(trellis);
  rmSync(work, { recursive: true, force: true });
  const rows = paths.map((p) => {
    const runs = results.get(p.name);
    const rps = runs.reduce((a, r) => a + r.rps, 0) / (runs.length || 1);
    const p99 = runs.reduce((a, r) => a + r.p99, 0) / (runs.length || 1);
    const cpuUs = runs.reduce((a, r) => a + r.cpuUs, 0) / (runs.length || 1);
    return {
      path: p.name,
      'req/s': Math.round(rps),
      'p99 ms': p99,
      'Trellis CPU µs/req': Math.round(cpuUs),
      'non-2xx': runs.reduce((a, r) => a + r.errors, 0),
      'socket errors': runs.map((r) => r.socketErrors ?? '-').join(' / '),
      rounds: runs.map((r) => Math.round(r.rps)).join(' / '),
    };
  });
  const proxy = rows[1]['req/s'];
  for (const r of rows) r['vs HTTP proxy'] = `${(r['req/s'] / proxy).toFixed(2)}x`;
  console.log(
    `\nhello behind nginx, ${ROUNDS} x ${SECONDS}s per path, 50 connections (Trellis on core 0; nginx, one worker, and wrk on core 1); Trellis RSS ${Math.round(rss)} MiB`,
  );
  printTable(rows);
}
