// The access log: one line per request in the combined log format, escaped against log injection.
import { createWriteStream, type WriteStream } from 'node:fs';

/**
 * The status logged for a response the client left before any of it was sent: nginx's "client closed
 * request", which log tools know.
 */
export const CLIENT_CLOSED_REQUEST = 499;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** What one access-log line describes. */
export interface AccessLogEntry {
  /** Client IP, or null for UNIX sockets and unknown peers. */
  clientIp: string | null;
  user?: string | null;
  time: Date;
  method: string;
  uri: string;
  protocol: string;
  /** The status sent; {@link CLIENT_CLOSED_REQUEST} when the client left before the response began. */
  status: number;
  /** Body bytes sent; 0 is written as `-`. */
  bytes: number;
  referer?: string | undefined;
  userAgent?: string | undefined;
  /**
   * The connection closed before the response was complete: the client went away (a FIN or reset on
   * HTTP/1.1, RST_STREAM or a closed session on HTTP/2, ABORT_REQUEST or a dropped gateway
   * connection), or the response was cut off. The line ends with the extra field `aborted`.
   */
  aborted?: boolean;
}

/**
 * Escapes a log field: `"` and `\` get a backslash, bytes outside printable ASCII become `\xNN`,
 * so a client cannot forge lines or fields (CR, LF and quotes never reach the file raw).
 */
export function escapeLogField(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte < 0x20 || byte >= 0x7f) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `22/Nov/2026:02:34:47 +0000`, always in UTC. */
export function formatLogTime(time: Date): string {
  return `${pad(time.getUTCDate())}/${MONTHS[time.getUTCMonth()]}/${time.getUTCFullYear()}:${pad(time.getUTCHours())}:${pad(time.getUTCMinutes())}:${pad(time.getUTCSeconds())} +0000`;
}

/**
 * Formats one line in the combined log format, as Apache and nginx write it (Twisted quotes the IP;
 * Trellis does not, so standard log tools read it):
 * `127.0.0.1 - - [22/Nov/2026:02:34:47 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.0"`
 *
 * A response cut short by the client leaving gets one more field, as combined-format readers allow:
 * `... "GET /clock HTTP/1.1" 200 48 "-" "curl/8.0" aborted` (the status and bytes sent so far), or
 * `... 499 - "-" "curl/8.0" aborted` when nothing was sent.
 */
export function combinedLogLine(e: AccessLogEntry): string {
  const ip = e.clientIp ? escapeLogField(e.clientIp) : '-';
  const user = e.user ? escapeLogField(e.user) : '-';
  const request = `${escapeLogField(e.method)} ${escapeLogField(e.uri)} ${escapeLogField(e.protocol)}`;
  const bytes = e.bytes > 0 ? String(e.bytes) : '-';
  const referer = e.referer ? escapeLogField(e.referer) : '-';
  const agent = e.userAgent ? escapeLogField(e.userAgent) : '-';
  const aborted = e.aborted ? ' aborted' : '';
  const time = formatLogTime(e.time);
  return `${ip} - ${user} [${time}] "${request}" ${e.status} ${bytes} "${referer}" "${agent}"${aborted}\n`;
}

const ESC = '\x1b[';
/** SGR colours by status class: 2xx green, 3xx cyan, 4xx yellow, 5xx (and 499) red. */
function statusColour(status: number): string {
  if (status >= 500 || status === CLIENT_CLOSED_REQUEST) return '31';
  if (status >= 400) return '33';
  if (status >= 300) return '36';
  return '32';
}

/** `1.5 KiB`-style byte count for the readable log (`-` for none). */
function shortSize(bytes: number): string {
  if (bytes <= 0) return '-';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Formats one line of the readable log `trellis web` writes to a terminal, fields escaped as in
 * {@link combinedLogLine}; `colour` wraps the status in an ANSI colour by class:
 * `11:02:03 127.0.0.1 GET /docs/ 200 2.1 KiB` (then ` aborted` when the client left).
 */
export function readableLogLine(e: AccessLogEntry, colour = false): string {
  const t = e.time;
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  const ip = e.clientIp ? escapeLogField(e.clientIp) : '-';
  const status = colour ? `${ESC}${statusColour(e.status)}m${e.status}${ESC}0m` : String(e.status);
  const dim = (text: string) => (colour ? `${ESC}2m${text}${ESC}0m` : text);
  return `${dim(time)} ${ip} ${escapeLogField(e.method)} ${escapeLogField(e.uri)} ${status} ${dim(shortSize(e.bytes))}${e.aborted ? ' aborted' : ''}\n`;
}

/** Where access-log lines go. */
export interface AccessLog {
  log(entry: AccessLogEntry): void;
  /** Reopens the file (after rotation). */
  reopen(): void;
  close(): Promise<void>;
}

/**
 * The readable access log on stdout that `trellis web` keeps in a terminal ({@link readableLogLine}),
 * coloured when stdout is a terminal that takes colours (`NO_COLOR` and `FORCE_COLOR` respected).
 *
 * ```ts
 * new Site(root, { accessLog: process.stdout.isTTY ? terminalAccessLog() : null });
 * ```
 */
export function terminalAccessLog(stream: NodeJS.WriteStream = process.stdout): AccessLog {
  const colour = stream.isTTY === true && typeof stream.hasColors === 'function' && stream.hasColors();
  return {
    log: (entry) => void stream.write(readableLogLine(entry, colour)),
    reopen: () => {},
    close: async () => {},
  };
}

/**
 * An access log written to a file (appending) or to stdout with `'-'`.
 *
 * ```ts
 * new Site(root, { accessLog: openAccessLog('/var/log/trellis/access.log') });
 * ```
 */
export function openAccessLog(target: string): AccessLog {
  if (target === '-') {
    return {
      log: (entry) => void process.stdout.write(combinedLogLine(entry)),
      reopen: () => {},
      close: async () => {},
    };
  }
  let stream: WriteStream = createWriteStream(target, { flags: 'a' });
  const onError = (err: Error) => process.stderr.write(`trellis: access log ${target}: ${err.message}\n`);
  stream.on('error', onError);
  return {
    log: (entry) => void stream.write(combinedLogLine(entry)),
    reopen: () => {
      const old = stream;
      stream = createWriteStream(target, { flags: 'a' });
      stream.on('error', onError);
      old.end();
    },
    close: () => new Promise<void>((resolve) => stream.end(resolve)),
  };
}
