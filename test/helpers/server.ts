// Starting Trellis for tests: a Site on a loopback port in this process, or the `trellis` command as
// a child process, plus temporary directories and free ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenHttp } from '../../src/channels/http.js';
import { parseEndpoint } from '../../src/channels/endpoint.js';
import type { Site } from '../../src/site.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist/cli/main.js');

/** A fresh temporary directory, removed by `cleanup`. */
export function tempDir(prefix = 'trellis-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` right now. */
export function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Serves `site` on 127.0.0.1 (or the endpoint given) in this process. */
export async function serveSite(site: Site, endpoint = 'tcp:0:interface=127.0.0.1') {
  const listener = await listenHttp(site, parseEndpoint(endpoint));
  const base = listener.port === null ? listener.url : `http://127.0.0.1:${listener.port}`;
  return { base, port: listener.port, listener, close: () => listener.close(1000) };
}

/** A running `trellis` child process. */
export interface TrellisProcess {
  proc: ChildProcess;
  /** The first URL it printed as serving. */
  url: string;
  stdout: () => string;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `node dist/cli/main.js ARGS` and waits until it prints the URL it serves
 * ("Trellis X serving URL"). Rejects with its output when it exits first.
 */
export async function spawnTrellis(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<TrellisProcess> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`trellis did not start in time\nstdout: ${out}\nstderr: ${err}`));
    }, options.timeoutMs ?? 10_000);
    const check = () => {
      const m = /serving (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`trellis exited with ${code}\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  return {
    proc,
    url,
    stdout: () => out,
    stderr: () => err,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      }),
  };
}

/** Runs `trellis ARGS` to completion and returns its exit code and output. */
export function runTrellis(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end(options.input ?? '');
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A node:http server under test (a backend, an origin) listening on a loopback port; `close` drops its connections. */
export interface LoopbackServer<S> {
  server: S;
  port: number;
  close(): Promise<void>;
}

export async function listenLoopback<S extends HttpServer>(server: S): Promise<LoopbackServer<S>> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
