// WebSockets over HTTP/2 (RFC 8441): an extended CONNECT stream (`:protocol: websocket`) shown to a
// resource as the raw socket of an HTTP/1.1 Upgrade, so the code that takes one (`ws`'s
// `handleUpgrade` through NodeAppResource) works unchanged. The HTTP/1.1 response head written first
// becomes the stream's HEADERS (`101` → `:status 200`, RFC 8441 §5); the bytes after it, and every
// later write, are the stream's DATA.
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { Duplex } from 'node:stream';
import { CGI_HEAD_PARTIAL, isCgiHeadError, parseCgiHead } from '../../http/cgi-head.js';
import { H2_CANCEL, resetStream } from '../h2-session.js';
import { H2_CONNECTION_FIELDS, addField } from './fields.js';

/**
 * The Duplex a resource takes for an extended CONNECT stream. It reports the client's address like
 * a socket, and takes the socket calls `ws` makes (`setTimeout`, `setNoDelay`, `setKeepAlive`).
 * Destroying it resets the stream (CANCEL); the stream closing destroys it.
 */
export class H2Tunnel extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly encrypted = true;
  readonly #stream: ServerHttp2Stream;
  #head: Buffer | null = Buffer.alloc(0);

  constructor(stream: ServerHttp2Stream) {
    super({ allowHalfOpen: true });
    this.#stream = stream;
    const socket = stream.session?.socket;
    this.remoteAddress = socket?.remoteAddress;
    this.remotePort = socket?.remotePort;
    stream.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) stream.pause();
    });
    stream.once('end', () => this.push(null));
    stream.once('close', () => this.destroy());
    stream.pause();
  }

  override _read(): void {
    this.#stream.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) {
      callback();
      return;
    }
    if (this.#head === null) {
      stream.write(chunk, callback);
      return;
    }
    const held = Buffer.concat([this.#head, chunk]);
    const answer = upgradeAnswer(held);
    if (answer === CGI_HEAD_PARTIAL) {
      this.#head = held;
      callback();
      return;
    }
    this.#head = null;
    if ('error' in answer) {
      callback(
        new Error(
          `The answer written to an HTTP/2 WebSocket stream is not a usable HTTP/1.1 response head: ${answer.error}`,
        ),
      );
      return;
    }
    if (!stream.headersSent) stream.respond(answer.headers);
    const rest = held.subarray(answer.bodyStart);
    if (rest.length > 0) stream.write(rest, callback);
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#stream.destroyed && !this.#stream.closed) this.#stream.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const stream = this.#stream;
    if (!stream.closed && !stream.destroyed) {
      if (stream.writableEnded) stream.close();
      else resetStream(stream, H2_CANCEL);
    }
    callback(error);
  }

  setTimeout(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }
}

/** What {@link upgradeAnswer} makes of the bytes written so far. */
export type UpgradeAnswer =
  | { headers: OutgoingHttpHeaders; bodyStart: number }
  | { error: string }
  | typeof CGI_HEAD_PARTIAL;

/**
 * The HTTP/2 response for the HTTP/1.1 response head at the start of `held`, read by the shared
 * head parser (src/http/cgi-head.ts, as a non-parsed-header script's head, within its 16 KiB and
 * 100 lines): a `101 Switching Protocols` is RFC 8441's `200`; other final statuses stay (a refusal
 * with its body, from `bodyStart`). Left out: the connection's own fields, those the parser leaves to
 * the server (Content-Length, Date, Server: the stream frames and node:http2 dates), and
 * `Sec-WebSocket-Accept` (made from the key the app was shown, not one the client sent).
 *
 * | held                                                   | result |
 * |--------------------------------------------------------|--------|
 * | `HTTP/1.1 101 Switching Protocols`, Upgrade, Connection, Sec-WebSocket-Accept, blank line | `:status 200`, no field |
 * | `HTTP/1.1 400 Bad Request`, Content-Type, blank line, body | `:status 400`, content-type |
 * | no blank line yet, within the limits                   | `'partial'` |
 * | `HTTP/1.1 100 Continue`, or no status line            | error |
 *
 * Pinned by test/channels/http2-tunnel.test.ts and test/app/h2-websocket.test.ts.
 */
export function upgradeAnswer(held: Buffer): UpgradeAnswer {
  const head = parseCgiHead(held, { nph: true });
  if (head === CGI_HEAD_PARTIAL) return head;
  if (isCgiHeadError(head)) return { error: head.error };
  if (head.status < 200 && head.status !== 101) return { error: `the status ${head.status} is not a final answer` };
  const headers: OutgoingHttpHeaders = { ':status': head.status === 101 ? 200 : head.status };
  const fields = head.fields;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const key = fields[i]!.toLowerCase();
    if (H2_CONNECTION_FIELDS.has(key) || key === 'sec-websocket-accept') continue;
    addField(headers, key, fields[i + 1]!);
  }
  return { headers, bodyStart: head.bodyStart };
}
