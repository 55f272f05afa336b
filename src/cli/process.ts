// Running a serving command as a production process: daemon, umask and working directory, the error
// log, the pidfile, binding as root then dropping to --uid/--gid, and one process or a worker pool.
import cluster from 'node:cluster';
import { chmodSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Endpoint } from '../channels/endpoint.js';
import { clearStaleSocket, ListenError } from '../channels/listen.js';
import { daemonize, daemonReady, takeDaemonStatus } from './daemon.js';
import { prepareLogFile, redirectStderr } from './error-log.js';
import { CliError } from './options.js';
import { claimPidfile } from './pidfile.js';
import { dropPrivileges, resolveCredentials, runningAs } from './privileges.js';
import type { ProcessConfig } from './process-options.js';
import { onReopenLogs } from './signals.js';
import { runPrimary, workerFailed, workerReady } from './workers.js';

/** A server the process options run (`trellis web` is one). */
export interface Service {
  /** Every endpoint it listens on; with workers, the primary prepares and removes UNIX socket files. */
  endpoints: Endpoint[];
  /** Log files it appends to, created before the privilege drop (0640, owned by --uid/--gid). */
  logFiles: string[];
  /**
   * Starts serving in this process, with its own drain on SIGTERM/SIGINT; resolves with the
   * start-up lines (`Trellis X serving URL`).
   */
  start(): Promise<string[]>;
}

/** Prints the start-up lines on stdout, and in the error log when there is one. */
function announce(lines: readonly string[], errorlog: boolean): void {
  for (const line of lines) {
    process.stdout.write(`${line}\n`);
    if (errorlog) process.stderr.write(`${line}\n`);
  }
}

/**
 * Runs `service` as `proc` says. In order: `--daemon` starts a detached copy and waits for its report;
 * `--umask` and `--chdir` apply; `--uid`/`--gid` are resolved (an unknown name fails now);
 * `--errorlog` takes stderr; the log files are created for the user; `--pidfile` is claimed; then
 * either this process serves, or (`--workers N`) a pool does. Only once every listener is bound are
 * privileges dropped and the start-up lines printed (and a daemon's parent released).
 */
export async function runServerProcess(proc: ProcessConfig, service: Service): Promise<void> {
  const daemonChild = cluster.isPrimary && takeDaemonStatus();
  if (proc.daemon && cluster.isPrimary && !daemonChild) {
    process.exitCode = await daemonize();
    return;
  }
  if (proc.umask !== null) process.umask(proc.umask);
  if (proc.chdir !== null) {
    try {
      process.chdir(proc.chdir);
    } catch (err) {
      throw new CliError(
        `--chdir ${proc.chdir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}`,
      );
    }
  }
  const creds = resolveCredentials(proc.uid, proc.gid);
  if (creds && process.geteuid!() !== 0 && !runningAs(creds)) {
    throw new CliError(
      `--uid/--gid: only root can switch to uid ${creds.uid} gid ${creds.gid}; start as root or leave the options out`,
    );
  }
  if (proc.errorlog !== null) {
    const path = resolve(proc.errorlog);
    let log;
    try {
      log = redirectStderr(path, proc.logFormat, creds);
    } catch (err) {
      throw new CliError(`--errorlog ${proc.errorlog}: ${(err as Error).message}`, 1);
    }
    onReopenLogs(() => log.reopen());
  }
  for (const file of service.logFiles) {
    try {
      prepareLogFile(file, creds);
    } catch (err) {
      throw new CliError(`cannot open the log file ${file}: ${(err as Error).message}`, 1);
    }
  }

  if (cluster.isWorker) {
    try {
      const lines = await service.start();
      if (creds) dropPrivileges(creds);
      workerReady(lines);
    } catch (err) {
      workerFailed(err instanceof Error ? err.message : String(err), err instanceof CliError ? err.exitCode : 1);
    }
    return;
  }

  const release = proc.pidfile !== null ? claimPidfile(resolve(proc.pidfile)) : null;
  if (release) process.on('exit', release);
  let lines: string[];
  if (proc.workers > 0) {
    const sockets = service.endpoints.filter((ep): ep is Extract<Endpoint, { type: 'unix' }> => ep.type === 'unix');
    try {
      for (const ep of sockets) await clearStaleSocket(ep.path);
    } catch (err) {
      if (err instanceof ListenError) throw new CliError(err.message, 1);
      throw err;
    }
    lines = await runPrimary({
      count: proc.workers,
      onServing: () => {
        for (const ep of sockets) if (ep.mode !== undefined) chmodSync(ep.path, ep.mode);
        if (creds) dropPrivileges(creds);
      },
      onExit: () => {
        for (const ep of sockets) {
          try {
            unlinkSync(ep.path);
          } catch {
            // gone, or not ours to remove after --uid; the next start clears it
          }
        }
      },
    });
    lines.push(`${proc.workers} worker processes (primary pid ${process.pid})`);
  } else {
    lines = await service.start();
    if (creds) dropPrivileges(creds);
  }
  announce(lines, proc.errorlog !== null);
  if (daemonChild) daemonReady(lines);
}
