// Several machines, on loopback: three `trellis web` instances sharing sessions in a real redis-server,
// behind a real HAProxy and, separately, nginx `upstream`. The configs are the recipes of
// docs/deploy/cluster.md. A session made through one instance is read and updated through the others;
// one instance killed under a loop of requests loses no session and fails under 1% of them.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startDaemon, startNginx, type Daemon } from '../helpers/daemon.js';
import { RECIPES, recipe } from '../helpers/gateway-matrix.js';
import { needPeer } from '../helpers/peers.js';
import { startRedis } from '../helpers/redis.js';
import { ROOT, freePort, spawnTrellis, tempDir, type TrellisProcess } from '../helpers/server.js';

const SITE = join(ROOT, 'test/fixtures/session-site.ts#Root');
const PASSWORD = 'cluster-secret';
/** Requests in the loop, and after how many of them an instance is killed. */
const LOOP = 600;
const KILL_AFTER = 150;
const CLIENTS = 4;

interface Answer {
  status: number;
  body: string;
  cookie: string | undefined;
}

function get(port: number, path: string, cookie: string | undefined, agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, agent, headers: cookie ? { Cookie: cookie } : {} },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (body += d))
          .on('end', () => {
            resolve({ status: res.statusCode ?? 0, body, cookie: res.headers['set-cookie']?.[0]?.split(';')[0] });
          });
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('no answer in 15 s')));
    req.on('error', reject).end();
  });
}

/** The instance command line of the recipe, filled in, as arguments of `trellis`. */
function instanceArgs(port: number, redisPort: number): string[] {
  const text = recipe('cluster-trellis.sh', {
    SITE,
    TRELLIS_PORT: port,
    REDIS_PASSWORD: PASSWORD,
    REDIS_PORT: redisPort,
  });
  const line = text.split('\n').find((l) => l.startsWith('trellis '));
  assert.ok(line, 'the recipe holds a trellis command line');
  return [...line.split(' ').slice(1), '--no-logfile'];
}

interface Cluster {
  ports: number[];
  instances: TrellisProcess[];
}

async function startCluster(t: TestContext): Promise<Cluster | null> {
  const redis = await startRedis(t, { password: PASSWORD });
  if (!redis) return null;
  const ports: number[] = [];
  const instances: TrellisProcess[] = [];
  // One of them is killed by the test: stop only those still running (also when a later one fails to start).
  t.after(() =>
    Promise.all(
      instances.filter((i) => i.proc.exitCode === null && i.proc.signalCode === null).map((i) => i.stop('SIGKILL')),
    ),
  );
  for (let n = 0; n < 3; n++) {
    // A free port can be taken by another test before the instance binds it: try another one.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      try {
        instances.push(await spawnTrellis(instanceArgs(port, redis.port), { timeoutMs: 60_000 }));
        ports.push(port);
        break;
      } catch (err) {
        if (attempt >= 4 || !/address already in use/.test(String(err))) throw err;
      }
    }
  }
  return { ports, instances };
}

/** Through the load balancer on `port`: a session shared by every instance, then the kill under load. */
async function exercise(t: TestContext, port: number, cluster: Cluster): Promise<void> {
  // Directly: made on instance 1, read and updated on 2 and 3, then on 1 again.
  const first = await get(cluster.ports[0]!, '/count', undefined);
  assert.match(first.body, /^1 /);
  const cookie = first.cookie;
  assert.ok(cookie);
  for (const [i, instancePort] of [cluster.ports[1]!, cluster.ports[2]!, cluster.ports[0]!].entries()) {
    const res = await get(instancePort, '/count', cookie);
    assert.equal(res.body.split(' ')[0], String(i + 2));
    assert.equal(res.cookie, undefined);
  }
  // Through the load balancer: round robin spreads one visitor over all three.
  const pids = new Set<string>();
  for (let i = 5; i < 17; i++) {
    const res = await get(port, '/count', cookie);
    assert.equal(res.status, 200);
    const [n, pid] = res.body.split(' ');
    assert.equal(n, String(i));
    pids.add(pid!);
  }
  assert.equal(pids.size, 3, 'every instance answered for the one session');

  // Under load: CLIENTS visitors loop; one instance is killed part-way.
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  let sent = 0;
  let failed = 0;
  const failures: string[] = [];
  const victim = cluster.instances[1]!;
  const visitor = async () => {
    let cookie: string | undefined;
    let last = 0;
    while (sent < LOOP) {
      sent++;
      if (sent === KILL_AFTER) victim.proc.kill('SIGKILL');
      try {
        const res = await get(port, '/count', cookie, agent);
        if (res.status !== 200) throw new Error(`status ${res.status}: ${res.body.slice(0, 80)}`);
        const n = Number(res.body.split(' ')[0]);
        if (cookie) {
          assert.equal(res.cookie, undefined, 'no visitor is handed a new session');
          assert.ok(n > last, `the session went on (${n} after ${last}), not back to the start`);
        } else {
          cookie = res.cookie;
        }
        last = n;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        failed++;
        failures.push((err as Error).message);
      }
    }
    return last;
  };
  const counts = await Promise.all(Array.from({ length: CLIENTS }, visitor));
  agent.destroy();
  assert.ok(victim.proc.signalCode === 'SIGKILL' || victim.proc.exitCode !== null, 'the instance was killed');
  t.diagnostic(`${failed} of ${LOOP} requests failed with one of three instances killed after ${KILL_AFTER}`);
  assert.ok(failed < LOOP / 100, `${failed} of ${LOOP} requests failed: ${failures.join('; ')}`);
  for (const n of counts) assert.ok(n >= LOOP / CLIENTS / 2, `a visitor's count reached ${n}`);
}

test('docs/deploy/cluster.md shows the tested recipes unchanged', () => {
  const page = readFileSync(join(ROOT, 'docs/deploy/cluster.md'), 'utf8');
  for (const file of ['cluster-trellis.sh', 'cluster-haproxy.cfg', 'cluster-nginx.conf']) {
    const text = readFileSync(join(RECIPES, file), 'utf8').trimEnd();
    assert.ok(page.includes(text), `cluster.md does not show ${file} as tested`);
  }
});

test('three instances behind HAProxy share sessions in Redis, and one killed under load loses none', async (t) => {
  const haproxy = needPeer(t, 'haproxy');
  if (!haproxy) return;
  const cluster = await startCluster(t);
  if (!cluster) return;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const port = await freePort();
  const config = recipe('cluster-haproxy.cfg', {
    PORT: port,
    TRELLIS1_PORT: cluster.ports[0]!,
    TRELLIS2_PORT: cluster.ports[1]!,
    TRELLIS3_PORT: cluster.ports[2]!,
  });
  writeFileSync(join(dir.path, 'haproxy.cfg'), config);
  const lb: Daemon = await startDaemon(haproxy, ['-db', '-f', join(dir.path, 'haproxy.cfg')], port);
  t.after(() => lb.stop());
  await exercise(t, port, cluster);
});

test('three instances behind nginx upstream share sessions in Redis, and one killed under load loses none', async (t) => {
  const nginx = needPeer(t, 'nginx');
  if (!nginx) return;
  const cluster = await startCluster(t);
  if (!cluster) return;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const port = await freePort();
  const config = recipe('cluster-nginx.conf', {
    PORT: port,
    TRELLIS1_PORT: cluster.ports[0]!,
    TRELLIS2_PORT: cluster.ports[1]!,
    TRELLIS3_PORT: cluster.ports[2]!,
  });
  const lb = await startNginx(nginx, dir.path, port, config);
  t.after(() => lb.stop());
  await exercise(t, port, cluster);
});
