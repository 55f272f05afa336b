// `npm run bench -- h2`: the same 1 KiB file over TLS and HTTP/2 from `trellis web --path` (an `ssl:`
// listener), a bare node:http2 stream server holding the file in memory (three fields, the baseline),
// the same server sending the nine fields Trellis sends (so the gap left is Trellis's own cost), and
// nginx (`http2`, one worker). h2load on core 1 opens 50 connections with 10 streams each; each server is pinned to core 0.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOAD_CORE, ROOT, cpuSeconds, printTable, requireTool, rssMiB, startServers, stop } from './lib.mjs';

requireTool('h2load', 'nghttp2-client');
requireTool('taskset', 'util-linux');
requireTool('nginx');
requireTool('openssl');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const work = mkdtempSync(join(tmpdir(), 'trellis-bench-h2-'));
const www = join(work, 'www');
mkdirSync(www);
writeFileSync(join(www, '1k.bin'), randomBytes(1024));
const key = join(work, 'key.pem');
const cert = join(work, 'cert.pem');
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
  ],
  { stdio: 'ignore' },
);

const nginxDir = join(work, 'nginx');
mkdirSync(nginxDir);
const nginxPort = 18960;
writeFileSync(
  join(nginxDir, 'nginx.conf'),
  `daemon off;
master_process off;
worker_processes 1;
pid ${nginxDir}/nginx.pid;
error_log ${nginxDir}/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile off;
  keepalive_requests 100000;
  http2_max_concurrent_streams 128;
  client_body_temp_path ${nginxDir}/cb;
  proxy_temp_path ${nginxDir}/p;
  fastcgi_temp_path ${nginxDir}/f;
  scgi_temp_path ${nginxDir}/s;
  uwsgi_temp_path ${nginxDir}/u;
  server {
    listen 127.0.0.1:${nginxPort} ssl http2;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    root ${www};
  }
}
`,
);

const servers = [
  {
    name: 'nginx',
    port: nginxPort,
    cmd: '/usr/sbin/nginx',
    args: ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-e', join(nginxDir, 'error.log')],
  },
  {
    name: 'trellis',
    port: 18961,
    cmd: process.execPath,
    args: [
      `${ROOT}dist/cli/main.js`,
      'web',
      '--path',
      www,
      '--listen',
      `ssl:18961:interface=127.0.0.1:privateKey=${key}:certKey=${cert}`,
    ],
  },
  {
    name: 'node:http2',
    port: 18962,
    cmd: process.execPath,
    args: [`${ROOT}bench/servers/h2-node.mjs`, join(www, '1k.bin'), '18962', key, cert, 'bare'],
  },
  {
    name: 'node:http2 same fields',
    port: 18963,
    cmd: process.execPath,
    args: [`${ROOT}bench/servers/h2-node.mjs`, join(www, '1k.bin'), '18963', key, cert, 'same-fields'],
  },
];

/** Runs h2load against `url` on the load core; returns requests/s and how many requests succeeded. */
function h2load(url, seconds) {
  const r = spawnSync(
    'taskset',
    ['-c', String(LOAD_CORE), 'h2load', '-c', '50', '-m', '10', '-t', '1', '-D', String(seconds), url],
    { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
  );
  const out = r.stdout ?? '';
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const m = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out);
  return { rps, done: Number(m?.[2] ?? NaN), failed: Number(m?.[4] ?? NaN), raw: out };
}

const results = new Map();
const children = [];
try {
  await startServers(servers, children);
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of servers) {
      const url = `https://127.0.0.1:${s.port}/1k.bin`;
      if (round === 0) h2load(url, 1); // warm caches and the JIT
      const before = cpuSeconds(s.pid);
      const r = h2load(url, SECONDS);
      r.cpuPerReq = ((cpuSeconds(s.pid) - before) * 1e6) / r.done;
      const prev = results.get(s.name);
      if (!prev || r.rps > prev.rps) results.set(s.name, { ...r, rss: rssMiB(s.pid) });
    }
  }
} finally {
  await Promise.all(children.map(stop));
  rmSync(work, { recursive: true, force: true });
}

const node = results.get('node:http2');
const same = results.get('node:http2 same fields');
const nginx = results.get('nginx');
console.log(
  `\n1 KiB over TLS + HTTP/2, best of ${ROUNDS} rounds of ${SECONDS}s (h2load -c 50 -m 10 on core ${LOAD_CORE}, servers on core 0)`,
);
printTable(
  servers.map((s) => {
    const r = results.get(s.name);
    return {
      server: s.name,
      'req/s': Math.round(r.rps),
      'vs node:http2': `${(r.rps / node.rps).toFixed(2)}x`,
      'vs same fields': `${(r.rps / same.rps).toFixed(2)}x`,
      'vs nginx': `${(r.rps / nginx.rps).toFixed(2)}x`,
      'CPU µs/req': Number(r.cpuPerReq.toFixed(1)),
      'RSS MiB': Math.round(r.rss),
      failed: r.failed,
    };
  }),
);
