// The CGI channel (RFC 3875): one request from a process's environment and stdin, the response as a
// CGI document (`Status:` line, headers, body) on stdout. `trellis cgi` runs it once and exits.
import { Readable, type Writable } from 'node:stream';
import { formatCgiHeadText } from '../../http/cgi-head.js';
import { parseContentLength } from '../../http/syntax.js';
import { connectionLost, type RequestHolder } from '../boundary.js';
import { serveCgiParams, type CgiParams } from '../cgi-params.js';
import type { Request, ResponseSink } from '../../request.js';
import type { Site } from '../../site.js';

/** Options of {@link serveCgi}. */
export interface ServeCgiOptions {
  /** The meta-variables: the process environment. */
  env: CgiParams;
  /** Where the body comes from: the process's stdin. */
  stdin: Readable;
  /** Where the response goes: the process's stdout. */
  stdout: Writable;
  /** Mount point overriding SCRIPT_NAME (see `parseCgiParams`). Default: none. */
  mount?: string | null;
  /** Aborting it says the front end went away (lighttpd and Apache send SIGTERM). Default: none. */
  signal?: AbortSignal;
}

/**
 * The request body from stdin: exactly CONTENT_LENGTH bytes (RFC 3875 §4.2: there may be no EOF),
 * or, when CONTENT_LENGTH is absent but the front end passed a chunked body through (Apache mod_cgid
 * does), everything up to EOF. Null when there is no body; stdin is then never touched.
 */
export function cgiBody(stdin: Readable, contentLength: number | null, chunked: boolean): Readable | null {
  if (contentLength === 0 || (contentLength === null && !chunked)) return null;
  let remaining = contentLength ?? Infinity;
  const body = new Readable({
    read() {
      stdin.resume();
    },
    destroy(err, callback) {
      stdin.off('data', onData);
      stdin.pause();
      callback(err);
    },
  });
  const onData = (chunk: Buffer) => {
    if (chunk.length >= remaining) {
      const last = chunk.subarray(0, remaining);
      remaining = 0;
      stdin.off('data', onData);
      stdin.pause();
      if (last.length) body.push(last);
      body.push(null);
      return;
    }
    remaining -= chunk.length;
    if (!body.push(chunk)) stdin.pause();
  };
  stdin.on('data', onData);
  stdin.once('end', () => {
    if (remaining === 0) return;
    if (remaining === Infinity) body.push(null);
    else body.destroy(new Error(`stdin ended ${remaining} bytes before CONTENT_LENGTH`));
  });
  stdin.once('error', (err) => body.destroy(err));
  stdin.pause();
  // Errors reach whoever reads the body; unread, they must not become an uncaught exception.
  body.on('error', () => {});
  return body;
}

/** A ResponseSink writing a CGI response to `out`; `onEnd` runs once the last byte was handed over, `onAbort` when the response must be dropped. */
export function cgiSink(out: Writable, onEnd: () => void, onAbort: () => void): ResponseSink {
  return {
    writeHead(code, reason, flat) {
      out.write(formatCgiHeadText(code, reason, flat), 'latin1');
    },
    write: (chunk) => out.write(chunk),
    end(chunk) {
      if (chunk?.length) out.write(chunk);
      onEnd();
    },
    endText(text) {
      this.end(Buffer.from(text));
    },
    onDrain: (listener) => void out.once('drain', listener),
    abort: onAbort,
    // One CGI process answers one request: its output ends with the response anyway.
    closeAfterResponse: () => {},
    queuedBytes: () => out.writableLength,
  };
}

/**
 * Serves the one request a CGI process was started for. Resolves when the response has been written
 * (or the front end went away: stdout broke, or SIGTERM arrived, which lighttpd sends when the client
 * leaves). A malformed environment is answered with a 400 page.
 *
 * ```ts
 * await serveCgi(site, { env: process.env, stdin: process.stdin, stdout: process.stdout });
 * ```
 */
export function serveCgi(site: Site, options: ServeCgiOptions): Promise<{ request: Request; completed: boolean }> {
  return new Promise((resolve) => {
    const { env, stdout } = options;
    let settled = false;
    // Set before the Site runs: a response finished at once resolves with its Request.
    const held: RequestHolder = { request: null };
    const finish = (completed: boolean) => {
      if (settled) return;
      settled = true;
      const request = held.request!;
      if (!completed) connectionLost(request, new Error('The front end closed the CGI output'));
      resolve({ request, completed });
    };
    const sink = cgiSink(
      stdout,
      () => finish(true),
      () => finish(false),
    );
    stdout.on('error', () => finish(false));
    options.signal?.addEventListener('abort', () => finish(false), { once: true });
    const get =
      env instanceof Map ? (n: string) => env.get(n) : (n: string) => (env as Record<string, string | undefined>)[n];
    const declared = get('CONTENT_LENGTH');
    const length = parseContentLength(declared);
    const chunked = /chunked/i.test(get('HTTP_TRANSFER_ENCODING') ?? '');
    const body = cgiBody(options.stdin, length, chunked);
    const mount = options.mount == null ? {} : { mount: options.mount };
    serveCgiParams(site, env, { body, sink, channel: 'cgi', ...mount }, held);
  });
}
