// A real redis-server on a loopback port for the session-store tests: optionally with a password and
// TLS, persisting every write (appendfsync always) so a kill and a restart keep the sessions.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { needPeer } from './peers.js';
import { acceptsTcp, freePort } from './server.js';

export interface RedisOptions {
  password?: string;
  /** Serve TLS only, with this certificate (the port then speaks rediss://). */
  tls?: { cert: string; key: string };
}

export interface RedisServer {
  port: number;
  /** redis:// (or rediss://) URL with the password, database 0. */
  url: string;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same data directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Whether this redis-server was built with TLS: given `--tls-port 0 --no-such-directive`, one without
 * TLS stops at the first (unknown) directive, one with TLS at the second.
 */
export function redisHasTls(binary: string): Promise<boolean> {
  return new Promise((resolve) => {
    const proc = spawn(binary, ['--tls-port', '0', '--no-such-directive', 'x']);
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('close', () => resolve(/'no-such-directive/.test(out)));
  });
}

/**
 * Starts redis-server on 127.0.0.1 (skipping the test, or failing under CI=true, when it is not
 * installed); stopped when the test ends. Returns null when skipped.
 */
export async function startRedis(t: TestContext, options: RedisOptions = {}): Promise<RedisServer | null> {
  const binary = needPeer(t, 'redis-server');
  if (!binary) return null;
  const dir = mkdtempSync(join(tmpdir(), 'trellis-redis-'));
  const port = await freePort();
  const args = [
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--loglevel',
    'warning',
  ];
  if (options.password) args.push('--requirepass', options.password);
  if (options.tls) {
    args.push(
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      options.tls.cert,
      '--tls-key-file',
      options.tls.key,
    );
    args.push('--tls-ca-cert-file', options.tls.cert, '--tls-auth-clients', 'no');
  } else {
    args.push('--port', String(port));
  }
  let proc: ChildProcess | null = null;
  let output = '';
  const launch = async () => {
    proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const end = Date.now() + 10_000;
    while (!(await acceptsTcp(port))) {
      if (proc.exitCode !== null || Date.now() > end) throw new Error(`redis-server did not start: ${output}`);
      await sleep(50);
    }
  };
  const kill = async () => {
    const p = proc as ChildProcess | null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await launch();
  t.after(async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    port,
    url: `${options.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}/0`,
    kill,
    restart: launch,
    stop: kill,
  };
}
