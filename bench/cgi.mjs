// `npm run bench -- cgi`: how long `trellis cgi` and `trellis cgi --relay` take to answer one CGI
// request, against `node -e` printing the same bytes (Node's own start-up: the floor). Target: at
// most 2x. One-shot processes run pinned to one core; the relay's long-running Trellis to the other.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, SERVER_CORE, LOAD_CORE, printTable, requireTool, spawnPinned, stop } from './lib.mjs';

requireTool('taskset', 'util-linux');
const CLI = join(ROOT, 'dist/cli/main.js');
const SITE = join(ROOT, 'bench/servers/hello-trellis.mjs');
const runs = Number(process.env.BENCH_RUNS ?? 30);
const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-cgi-'));
const env = {
  ...process.env,
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/',
  REQUEST_URI: '/app/',
  QUERY_STRING: '',
  SERVER_NAME: '127.0.0.1',
  SERVER_PORT: '8080',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REMOTE_ADDR: '127.0.0.1',
  HTTP_HOST: '127.0.0.1:8080',
};

// The exact bytes `trellis cgi` prints, for the baseline to print too.
const sample = spawnSync(process.execPath, [CLI, 'cgi', '--class', SITE], { env, input: '' });
if (sample.status !== 0 || !sample.stdout.toString().startsWith('Status: 200')) {
  console.error(`bench: trellis cgi failed (run npm run build first?)\n${sample.stderr}`);
  process.exit(1);
}
const baseline = `process.stdout.write(Buffer.from('${sample.stdout.toString('base64')}','base64'))`;

const scgiSock = join(dir, 'scgi.sock');
const fcgiSock = join(dir, 'fcgi.sock');
const server = spawnPinned(
  process.execPath,
  [CLI, 'web', '--class', SITE, '--scgi', `unix:${scgiSock}`, '--fastcgi', `unix:${fcgiSock}`],
  { core: LOAD_CORE },
);
await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    if ((out.match(/serving/g) ?? []).length >= 2) resolve();
  });
  server.once('exit', (code) => reject(new Error(`trellis web exited with ${code}`)));
});

const node = process.execPath;
const commands = [
  ['node -e (same bytes)', `${node} -e "${baseline}"`],
  ['trellis cgi --class (.mjs)', `${node} ${CLI} cgi --class ${SITE}`],
  ['trellis cgi --relay scgi', `${node} ${CLI} cgi --relay scgi:unix:${scgiSock}`],
  ['trellis cgi --relay fastcgi', `${node} ${CLI} cgi --relay fastcgi:unix:${fcgiSock}`],
];
for (const [name, cmd] of commands.slice(1)) {
  const r = spawnSync('sh', ['-c', cmd], { env, input: '' });
  if (
    r.stdout.toString() !==
    sample.stdout.toString().replace(/Date: [^\r]*/, (m) => r.stdout.toString().match(/Date: [^\r]*/)?.[0] ?? m)
  ) {
    console.error(`bench: ${name} answered differently:\n${r.stdout}\n${r.stderr}`);
  }
}

// Interleaved rounds (each command once per round) so that load from elsewhere on the machine falls
// on every command alike; the median and the minimum are reported.
const times = commands.map(() => []);
for (let w = 0; w < 3; w++)
  for (const [, cmd] of commands)
    spawnSync('taskset', ['-c', String(SERVER_CORE), 'sh', '-c', `exec ${cmd}`], { env, input: '' });
const deadline = Date.now() + 90_000;
for (let round = 0; round < runs && Date.now() < deadline; round++) {
  commands.forEach(([, cmd], i) => {
    const t0 = process.hrtime.bigint();
    spawnSync('taskset', ['-c', String(SERVER_CORE), 'sh', '-c', `exec ${cmd}`], { env, input: '' });
    times[i].push(Number(process.hrtime.bigint() - t0) / 1e6);
  });
}
await stop(server);
rmSync(dir, { recursive: true, force: true });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const floor = median(times[0]);
const floorMin = Math.min(...times[0]);
printTable(
  commands.map(([name], i) => ({
    command: name,
    'median ms': median(times[i]),
    'min ms': Math.min(...times[i]),
    'x node -e (median)': median(times[i]) / floor,
    'x node -e (min)': Math.min(...times[i]) / floorMin,
  })),
);
console.log(
  `\n${times[0].length} interleaved rounds after 3 warm-ups, each process pinned to core ${SERVER_CORE} (through sh -c exec); target: at most 2x node -e.`,
);
