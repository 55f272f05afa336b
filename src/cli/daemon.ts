// `--daemon`: the command starts the server as a detached process and exits once it serves, with
// exit status 0, or prints why it could not start and exits non-zero.
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** The variable that tells the detached process which descriptor carries its start-up report. */
const STATUS_FD = 'TRELLIS_DAEMON_STATUS_FD';

let statusFd: number | null = null;

/** In the detached process: takes the report descriptor out of the environment (children never see it). */
export function takeDaemonStatus(): boolean {
  const text = process.env[STATUS_FD];
  delete process.env[STATUS_FD];
  if (text === undefined || !/^\d+$/.test(text)) return false;
  statusFd = Number(text);
  return true;
}

function report(line: string, last: boolean): void {
  if (statusFd === null) return;
  try {
    writeSync(statusFd, line);
    if (last) closeSync(statusFd);
  } catch {
    // the starting command is gone
  }
  if (last) statusFd = null;
}

/** In the detached process: every listener is bound; `lines` are what the command prints before it exits 0. */
export function daemonReady(lines: readonly string[]): void {
  report(`${lines.map((l) => `ok ${l}\n`).join('')}ready\n`, true);
}

/** In the detached process: it could not start; the command prints `message` and exits 1. */
export function daemonFailed(message: string): void {
  report(`fail ${message.replace(/\n/g, ' ')}\n`, true);
}

/**
 * Starts this same command again as a detached process (a new session, no terminal, stdin and stdout
 * on /dev/null, stderr too unless --errorlog catches it), then waits on a pipe for its report: the
 * lines it serves and "ready", or why it failed. Resolves with the exit status for this command.
 */
export async function daemonize(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...process.env, [STATUS_FD]: '3' },
  });
  const pipe = child.stdio[3] as Readable;
  let text = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (d: string) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => pipe.once('close', () => resolve()));
  const lines = text.split('\n');
  if (lines.includes('ready')) {
    for (const l of lines) if (l.startsWith('ok ')) process.stdout.write(`${l.slice(3)}\n`);
    process.stdout.write(`Trellis running as a daemon, pid ${child.pid}\n`);
    child.unref();
    pipe.destroy();
    return 0;
  }
  const failure = lines.find((l) => l.startsWith('fail '));
  if (failure) {
    process.stderr.write(`trellis: ${failure.slice(5)}\n`);
    return 1;
  }
  const code = await exited;
  process.stderr.write(
    `trellis: the server exited before it was serving (status ${code}); run without --daemon to see why\n`,
  );
  return 1;
}
