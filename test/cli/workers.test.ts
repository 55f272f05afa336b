// `trellis web --workers N`: N processes serve the same listeners (TCP, UNIX socket, FastCGI, SCGI),
// a worker killed with SIGKILL under load is replaced with under 1% of requests failing, and SIGHUP
// restarts the workers one at a time without failing a request.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { needPeer } from '../helpers/peers.js';
import { ROOT, spawnTrellis, tempDir } from '../helpers/server.js';

const SITE = ['--class', 'test/fixtures/process-site.ts#Root'];

/** The pids of the worker processes of `primary` (its node children). */
async function workerPids(primary: number): Promise<number[]> {
  const { readFileSync, readdirSync } = await import('node:fs');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === primary) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids.sort((a, b) => a - b);
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** GET over a UNIX socket. */
function getUnix(path: string, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: path, path: target }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (body += d))
        .on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
}

test('--workers 2 serves one TCP port and one UNIX socket from two processes, and stops them all on SIGTERM', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const sock = join(dir.path, 'app.sock');
  const server = await spawnTrellis(
    ['web', ...SITE, '--listen', 'tcp:0:interface=127.0.0.1', '--listen', `unix:${sock}:mode=600`, '--workers', '2'],
    { timeoutMs: 30_000 },
  );
  t.after(() => server.stop('SIGKILL'));
  await until('the start-up lines', async () => (/2 worker processes/.test(server.stdout()) ? true : null));
  const workers = await until('two workers', async () =>
    (await workerPids(server.proc.pid!)).length === 2 ? workerPids(server.proc.pid!) : null,
  );
  const seen = new Set<string>();
  for (let i = 0; i < 60 && seen.size < 2; i++) {
    const res = await fetch(`${server.url}pid`, {
      headers: { connection: 'close' },
      signal: AbortSignal.timeout(15_000),
    });
    seen.add(await res.text());
  }
  assert.deepEqual(
    [...seen].map(Number).sort((a, b) => a - b),
    workers,
    'both workers answer',
  );
  const unix = await getUnix(sock, '/pid');
  assert.equal(unix.status, 200);
  assert.ok(workers.includes(Number(unix.body)));
  const { statSync, existsSync } = await import('node:fs');
  assert.equal(statSync(sock).mode & 0o777, 0o600, 'the primary set the socket mode');
  assert.equal(await server.stop('SIGTERM'), 0);
  assert.equal(existsSync(sock), false, 'the primary removed the socket file');
  for (const pid of workers) assert.throws(() => process.kill(pid, 0), 'worker gone');
});

test('--workers 2 serves FastCGI and SCGI listeners too', async (t) => {
  const cgiFcgi = needPeer(t, 'cgi-fcgi');
  if (!cgiFcgi) return;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const fsock = join(dir.path, 'app.fcgi');
  const ssock = join(dir.path, 'app.scgi');
  const server = await spawnTrellis(
    ['web', ...SITE, '--fastcgi', `unix:${fsock}`, '--scgi', `unix:${ssock}`, '--workers', '2'],
    { timeoutMs: 30_000 },
  );
  t.after(() => server.stop('SIGKILL'));
  const out = await new Promise<string>((resolve) => {
    const child = spawn(cgiFcgi, ['-bind', '-connect', fsock], {
      env: {
        REQUEST_METHOD: 'GET',
        SCRIPT_NAME: '',
        PATH_INFO: '/pid',
        REQUEST_URI: '/pid',
        QUERY_STRING: '',
        SERVER_NAME: 'localhost',
        SERVER_PORT: '80',
        SERVER_PROTOCOL: 'HTTP/1.1',
        GATEWAY_INTERFACE: 'CGI/1.1',
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.on('close', () => resolve(text));
  });
  assert.match(out, /Status: 200|^Content-Type/im, out);
  const workers = await workerPids(server.proc.pid!);
  assert.ok(workers.includes(Number(out.split(/\r?\n\r?\n/)[1])), `a worker answered FastCGI: ${out}`);
  // SCGI: a netstring of headers, then the body.
  const { connect } = await import('node:net');
  const headers = [
    'CONTENT_LENGTH',
    '0',
    'SCGI',
    '1',
    'REQUEST_METHOD',
    'GET',
    'REQUEST_URI',
    '/pid',
    'SCRIPT_NAME',
    '',
    'PATH_INFO',
    '/pid',
    'SERVER_NAME',
    'localhost',
    'SERVER_PORT',
    '80',
    'SERVER_PROTOCOL',
    'HTTP/1.1',
  ];
  const block = Buffer.from(headers.map((h) => `${h}\0`).join(''));
  const reply = await new Promise<string>((resolve, reject) => {
    const s = connect(ssock);
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('end', () => resolve(text));
    s.on('error', reject);
    s.write(Buffer.concat([Buffer.from(`${block.length}:`), block, Buffer.from(',')]));
  });
  assert.ok(workers.includes(Number(reply.split(/\r?\n\r?\n/)[1])), `a worker answered SCGI: ${reply}`);
});

test('--workers 2 serves HTTPS with HTTP/2 on every worker', async (t) => {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const { makeCertificate } = await import('../helpers/tls.js');
  const { key, cert } = makeCertificate(openssl, dir.path);
  const server = await spawnTrellis(
    ['web', ...SITE, '--listen', `ssl:0:interface=127.0.0.1:privateKey=${key}:certKey=${cert}`, '--workers', '2'],
    { timeoutMs: 30_000 },
  );
  t.after(() => server.stop('SIGKILL'));
  const { connect: h2connect } = await import('node:http2');
  const workers = await until('two workers', async () =>
    (await workerPids(server.proc.pid!)).length === 2 ? workerPids(server.proc.pid!) : null,
  );
  const seen = new Set<number>();
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const session = h2connect(server.url, { rejectUnauthorized: false });
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/pid' });
      let text = '';
      stream
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    session.close();
    seen.add(Number(body));
  }
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    workers,
    'both workers answer HTTP/2',
  );
});

test('--workers 2 serves AJP behind a real lighttpd (mod_ajp13)', async (t) => {
  const lighttpd = needPeer(t, 'lighttpd');
  if (!lighttpd) return;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const server = await spawnTrellis(
    ['web', ...SITE, '--ajp', 'tcp:0:interface=127.0.0.1', '--mount', '/app', '--workers', '2'],
    { timeoutMs: 30_000 },
  );
  t.after(() => server.stop('SIGKILL'));
  const ajpPort = Number(/:(\d+)\/?$/.exec(server.url)![1]);
  const { startLighttpd } = await import('../helpers/daemon.js');
  const { recipe } = await import('../helpers/gateway-matrix.js');
  const { freePort } = await import('../helpers/server.js');
  const port = await freePort();
  const daemon = await startLighttpd(
    lighttpd,
    dir.path,
    port,
    recipe('lighttpd-ajp.conf', { AJP_PORT: ajpPort, DIR: dir.path }),
  );
  t.after(() => daemon.stop());
  const workers = await workerPids(server.proc.pid!);
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/app/pid`, { headers: { connection: 'close' } });
    assert.equal(res.status, 200);
    assert.ok(workers.includes(Number(await res.text())), 'a worker answered over AJP');
  }
});

/** Runs wrk and returns its request count and error count. */
function runWrk(
  wrk: string,
  url: string,
  seconds: number,
): Promise<{ requests: number; errors: number; text: string }> {
  return new Promise((resolve) => {
    const child = spawn(wrk, ['-t2', '-c16', `-d${seconds}s`, url]);
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.on('close', () => {
      const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
      const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx;
      resolve({ requests, errors, text });
    });
  });
}

test('a worker killed with SIGKILL under load is replaced at once, with under 1% of requests failing', async (t) => {
  const wrk = needPeer(t, 'wrk');
  if (!wrk) return;
  const server = await spawnTrellis(['web', ...SITE, '--listen', 'tcp:0:interface=127.0.0.1', '--workers', '2'], {
    timeoutMs: 30_000,
  });
  t.after(() => server.stop('SIGKILL'));
  const before = await until('two workers', async () =>
    (await workerPids(server.proc.pid!)).length === 2 ? workerPids(server.proc.pid!) : null,
  );
  const load = runWrk(wrk, `${server.url}pid`, 6);
  await sleep(2000);
  process.kill(before[0]!, 'SIGKILL');
  const { requests, errors, text } = await load;
  assert.ok(requests > 500, `load ran: ${text}`);
  assert.ok(errors / requests < 0.01, `errors ${errors} of ${requests}: ${text}`);
  const after = await until('a replacement', async () => {
    const pids = await workerPids(server.proc.pid!);
    return pids.length === 2 && !pids.includes(before[0]!) ? pids : null;
  });
  assert.ok(after.includes(before[1]!), 'the other worker kept running');
  assert.match(server.stderr(), new RegExp(`worker ${before[0]} exited \\(SIGKILL\\); starting another`));
  assert.equal((await fetch(`${server.url}pid`)).status, 200);
});

// Each request on its own connection: a kept-alive connection the old worker closes as idle at the
// moment the client sends on it fails like any server-side keep-alive close (docs/deploy/production.md).
// A connection the primary passes to a worker just as that worker closes its listener must be handed
// back and answered by another worker, never left unanswered (each request gives up after 15 s).
test('SIGHUP restarts the workers one at a time without failing a request', async (t) => {
  const server = await spawnTrellis(['web', ...SITE, '--listen', 'tcp:0:interface=127.0.0.1', '--workers', '2'], {
    timeoutMs: 30_000,
  });
  t.after(() => server.stop('SIGKILL'));
  const before = await until('two workers', async () =>
    (await workerPids(server.proc.pid!)).length === 2 ? workerPids(server.proc.pid!) : null,
  );
  let failures = 0;
  let done = 0;
  let running = true;
  const clients = Array.from({ length: 8 }, async () => {
    while (running) {
      try {
        const res = await fetch(`${server.url}pid`, {
          headers: { connection: 'close' },
          signal: AbortSignal.timeout(15_000),
        });
        if (res.status !== 200) failures++;
        await res.text();
      } catch (err) {
        failures++;
        process.stderr.write(
          `request failed: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}\n`,
        );
      }
      done++;
    }
  });
  await sleep(500);
  // Three restarts in a row: each old worker closing is a moment for the primary to pass it a connection.
  for (let round = 1; round <= 3; round++) {
    server.proc.kill('SIGHUP');
    await until(
      `restart ${round}`,
      async () => ((server.stderr().match(/workers restarted/g) ?? []).length === round ? true : null),
      30_000,
    );
  }
  await sleep(300);
  running = false;
  await Promise.all(clients);
  assert.ok(done > 20, `requests ran (${done})`);
  assert.equal(failures, 0, `${failures} of ${done} failed\n${server.stderr()}`);
  let last: number[] = [];
  const after = await until(
    'old workers gone',
    async () => {
      const pids = (last = await workerPids(server.proc.pid!));
      return pids.length === 2 && !pids.some((p) => before.includes(p)) ? pids : null;
    },
    45_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: before ${before}, now ${last}\n${server.stderr()}`);
  });
  assert.equal(after.length, 2);
});

test('--workers with a bad value is a one-line error', async () => {
  const { runTrellis } = await import('../helpers/server.js');
  const r = await runTrellis(['web', '--workers', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^trellis: --workers needs a number from 1 to 256, not "0"\n$/);
  void ROOT;
});
