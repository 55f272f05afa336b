// WebSockets over HTTP/2 (RFC 8441): an extended CONNECT stream (`:protocol: websocket`) shown to a
// resource as the raw socket of an HTTP/1.1 Upgrade, so the code that takes one (`ws`'s
// `handleUpgrade` through NodeAppResource) works unchanged. The HTTP/1.1 response head written first
// becomes the stream's HEADERS (`101` → `:status 200`, RFC 8441 §5); the bytes after it, and every
// later write, are the stream's DATA.
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { Duplex } from 'node:stream';
import { H2_CANCEL, resetStream } from '../h2-session.js';
import { H2_CONNECTION_FIELDS, addField } from './fields.js';

/** Largest response head the tunnel waits for before it gives up on the stream. */
const MAX_HEAD_BYTES = 16 * 1024;


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
    const end = held.indexOf('\r\n\r\n');
    if (end === -1) {
      if (held.length > MAX_HEAD_BYTES) {
        callback(new Error('the Upgrade answer written to an HTTP/2 WebSocket stream has no end of head'));
        return;
      }
      this.#head = held;
      callback();
      return;
    }
    this.#head = null;
    const respond = responseHead(held.subarray(0, end).toString('latin1'));
    if (respond === null) {
      callback(new Error('the Upgrade answer written to an HTTP/2 WebSocket stream is not an HTTP/1.1 response head'));
      return;
    }
    if (!stream.headersSent) stream.respond(respond);
    const rest = held.subarray(end + 4);
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

/**
 * The HTTP/2 response for an HTTP/1.1 response head (`HTTP/1.1 101 ...` and its field lines): a
 * `101 Switching Protocols` is RFC 8441's `200`; other statuses stay (a refusal with its body); the
 * connection's own fields and `Sec-WebSocket-Accept` are left out. Null when it is not one.
 */
function responseHead(text: string): OutgoingHttpHeaders | null {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!status) return null;
  const code = Number(status[1]);
  const out: OutgoingHttpHeaders = { ':status': code === 101 ? 200 : code };
  if (code < 200 && code !== 101) return null;
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i]!.indexOf(':');
    if (colon <= 0) return null;
    const key = lines[i]!.slice(0, colon).trim().toLowerCase();
    // Sec-WebSocket-Accept answers the key the app was shown, not one the client sent (RFC 8441 §5).
    if (H2_CONNECTION_FIELDS.has(key) || key === 'sec-websocket-accept') continue;
    addField(out, key, lines[i]!.slice(colon + 1).trim());
  }
  return out;
}
