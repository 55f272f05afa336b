// The bytes that open a FastCGI request (spec §5.1, §5.2, §3.4), built into one buffer so a request
// whose body is known leaves in a single socket write.
import {
  encodeRecord, encodeStream, FCGI_HEADER_LEN, FCGI_KEEP_CONN, FCGI_VERSION_1, FcgiRole, FcgiType, STREAM_CHUNK,
} from '../channels/fastcgi/records.js';

/** Bytes of one name or value length: 1 below 128, else 4 with the top bit set (§3.4). */
function lengthSize(length: number): number {
  return length < 128 ? 1 : 4;
}

function writeLength(buf: Buffer, at: number, length: number): number {
  if (length < 128) {
    buf[at] = length;
    return at + 1;
  }
  buf.writeUInt32BE((length | 0x80000000) >>> 0, at);
  return at + 4;
}

function writeHeader(buf: Buffer, at: number, type: number, requestId: number, contentLength: number, padding: number): void {
  buf[at] = FCGI_VERSION_1;
  buf[at + 1] = type;
  buf[at + 2] = requestId >>> 8;
  buf[at + 3] = requestId & 0xff;
  buf[at + 4] = contentLength >>> 8;
  buf[at + 5] = contentLength & 0xff;
  buf[at + 6] = padding;
  buf[at + 7] = 0;
}

/** Padding that brings `length` to a multiple of 8. */
function paddingFor(length: number): number {
  return (8 - (length & 7)) & 7;
}

/**
 * Name-value pairs (§3.4) gathered for one request: names as latin1 (they are ASCII), values as
 * UTF-8, measured as they are added so they can be written once, straight into the final buffer.
 */
export class ParamsWriter {
  readonly #names: string[] = [];
  readonly #values: string[] = [];
  readonly #valueLengths: number[] = [];
  #bytes = 0;

  /** Adds a pair. */
  add(name: string, value: string): void {
    const valueLength = Buffer.byteLength(value, 'utf8');
    this.#names.push(name);
    this.#values.push(value);
    this.#valueLengths.push(valueLength);
    this.#bytes += lengthSize(name.length) + lengthSize(valueLength) + name.length + valueLength;
  }

  /** Encoded size of the pairs added so far. */
  get byteLength(): number {
    return this.#bytes;
  }

  /** Writes the pairs at `at`; returns the offset after them. */
  writeTo(buf: Buffer, at: number): number {
    const names = this.#names;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const valueLength = this.#valueLengths[i]!;
      at = writeLength(buf, at, name.length);
      at = writeLength(buf, at, valueLength);
      at += buf.write(name, at, 'latin1');
      if (valueLength) at += buf.write(this.#values[i]!, at, valueLength, 'utf8');
    }
    return at;
  }
}

/** Encodes pairs once (§3.4), for the PARAMS every request of a script repeats. */
export function encodeParams(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const writer = new ParamsWriter();
  for (const [name, value] of pairs) writer.add(name, value);
  const buf = Buffer.allocUnsafe(writer.byteLength);
  writer.writeTo(buf, 0);
  return buf;
}

const BEGIN_BYTES = FCGI_HEADER_LEN + 8;

/**
 * The start of a Responder request with FCGI_KEEP_CONN in one buffer: BEGIN_REQUEST, the PARAMS
 * stream (the pairs of `params`, then the pre-encoded `constant` pairs) and its empty record; with
 * `stdin`, also the STDIN stream carrying it and the empty STDIN that ends the body. Without
 * `stdin` the body is still to be sent.
 *
 * ```ts
 * encodeRequestStart(1, params, encodeParams([['REDIRECT_STATUS', '200']]), Buffer.alloc(0))
 * ```
 */
export function encodeRequestStart(requestId: number, params: ParamsWriter, constant: Buffer, stdin: Buffer | null): Buffer {
  const paramsLength = params.byteLength + constant.length;
  const stdinLength = stdin === null ? 0 : stdin.length;
  if (paramsLength > STREAM_CHUNK || stdinLength > STREAM_CHUNK) return encodeLongRequestStart(requestId, params, constant, stdin);
  const paramsPadding = paddingFor(paramsLength);
  const stdinPadding = paddingFor(stdinLength);
  let size = BEGIN_BYTES + FCGI_HEADER_LEN + paramsLength + paramsPadding + FCGI_HEADER_LEN;
  if (stdin !== null) size += (stdinLength ? FCGI_HEADER_LEN + stdinLength + stdinPadding : 0) + FCGI_HEADER_LEN;
  const buf = Buffer.allocUnsafe(size);
  writeBegin(buf, requestId);
  let at = BEGIN_BYTES;
  writeHeader(buf, at, FcgiType.PARAMS, requestId, paramsLength, paramsPadding);
  at = params.writeTo(buf, at + FCGI_HEADER_LEN);
  buf.set(constant, at);
  at += constant.length;
  buf.fill(0, at, at + paramsPadding);
  at += paramsPadding;
  writeHeader(buf, at, FcgiType.PARAMS, requestId, 0, 0);
  at += FCGI_HEADER_LEN;
  if (stdin !== null) {
    if (stdinLength) {
      writeHeader(buf, at, FcgiType.STDIN, requestId, stdinLength, stdinPadding);
      buf.set(stdin, at + FCGI_HEADER_LEN);
      at += FCGI_HEADER_LEN + stdinLength;
      buf.fill(0, at, at + stdinPadding);
      at += stdinPadding;
    }
    writeHeader(buf, at, FcgiType.STDIN, requestId, 0, 0);
  }
  return buf;
}

function writeBegin(buf: Buffer, requestId: number): void {
  writeHeader(buf, 0, FcgiType.BEGIN_REQUEST, requestId, 8, 0);
  buf.fill(0, FCGI_HEADER_LEN, BEGIN_BYTES);
  buf.writeUInt16BE(FcgiRole.RESPONDER, FCGI_HEADER_LEN);
  buf[FCGI_HEADER_LEN + 2] = FCGI_KEEP_CONN;
}

/** {@link encodeRequestStart} for streams longer than one record: built from parts, then joined. */
function encodeLongRequestStart(requestId: number, params: ParamsWriter, constant: Buffer, stdin: Buffer | null): Buffer {
  const begin = Buffer.allocUnsafe(BEGIN_BYTES);
  writeBegin(begin, requestId);
  const content = Buffer.allocUnsafe(params.byteLength + constant.length);
  constant.copy(content, params.writeTo(content, 0));
  const parts = [begin, ...encodeStream(FcgiType.PARAMS, requestId, content), encodeRecord(FcgiType.PARAMS, requestId)];
  if (stdin !== null) parts.push(...encodeStream(FcgiType.STDIN, requestId, stdin), encodeRecord(FcgiType.STDIN, requestId));
  return Buffer.concat(parts);
}
