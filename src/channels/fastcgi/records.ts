// FastCGI 1.0 records as pure functions: the 8-byte header, a bounded incremental decoder that
// rejects malformed input with a reason instead of throwing, and serialisers for what a responder
// sends (STDOUT/STDERR streams with padding, END_REQUEST, GET_VALUES_RESULT, UNKNOWN_TYPE).

/** FastCGI spec §3.3: the only protocol version. */
export const FCGI_VERSION_1 = 1;
/** FastCGI spec §3.3: the header is 8 bytes. */
export const FCGI_HEADER_LEN = 8;
/** FastCGI spec §3.3: contentLength is a 16-bit field. */
export const FCGI_MAX_CONTENT = 65535;
/** Requests that are not management records use ids 1..65535; management records use 0 (§3.3). */
export const FCGI_NULL_REQUEST_ID = 0;

/** FastCGI spec §8: record types. */
export const FcgiType = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

/** FastCGI spec §5.1: BEGIN_REQUEST roles. */
export const FcgiRole = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const;
/** FastCGI spec §5.1: BEGIN_REQUEST flag bit 0, the web server keeps the connection. */
export const FCGI_KEEP_CONN = 1;

/** FastCGI spec §5.5: END_REQUEST protocol statuses. */
export const FcgiProtocolStatus = { REQUEST_COMPLETE: 0, CANT_MPX_CONN: 1, OVERLOADED: 2, UNKNOWN_ROLE: 3 } as const;

/** One decoded record. `content` excludes padding. */
export interface FcgiRecord {
  type: number;
  requestId: number;
  content: Buffer;
}

/** The content of a BEGIN_REQUEST record. */
export interface BeginRequest {
  role: number;
  keepConn: boolean;
}

/** Result of {@link decodeRecord}: a record, "need more bytes", or a reason to drop the connection. */
export type DecodeResult =
  | { kind: 'record'; record: FcgiRecord; next: number }
  | { kind: 'incomplete' }
  | { kind: 'error'; reason: string };

/**
 * Decodes one record from `buf` at `offset` (pure; never throws).
 *
 * | input                                       | result                          |
 * |---------------------------------------------|---------------------------------|
 * | fewer than 8 bytes, or content+padding cut  | `incomplete`                    |
 * | version byte other than 1                   | `error` (the connection closes) |
 * | a whole record                              | `record` and the offset after it (padding skipped) |
 */
export function decodeRecord(buf: Buffer, offset = 0): DecodeResult {
  if (buf.length - offset < FCGI_HEADER_LEN) return { kind: 'incomplete' };
  const version = buf[offset]!;
  if (version !== FCGI_VERSION_1) return { kind: 'error', reason: `unsupported FastCGI version ${version}` };
  const type = buf[offset + 1]!;
  const requestId = buf.readUInt16BE(offset + 2);
  const contentLength = buf.readUInt16BE(offset + 4);
  const paddingLength = buf[offset + 6]!;
  const end = offset + FCGI_HEADER_LEN + contentLength + paddingLength;
  if (buf.length < end) return { kind: 'incomplete' };
  const start = offset + FCGI_HEADER_LEN;
  return {
    kind: 'record',
    record: { type, requestId, content: buf.subarray(start, start + contentLength) },
    next: end,
  };
}

/** Decodes a BEGIN_REQUEST body; null when it is not the 8 bytes the spec requires (§5.1). */
export function decodeBeginRequest(content: Buffer): BeginRequest | null {
  if (content.length !== 8) return null;
  return { role: content.readUInt16BE(0), keepConn: (content[2]! & FCGI_KEEP_CONN) !== 0 };
}

/** The padding that brings `length` up to a multiple of 8, as the spec recommends senders do (§3.3). */
export function paddingFor(length: number): number {
  return (8 - (length & 7)) & 7;
}

const ZEROS = Buffer.alloc(8);
const EMPTY = Buffer.alloc(0);

/** The 8-byte header of a record carrying `contentLength` bytes padded to a multiple of 8. */
export function encodeHeader(type: number, requestId: number, contentLength: number): Buffer {
  if (contentLength > FCGI_MAX_CONTENT)
    throw new RangeError(`FastCGI record content of ${contentLength} bytes exceeds ${FCGI_MAX_CONTENT}`);
  const header = Buffer.allocUnsafe(FCGI_HEADER_LEN);
  header[0] = FCGI_VERSION_1;
  header[1] = type;
  header.writeUInt16BE(requestId, 2);
  header.writeUInt16BE(contentLength, 4);
  header[6] = paddingFor(contentLength);
  header[7] = 0;
  return header;
}

/** One whole record (header, content, padding) as a single buffer. */
export function encodeRecord(type: number, requestId: number, content: Buffer = ZEROS.subarray(0, 0)): Buffer {
  const header = encodeHeader(type, requestId, content.length);
  const pad = header[6]!;
  return Buffer.concat([header, content, ZEROS.subarray(0, pad)], FCGI_HEADER_LEN + content.length + pad);
}

/**
 * Largest content put in one stream record: the biggest multiple of 8 under 65535, so long bodies
 * need no padding bytes at all.
 */
export const STREAM_CHUNK = FCGI_MAX_CONTENT - (FCGI_MAX_CONTENT % 8);

/**
 * The buffers of a stream (STDOUT, STDERR) carrying `data`: records of at most 65535 content bytes,
 * each padded to a multiple of 8. `data` is not copied. Empty `data` gives no records (the empty
 * record that ends a stream is {@link encodeRecord} with no content).
 */
export function encodeStream(type: number, requestId: number, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += STREAM_CHUNK) {
    const piece = data.subarray(offset, Math.min(data.length, offset + STREAM_CHUNK));
    const header = encodeHeader(type, requestId, piece.length);
    out.push(header, piece);
    const pad = header[6]!;
    if (pad) out.push(ZEROS.subarray(0, pad));
  }
  return out;
}

/** Buffer's own string writers: what `write(string, offset, encoding)` calls after checking its arguments. */
type FastWrites = {
  latin1Write?(text: string, offset: number): number;
  utf8Write?(text: string, offset: number): number;
};
const writers = Buffer.prototype as unknown as FastWrites;
const writeLatin1 = writers.latin1Write
  ? (b: Buffer, t: string, o: number) => (b as unknown as Required<FastWrites>).latin1Write(t, o)
  : (b: Buffer, t: string, o: number) => b.write(t, o, 'latin1');
const writeUtf8 = writers.utf8Write
  ? (b: Buffer, t: string, o: number) => (b as unknown as Required<FastWrites>).utf8Write(t, o)
  : (b: Buffer, t: string, o: number) => b.write(t, o, 'utf8');

/** Writes an 8-byte record header at `at` (spec §3.3). */
export function writeHeader(
  buf: Buffer,
  at: number,
  type: number,
  requestId: number,
  contentLength: number,
  padding: number,
): void {
  buf[at] = FCGI_VERSION_1;
  buf[at + 1] = type;
  buf[at + 2] = requestId >>> 8;
  buf[at + 3] = requestId & 0xff;
  buf[at + 4] = contentLength >>> 8;
  buf[at + 5] = contentLength & 0xff;
  buf[at + 6] = padding;
  buf[at + 7] = 0;
}

/** Bytes that end a request after its last STDOUT record: the empty STDOUT and END_REQUEST. */
const END_BYTES = FCGI_HEADER_LEN + FCGI_HEADER_LEN + 8;

/**
 * One STDOUT record carrying `head` (latin1 text, e.g. the CGI response head; may be empty) then
 * `body` (UTF-8 text or bytes), in a single buffer; with `end`, followed by the empty STDOUT that
 * closes the stream and END_REQUEST (REQUEST_COMPLETE, app status 0). Null when head and body do not
 * fit one record: send them with {@link encodeStream}. This lets a small response leave in one
 * socket write.
 *
 * ```ts
 * encodeStdout(1, 'Status: 200 OK

', 'hi', true) // STDOUT(1) + STDOUT(1, empty) + END_REQUEST(1)
 * ```
 */
export function encodeStdout(
  requestId: number,
  head: string,
  body: string | Uint8Array | null,
  end: boolean,
): Buffer | null {
  const bodyLength = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const contentLength = head.length + bodyLength;
  if (contentLength > STREAM_CHUNK) return null;
  const padding = paddingFor(contentLength);
  const recordLength = contentLength === 0 ? 0 : FCGI_HEADER_LEN + contentLength + padding;
  const buf = Buffer.allocUnsafe(recordLength + (end ? END_BYTES : 0));
  if (recordLength) {
    writeHeader(buf, 0, FcgiType.STDOUT, requestId, contentLength, padding);
    let at = FCGI_HEADER_LEN;
    if (head.length) at += writeLatin1(buf, head, at);
    if (typeof body === 'string') at += writeUtf8(buf, body, at);
    else if (body !== null) {
      buf.set(body, at);
      at += body.length;
    }
    buf.fill(0, at, recordLength);
  }
  if (end) {
    writeHeader(buf, recordLength, FcgiType.STDOUT, requestId, 0, 0);
    const at = recordLength + FCGI_HEADER_LEN;
    writeHeader(buf, at, FcgiType.END_REQUEST, requestId, 8, 0);
    buf.fill(0, at + FCGI_HEADER_LEN, at + FCGI_HEADER_LEN + 8);
  }
  return buf;
}

/** END_REQUEST (§5.5): the application's exit status and the protocol status. */
export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt32BE(appStatus >>> 0, 0);
  body[4] = protocolStatus;
  return encodeRecord(FcgiType.END_REQUEST, requestId, body);
}

/** UNKNOWN_TYPE (§4.2): the reply to a management record whose type this application does not know. */
export function encodeUnknownType(type: number): Buffer {
  const body = Buffer.alloc(8);
  body[0] = type;
  return encodeRecord(FcgiType.UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, body);
}

/**
 * An incremental record reader over a byte stream, bounded: it never holds more than one record
 * (8 + 65535 + 255 bytes) beyond what it has handed out. Pure (no IO); feed it with `push`.
 */
export class RecordReader {
  #buffer: Buffer = EMPTY;

  /** Bytes waiting for the rest of their record. */
  get pending(): number {
    return this.#buffer.length;
  }

  /**
   * Adds `chunk` and returns the records now complete, or an error reason (after which the reader
   * must not be used: the connection is to be closed).
   */
  push(chunk: Buffer): { records: FcgiRecord[]; error: string | null } {
    const buf = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const records: FcgiRecord[] = [];
    const length = buf.length;
    let offset = 0;
    // decodeRecord's checks, inlined: this runs for every record a front end sends.
    while (length - offset >= FCGI_HEADER_LEN) {
      const version = buf[offset]!;
      if (version !== FCGI_VERSION_1) {
        this.#buffer = EMPTY;
        return { records, error: `unsupported FastCGI version ${version}` };
      }
      const contentLength = (buf[offset + 4]! << 8) | buf[offset + 5]!;
      const start = offset + FCGI_HEADER_LEN;
      const next = start + contentLength + buf[offset + 6]!;
      if (length < next) break;
      records.push({
        type: buf[offset + 1]!,
        requestId: (buf[offset + 2]! << 8) | buf[offset + 3]!,
        // Empty records (the ends of streams) share one buffer instead of a view each.
        content: contentLength === 0 ? EMPTY : buf.subarray(start, start + contentLength),
      });
      offset = next;
    }
    // Keep only the unfinished tail; copy it so the (possibly large) chunk can be freed.
    this.#buffer = offset === length ? EMPTY : Buffer.from(buf.subarray(offset));
    return { records, error: null };
  }
}
