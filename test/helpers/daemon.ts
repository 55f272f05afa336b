// Real front ends for end-to-end tests: nginx, lighttpd, apache2 and haproxy run in the foreground
// from a config the test writes into a temporary directory, and are stopped after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/** A front end running for a test. */
export interface Daemon {
  proc: ChildProcess;
  /** What it printed (stdout and stderr together). */
  output(): string;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number, timeoutMs = 10_000, proc?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc && proc.exitCode !== null)
      throw new Error(`process exited with ${proc.exitCode} before listening on ${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `command args` and waits for `port`; on failure the error carries the daemon's output. */
export async function startDaemon(
  command: string,
  args: string[],
  port: number,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Daemon> {
  // Its own process group, so stopping it also stops what it forked (Apache's cgid daemon, CGI
  // children): a survivor would hold the output pipes open and keep the test process from exiting.
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      // The group is already gone.
    }
  };
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  try {
    await waitForPort(port, 10_000, proc);
  } catch (err) {
    killGroup('SIGKILL');
    throw new Error(`${command} did not start: ${(err as Error).message}\n${output}`);
  }
  return {
    proc,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          killGroup('SIGKILL');
          proc.stdout!.destroy();
          proc.stderr!.destroy();
          resolve();
        };
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        const timer = setTimeout(() => killGroup('SIGKILL'), 3000);
        proc.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        killGroup('SIGTERM');
      }),
  };
}

/**
 * nginx in the foreground with `http` block contents `httpBlock`; pid, logs and temp paths live in `dir`.
 * `port` is the port the block listens on (waited for).
 */
export function startNginx(nginx: string, dir: string, port: number, httpBlock: string): Promise<Daemon> {
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log info;
events { worker_connections 1024; }
http {
  access_log ${dir}/nginx-access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  scgi_temp_path ${dir}/scgi;
  uwsgi_temp_path ${dir}/uwsgi;
${httpBlock}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  return startDaemon(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx-error.log')], port);
}

/** lighttpd in the foreground with `config` (server.port etc. included by the caller). */
export function startLighttpd(lighttpd: string, dir: string, port: number, config: string): Promise<Daemon> {
  const conf = `server.pid-file = "${dir}/lighttpd.pid"
server.errorlog = "${dir}/lighttpd-error.log"
server.bind = "127.0.0.1"
server.port = ${port}
${config}
`;
  writeFileSync(join(dir, 'lighttpd.conf'), conf);
  return startDaemon(lighttpd, ['-D', '-f', join(dir, 'lighttpd.conf')], port);
}

/** Apache modules directory on Debian. */
export const APACHE_MODULES = '/usr/lib/apache2/modules';

/**
 * apache2 in the foreground (`-X`: one process) listening on `port`, with the given extra modules
 * (names like `proxy`, `proxy_fcgi`) and `config` appended.
 */
export function startApache(
  apache2: string,
  dir: string,
  port: number,
  modules: string[],
  config: string,
): Promise<Daemon> {
  const base = ['mpm_event', 'authz_core', 'mime', 'dir', 'alias', 'env', 'setenvif', 'headers'];
  const all = [...new Set([...base, ...modules])];
  const loads = all.map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`).join('\n');
  const conf = `ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile ${dir}/apache.pid
Mutex file:${dir} default
ErrorLog ${dir}/apache-error.log
LogLevel warn
${loads}
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog ${dir}/apache-access.log common
TypesConfig /etc/mime.types
DocumentRoot "${dir}"
${config}
`;
  writeFileSync(join(dir, 'apache.conf'), conf);
  return startDaemon(apache2, ['-X', '-f', join(dir, 'apache.conf')], port, {
    env: { APACHE_RUN_DIR: dir, APACHE_LOCK_DIR: dir, APACHE_LOG_DIR: dir },
  });
}

/** haproxy in the foreground with `config` (global/defaults added). */
export function startHaproxy(haproxy: string, dir: string, port: number, config: string): Promise<Daemon> {
  const conf = `global
  maxconn 1024
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${config}
`;
  writeFileSync(join(dir, 'haproxy.cfg'), conf);
  return startDaemon(haproxy, ['-db', '-f', join(dir, 'haproxy.cfg')], port);
}
