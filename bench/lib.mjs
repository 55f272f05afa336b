// Shared benchmark tools: start a server pinned to one core, load it with wrk pinned to the other,
// read its RSS, and print a comparison table. Loopback only; every run is bounded in time.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = new URL('..', import.meta.url).pathname;
/** Core the server under test runs on; the load generator gets the other. */
export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

/** Exits with a clear line when a tool the benchmark needs is missing. */
export function requireTool(name, pkg = name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`]);
  if (r.status !== 0) {
    console.error(`bench: ${name} is not installed; apt-get install ${pkg}`);
    process.exit(2);
  }
}

/** Resolves once 127.0.0.1:port accepts connections. */
export async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Spawns `cmd args` pinned to `core` with taskset; returns the child. */
export function spawnPinned(cmd, args, { core = SERVER_CORE, env, cwd } = {}) {
  return spawn('taskset', ['-c', String(core), cmd, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
    cwd,
  });
}

/** Resident set size of a process in MiB (from /proc). */
export function rssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 1/100 s); NaN once it is gone. */
export function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Starts every server (`{ cmd, args, port }`) pinned to the server core and waits until each listens;
 * sets `s.pid` on each and pushes the children onto `children` (for `stop` in a finally).
 */
export async function startServers(servers, children) {
  for (const s of servers) {
    const child = spawnPinned(s.cmd, s.args);
    child.stdout.resume();
    children.push(child);
    await waitForPort(s.port);
    s.pid = child.pid;
  }
}

/** Stops a child and waits for it. */
export function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function parseDuration(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  const n = Number(m[1]);
  return { us: n / 1000, ms: n, s: n * 1000, m: n * 60000 }[m[2]];
}

function parseBytes(text) {
  const m = /^([\d.]+)([KMG]?B)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2]];
}

/**
 * Runs wrk against `url` pinned to the load core; returns requests/s, p99 latency (ms) and MB/s.
 * `headers` is a list of "Name: value" strings; `script` a wrk Lua script file (`-s`).
 */
export function wrk(url, { seconds = 5, connections = 50, threads = 1, headers = [], script = null } = {}) {
  const args = [
    '-c',
    String(LOAD_CORE),
    'wrk',
    '--latency',
    '-t',
    String(threads),
    '-c',
    String(connections),
    '-d',
    `${seconds}s`,
  ];
  for (const h of headers) args.push('-H', h);
  if (script) args.push('-s', script);
  args.push(url);
  const r = spawnSync('taskset', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const out = r.stdout ?? '';
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p99 = parseDuration(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const transfer = parseBytes(/Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? '') / 1024 ** 2;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  const socketErrors = /Socket errors: (.*)/.exec(out)?.[1];
  return {
    rps,
    p99,
    mbps: transfer,
    errors: errors ? Number(errors) : 0,
    socketErrors: socketErrors ?? null,
    raw: out,
  };
}

/** Prints rows (objects with the same keys) as an aligned table. */
export function printTable(rows) {
  if (!rows.length) return;
  const keys = Object.keys(rows[0]);
  const cells = rows.map((r) =>
    keys.map((k) =>
      typeof r[k] === 'number' ? (Number.isInteger(r[k]) ? String(r[k]) : r[k].toFixed(2)) : String(r[k] ?? ''),
    ),
  );
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => c[i].length)));
  console.log(keys.map((k, i) => k.padEnd(widths[i])).join('  '));
  for (const c of cells) console.log(c.map((v, i) => v.padEnd(widths[i])).join('  '));
}

/**
 * Loads every server of `running` (`{ url, child }`) with wrk: a 1 s warm-up each, then `rounds`
 * alternating rounds of `seconds`; sets `best` on each (the round with the most req/s, with `cpuUs`,
 * the server's CPU time per request in that round). `wrkOptions(r)` adds wrk options per server.
 */
export function alternateRounds(running, { seconds, rounds, connections = 50, wrkOptions = () => ({}) }) {
  for (const r of running) wrk(r.url, { seconds: 1, connections, ...wrkOptions(r) }); // warm up the JIT
  for (let round = 0; round < rounds; round++) {
    for (const r of running) {
      const cpu0 = cpuSeconds(r.child.pid);
      const result = wrk(r.url, { seconds, connections, ...wrkOptions(r) });
      result.cpuUs = ((cpuSeconds(r.child.pid) - cpu0) * 1e6) / (result.rps * seconds);
      if (!r.best || result.rps > r.best.rps) r.best = result;
    }
  }
}

/** A TCP port free on 127.0.0.1 right now (benches run beside others on a shared machine). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts nginx pinned to the server core as one foreground process, everything kept in `dir`
 * (temp paths, pid, error log, no access log); `http` is the rest of its `http { }` block
 * (upstreams, servers). Returns the child.
 */
export function startNginx(dir, http) {
  for (const d of ['client_body', 'proxy', 'fastcgi', 'scgi', 'uwsgi']) mkdirSync(join(dir, d));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  scgi_temp_path ${dir}/scgi;
  uwsgi_temp_path ${dir}/uwsgi;
${http}}
`,
  );
  return spawnPinned('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]);
}
