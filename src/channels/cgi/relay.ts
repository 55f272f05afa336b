// `trellis cgi --relay`: a CGI program that hands its one request to a long-running Trellis over SCGI
// or FastCGI and relays the answer, streaming both ways (the cgi2scgi idea). It loads no site and
// imports nothing but node:net, so it starts about as fast as Node itself.
import { connect, type Socket } from 'node:net';
import { encodeNameValuePairs } from '../fastcgi/name-value.js';
import { RELAY_MARK } from './relay-mark.js';
import { parseContentLength, unbracket } from '../../http/syntax.js';
import { decodeRecord, encodeRecord, encodeStream, FcgiRole, FcgiType } from '../fastcgi/records.js';

/** Where the relay sends the request: `scgi:` or `fastcgi:` then `unix:/path` or `tcp:HOST:PORT`. */
export interface RelayTarget {
  protocol: 'scgi' | 'fastcgi';
  address: { path: string } | { host: string; port: number };
}

/** Parses `scgi:unix:/run/app.sock`, `fastcgi:tcp:127.0.0.1:9000`; returns an error message when malformed. */
export function parseRelayTarget(text: string): RelayTarget | string {
  const m = /^(scgi|fastcgi):(?:unix:(.+)|tcp:(\[[^\]]+\]|[^:]+):(\d{1,5}))$/.exec(text);
  const usage = `--relay needs scgi:ADDR or fastcgi:ADDR with ADDR unix:/path or tcp:HOST:PORT (e.g. scgi:unix:/run/app.sock), not "${text}"`;
  if (!m) return usage;
  const protocol = m[1] as 'scgi' | 'fastcgi';
  if (m[2] !== undefined) return { protocol, address: { path: m[2] } };
  const port = Number(m[4]);
  if (port < 1 || port > 65535) return usage;
  return { protocol, address: { host: unbracket(m[3]!), port } };
}

/**
 * The variables a relay forwards: RFC 3875 meta-variables, the de-facto extensions front ends send,
 * and HTTP_* headers. Nothing else from the process environment leaves it (SECURITY.md §2.3), and
 * never HTTP_PROXY (§2.4, httpoxy).
 */
const FORWARDED = new Set([
  'AUTH_TYPE',
  'CONTENT_LENGTH',
  'CONTENT_TYPE',
  'GATEWAY_INTERFACE',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'QUERY_STRING',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_USER',
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SOFTWARE',
  'REQUEST_URI',
  'REQUEST_SCHEME',
  'REMOTE_PORT',
  'SERVER_ADDR',
  'HTTPS',
  'DOCUMENT_ROOT',
  'SCRIPT_FILENAME',
  'REDIRECT_STATUS',
]);

/**
 * The CGI variables to forward from `env`, CONTENT_LENGTH first (SCGI requires it there), then
 * `TRELLIS_RELAY=1`: the server then takes SCRIPT_NAME as a CGI program's own, whatever front end ran it.
 */
export function relayParams(
  env: Readonly<Record<string, string | undefined>>,
  contentLength: number,
): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['CONTENT_LENGTH', String(contentLength)],
    [RELAY_MARK, '1'],
  ];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name === 'CONTENT_LENGTH' || name === 'HTTP_PROXY') continue;
    if (FORWARDED.has(name) || (name.startsWith('HTTP_') && /^HTTP_[A-Z0-9_]+$/.test(name))) out.push([name, value]);
  }
  return out;
}

/** An SCGI request head: the netstring of NUL-separated pairs (CONTENT_LENGTH first, SCGI=1). */
export function scgiHead(params: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of [params[0]!, ['SCGI', '1'] as const, ...params.slice(1)])
    parts.push(Buffer.from(`${name}\0${value}\0`));
  const payload = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(',')]);
}

/** The one request the relay sends on its connection. */
const REQUEST_ID = 1;

/** The start of a FastCGI request: BEGIN_REQUEST (responder, no keep-alive), the PARAMS stream and its end. */
export function fcgiRequestHead(params: ReadonlyArray<readonly [string, string]>): Buffer {
  const begin = Buffer.alloc(8);
  begin.writeUInt16BE(FcgiRole.RESPONDER, 0);
  return Buffer.concat([
    encodeRecord(FcgiType.BEGIN_REQUEST, REQUEST_ID, begin),
    ...encodeStream(FcgiType.PARAMS, REQUEST_ID, encodeNameValuePairs(params)),
    encodeRecord(FcgiType.PARAMS, REQUEST_ID),
  ]);
}

/**
 * Reads FastCGI records from the server: STDOUT content goes to `stdout`, STDERR to `stderr`,
 * END_REQUEST calls `end` with the app status. Malformed input calls `fail`.
 */
export function fcgiResponseReader(handlers: {
  stdout(b: Buffer): void;
  stderr(b: Buffer): void;
  end(appStatus: number): void;
  fail(why: string): void;
}): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let done = false;
  return (chunk) => {
    if (done) return;
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      const r = decodeRecord(pending, offset);
      if (r.kind === 'incomplete') break;
      if (r.kind === 'error') {
        done = true;
        handlers.fail(`not a FastCGI response (${r.reason})`);
        return;
      }
      offset = r.next;
      const { type, content } = r.record;
      if (type === FcgiType.STDOUT && content.length) handlers.stdout(Buffer.from(content));
      else if (type === FcgiType.STDERR && content.length) handlers.stderr(Buffer.from(content));
      else if (type === FcgiType.END_REQUEST) {
        done = true;
        handlers.end(content.length >= 4 ? content.readUInt32BE(0) : 0);
        return;
      }
    }
    pending = pending.subarray(offset);
  };
}

/** Options of {@link runRelay}. */
export interface RelayOptions {
  env: Readonly<Record<string, string | undefined>>;
  stdin: NodeJS.ReadableStream & { pause(): unknown; resume(): unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Called with the exit status once the answer was relayed (or failed). */
  exit(code: number): void;
}

const BAD_GATEWAY =
  'Status: 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe application server is not answering.\n';

/**
 * Relays one CGI request to `target` and its answer back. The body streams from stdin (exactly
 * CONTENT_LENGTH bytes; to EOF when the front end passed a chunked body without one: FastCGI streams
 * it, SCGI needs a length so it is buffered first, up to 10 MiB). When the server cannot be reached
 * the client gets a 502 and the reason goes to stderr (the front end's error log). When the front
 * end goes away (stdout breaks, SIGTERM) the connection to the server is dropped, which the server
 * sees as the client leaving.
 */
export function runRelay(target: RelayTarget, options: RelayOptions): void {
  const { env, stdin, stdout, stderr } = options;
  const declared = parseContentLength(env.CONTENT_LENGTH);
  const toEof = declared === null && /chunked/i.test(env.HTTP_TRANSFER_ENCODING ?? '');
  let finished = false;
  let sentAnything = false;
  let socket: Socket | null = null;
  const finish = (code: number) => {
    if (finished) return;
    finished = true;
    socket?.destroy();
    options.exit(code);
  };
  const fail = (why: string) => {
    if (finished) return;
    stderr.write(`trellis cgi --relay: ${why}\n`);
    if (!sentAnything) {
      sentAnything = true;
      stdout.write(BAD_GATEWAY, () => finish(1));
    } else finish(1);
  };
  stdout.on('error', () => finish(1));

  const start = (bufferedBody: Buffer | null) => {
    const length = bufferedBody ? bufferedBody.length : (declared ?? 0);
    const params = relayParams(env, length);
    // A streamed body of unknown length: FastCGI ends it with the empty STDIN record instead.
    if (target.protocol === 'fastcgi' && toEof) params.shift();
    const sock =
      'path' in target.address ? connect(target.address.path) : connect(target.address.port, target.address.host);
    socket = sock;
    sock.on('error', (err) => fail(`cannot relay to ${describe(target)}: ${err.message}`));
    const forward = (chunk: Buffer) => {
      sentAnything = true;
      if (!stdout.write(chunk)) {
        sock.pause();
        stdout.once('drain', () => sock.resume());
      }
    };
    const isFcgi = target.protocol === 'fastcgi';
    const bodyRecord = isFcgi
      ? (b: Buffer) => Buffer.concat(encodeStream(FcgiType.STDIN, REQUEST_ID, b))
      : (b: Buffer) => b;
    sock.once('connect', () => {
      sock.write(isFcgi ? fcgiRequestHead(params) : scgiHead(params));
      const endBody = () => {
        if (isFcgi) sock.write(encodeRecord(FcgiType.STDIN, REQUEST_ID));
      };
      if (bufferedBody) {
        if (bufferedBody.length) sock.write(bodyRecord(bufferedBody));
        endBody();
        return;
      }
      let remaining = declared ?? (toEof ? Infinity : 0);
      if (remaining === 0) {
        endBody();
        return;
      }
      const onData = (chunk: Buffer) => {
        const part = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
        remaining -= part.length;
        if (!sock.write(bodyRecord(part))) {
          stdin.pause();
          sock.once('drain', () => stdin.resume());
        }
        if (remaining === 0) {
          stdin.removeListener('data', onData);
          stdin.pause();
          endBody();
        }
      };
      stdin.on('data', onData);
      stdin.once('end', () => {
        if (remaining === 0) return;
        if (remaining === Infinity) endBody();
        else fail(`stdin ended ${remaining} bytes before CONTENT_LENGTH`);
      });
      stdin.resume();
    });
    if (isFcgi) {
      const read = fcgiResponseReader({
        stdout: forward,
        stderr: (b) => stderr.write(b),
        end: (status) => stdout.write(Buffer.alloc(0), () => finish(status === 0 ? 0 : 1)),
        fail: (why) => fail(`bad answer from ${describe(target)}: ${why}`),
      });
      sock.on('data', read);
      sock.once('end', () => fail(`${describe(target)} closed the connection before END_REQUEST`));
    } else {
      sock.on('data', forward);
      sock.once('end', () => {
        if (!sentAnything) fail(`${describe(target)} closed the connection without an answer`);
        else stdout.write(Buffer.alloc(0), () => finish(0));
      });
    }
  };

  if (toEof && target.protocol === 'scgi') {
    const chunks: Buffer[] = [];
    let size = 0;
    stdin.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 10 * 1024 * 1024) {
        stdin.pause();
        stdout.write(
          'Status: 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe request body is too large.\n',
          () => finish(1),
        );
        return;
      }
      chunks.push(chunk);
    });
    stdin.once('end', () => start(Buffer.concat(chunks)));
    stdin.resume();
  } else {
    start(null);
  }
}

function describe(target: RelayTarget): string {
  const a = target.address;
  return `${target.protocol}:${'path' in a ? `unix:${a.path}` : `tcp:${a.host}:${a.port}`}`;
}
