// `npm run bench -- php`: bench/php/hello.php through Trellis's FastCGI client
// (`--processor .php=fastcgi:tcp:…`) against nginx's fastcgi_pass (one worker, kept-alive upstream),
// each in front of its own `php-cgi -b` started the same way (kept-alive connections hold a php-cgi
// worker each, so two front ends must not share one). Front ends and php-cgi on core 0, wrk on core 1,
// alternating rounds. Target: Trellis at least 0.8x nginx. A third row serves the same script through
// a FastCGIClientResource root, without `--path`'s per-request stat and realpath of the file.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT,
  SERVER_CORE,
  cpuSeconds,
  freePort,
  printTable,
  requireTool,
  rssMiB,
  spawnPinned,
  startNginx,
  stop,
  waitForPort,
  wrk,
} from './lib.mjs';

requireTool('wrk');
requireTool('nginx');
requireTool('php-cgi');
requireTool('taskset', 'util-linux');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** php-cgi workers per front end, and the connections each front end keeps to them. */
const WORKERS = 8;
const DOCS = join(ROOT, 'bench/php');
const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-php-'));
const children = [];
const phpGroups = [];

/**
 * php-cgi -b on a fresh port, with WORKERS children that never retire, in its own process group:
 * its workers outlive a killed parent, so the whole group is killed at the end.
 */
async function startPhp() {
  const port = await freePort();
  const env = { ...process.env, PHP_FCGI_CHILDREN: String(WORKERS), PHP_FCGI_MAX_REQUESTS: '10000000' };
  const child = spawn('taskset', ['-c', String(SERVER_CORE), 'php-cgi', '-b', `127.0.0.1:${port}`], {
    env,
    stdio: 'ignore',
    detached: true,
  });
  phpGroups.push(child.pid);
  await waitForPort(port);
  return { port, child };
}

const rows = [];
try {
  const phpNginx = await startPhp();
  const phpTrellis = await startPhp();
  const phpDirect = await startPhp();
  const nginxPort = await freePort();
  const trellisPort = await freePort();
  const directPort = await freePort();
  const nginx = startNginx(
    dir,
    `  upstream php { server 127.0.0.1:${phpNginx.port}; keepalive ${WORKERS}; }
  server {
    listen 127.0.0.1:${nginxPort};
    root ${DOCS};
    location ~ \\.php$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_param REDIRECT_STATUS 200;
      fastcgi_keep_conn on;
      fastcgi_pass php;
    }
  }
`,
  );
  children.push(nginx);
  const trellis = spawnPinned(process.execPath, [
    join(ROOT, 'dist/cli/main.js'),
    'web',
    '--listen',
    `tcp:${trellisPort}:interface=127.0.0.1`,
    '--path',
    DOCS,
    '--processor',
    `.php=fastcgi:tcp:127.0.0.1:${phpTrellis.port}`,
  ]);
  trellis.stdout.resume();
  children.push(trellis);
  const direct = spawnPinned(
    process.execPath,
    [
      join(ROOT, 'dist/cli/main.js'),
      'web',
      '--listen',
      `tcp:${directPort}:interface=127.0.0.1`,
      '--class',
      join(ROOT, 'bench/servers/php-direct.mjs'),
    ],
    { env: { BENCH_PHP_ADDRESS: `tcp:127.0.0.1:${phpDirect.port}` } },
  );
  direct.stdout.resume();
  children.push(direct);
  await waitForPort(nginxPort);
  await waitForPort(trellisPort);
  await waitForPort(directPort);

  const fronts = [
    {
      name: 'nginx fastcgi_pass',
      url: `http://127.0.0.1:${nginxPort}/hello.php`,
      child: nginx,
      php: phpNginx.child,
      best: null,
    },
    {
      name: 'trellis --path, .php=fastcgi:tcp',
      url: `http://127.0.0.1:${trellisPort}/hello.php`,
      child: trellis,
      php: phpTrellis.child,
      best: null,
    },
    {
      name: 'trellis FastCGIClientResource root',
      url: `http://127.0.0.1:${directPort}/`,
      child: direct,
      php: phpDirect.child,
      best: null,
    },
  ];
  for (const f of fronts) {
    const check = await fetch(f.url);
    const text = await check.text();
    if (text !== 'Hello, world!\n') throw new Error(`${f.name} answered ${check.status}: ${text.slice(0, 200)}`);
    wrk(f.url, { seconds: 1, connections: 50 }); // warm up
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const f of fronts) {
      const cpu0 = cpuSeconds(f.child.pid);
      const result = wrk(f.url, { seconds: SECONDS, connections: 50 });
      result.cpuUs = ((cpuSeconds(f.child.pid) - cpu0) * 1e6) / (result.rps * SECONDS);
      if (!f.best || result.rps > f.best.rps) f.best = result;
    }
  }
  for (const f of fronts) {
    rows.push({
      'front end': f.name,
      'req/s': Math.round(f.best.rps),
      'p99 ms': f.best.p99,
      'front CPU µs/req': Number(f.best.cpuUs.toFixed(1)),
      'front RSS MiB': rssMiB(f.child.pid),
      errors: f.best.errors + (f.best.socketErrors ? 1 : 0),
    });
  }
} finally {
  await Promise.all(children.map((c) => stop(c)));
  for (const pid of phpGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
const base = rows[0];
for (const r of rows) r['vs nginx req/s'] = `${(r['req/s'] / base['req/s']).toFixed(2)}x`;
console.log(
  `\nhello.php through FastCGI to php-cgi -b (${WORKERS} workers each), best of ${ROUNDS} alternating rounds of ${SECONDS}s, 50 connections; target >= 0.8x nginx`,
);
printTable(rows);
