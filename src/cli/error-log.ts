// `--errorlog FILE` (the `twistd -l` idea): everything the server process says on stderr, start-up
// lines, errors and tracebacks, goes to a file instead, plain or as JSON lines.
import { closeSync, openSync, writeSync } from 'node:fs';
import { giveTo, type Credentials } from './privileges.js';
import type { LogFormat } from './process-options.js';

/** An open error log. */
export interface ErrorLog {
  /** Opens the file again by name (after logrotate moved it). */
  reopen(): void;
}

/** Opens `path` for appending, created 0640 and owned by the user the server becomes. */
export function openLogFile(path: string, creds: Credentials | null): number {
  const fd = openSync(path, 'a', 0o640);
  giveTo(fd, creds);
  return fd;
}

/** Creates the log file `path` (0640, given to the user the server becomes) if it is missing. */
export function prepareLogFile(path: string, creds: Credentials | null): void {
  closeSync(openLogFile(path, creds));
}

/** A message that starts with its own time (the Site's error reporter writes one). */
const STAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) /;

/**
 * `text`: `2026-11-22T02:34:47.000Z [pid] message`; `json`: `{"time":…,"pid":…,"message":…}`. A
 * message that starts with an ISO time keeps that time instead of getting a second one.
 */
function record(text: string, format: LogFormat): string {
  const stamped = STAMPED.exec(text);
  const time = stamped ? stamped[1]! : new Date().toISOString();
  const body = stamped ? text.slice(stamped[0].length) : text;
  const message = body.endsWith('\n') ? body.slice(0, -1) : body;
  if (format === 'json') return `${JSON.stringify({ time, pid: process.pid, message })}\n`;
  return `${time} [${process.pid}] ${message}\n`;
}

/**
 * Sends this process's stderr to `path`. Every module reports through `process.stderr.write` (the
 * Site's error reporter, uncaught exceptions, Node's own warnings), so that one method is redirected:
 * each write becomes one record, a traceback stays one record. Writes are synchronous, so the last
 * words of a process that exits reach the file. A failing write (a full disk) is dropped.
 */
export function redirectStderr(path: string, format: LogFormat, creds: Credentials | null): ErrorLog {
  let fd = openLogFile(path, creds);
  const write = (
    chunk: string | Uint8Array,
    encoding?: BufferEncoding | ((err?: Error | null) => void),
    cb?: (err?: Error | null) => void,
  ): boolean => {
    const text =
      typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8');
    try {
      if (text) writeSync(fd, record(text, format));
    } catch {
      // nowhere left to say it
    }
    const done = typeof encoding === 'function' ? encoding : cb;
    if (done) process.nextTick(done);
    return true;
  };
  process.stderr.write = write as typeof process.stderr.write;
  return {
    reopen() {
      const old = fd;
      fd = openLogFile(path, null);
      closeSync(old);
    },
  };
}
