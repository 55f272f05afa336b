// The bytes that open a FastCGI request (spec §5.1, §5.2, §3.4), built into one buffer so a request
// whose body is known leaves in a single socket write.
import {
  encodeRecord,
  encodeStream,
  FCGI_HEADER_LEN,
  FCGI_KEEP_CONN,
  FcgiRole,
  FcgiType,
  paddingFor,
  STREAM_CHUNK,
  writeHeader,
} from '../channels/fastcgi/records.js';

/** The one-byte length forms (§3.4) as latin1 characters. */
const SHORT_LENGTHS = Array.from({ length: 128 }, (_, n) => String.fromCharCode(n));

/** A length as the latin1 characters of its bytes: 1 below 128, else 4 with the top bit set. */
function lengthChars(length: number): string {
  if (length < 128) return SHORT_LENGTHS[length]!;
  return String.fromCharCode(
    0x80 | ((length >>> 24) & 0x7f),
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
  );
}

/**
 * Name-value pairs (§3.4) gathered for one request, names as latin1 (they are ASCII), values as
 * UTF-8. The pairs are kept as one latin1 string of their bytes, lengths included, so they are
 * copied into the final buffer in one write rather than one per name and value.
 */
export class ParamsWriter {
  #text = '';

  /** Adds a pair. */
  add(name: string, value: string): void {
    const valueLength = Buffer.byteLength(value, 'utf8');
    // A value of ASCII only is its own bytes; any other is replaced by its UTF-8 bytes as latin1.
    const bytes = valueLength === value.length ? value : Buffer.from(value, 'utf8').toString('latin1');
    this.#text += lengthChars(name.length) + lengthChars(valueLength) + name + bytes;
  }

  /** Encoded size of the pairs added so far. */
  get byteLength(): number {
    return this.#text.length;
  }

  /** Writes the pairs at `at`; returns the offset after them. */
  writeTo(buf: Buffer, at: number): number {
    return at + buf.write(this.#text, at, 'latin1');
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
export function encodeRequestStart(
  requestId: number,
  params: ParamsWriter,
  constant: Buffer,
  stdin: Buffer | null,
): Buffer {
  const paramsLength = params.byteLength + constant.length;
  const stdinLength = stdin === null ? 0 : stdin.length;
  if (paramsLength > STREAM_CHUNK || stdinLength > STREAM_CHUNK)
    return encodeLongRequestStart(requestId, params, constant, stdin);
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
function encodeLongRequestStart(
  requestId: number,
  params: ParamsWriter,
  constant: Buffer,
  stdin: Buffer | null,
): Buffer {
  const begin = Buffer.allocUnsafe(BEGIN_BYTES);
  writeBegin(begin, requestId);
  const content = Buffer.allocUnsafe(params.byteLength + constant.length);
  constant.copy(content, params.writeTo(content, 0));
  const parts = [begin, ...encodeStream(FcgiType.PARAMS, requestId, content), encodeRecord(FcgiType.PARAMS, requestId)];
  if (stdin !== null)
    parts.push(...encodeStream(FcgiType.STDIN, requestId, stdin), encodeRecord(FcgiType.STDIN, requestId));
  return Buffer.concat(parts);
}
