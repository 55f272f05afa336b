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
  return { kind: 'record', record: { type, requestId, content: buf.subarray(start, start + contentLength) }, next: end };
}

/** Decodes a BEGIN_REQUEST body; null when it is not the 8 bytes the spec requires (§5.1). */
export function decodeBeginRequest(content: Buffer): BeginRequest | null {
  if (content.length !== 8) return null;
  return { role: content.readUInt16BE(0), keepConn: (content[2]! & FCGI_KEEP_CONN) !== 0 };
}

/** The padding that brings `length` up to a multiple of 8, as the spec recommends senders do (§3.3). */
function paddingFor(length: number): number {
  return (8 - (length & 7)) & 7;
}

const ZEROS = Buffer.alloc(8);

/** The 8-byte header of a record carrying `contentLength` bytes padded to a multiple of 8. */
export function encodeHeader(type: number, requestId: number, contentLength: number): Buffer {
  if (contentLength > FCGI_MAX_CONTENT) throw new RangeError(`FastCGI record content of ${contentLength} bytes exceeds ${FCGI_MAX_CONTENT}`);
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
  #buffer: Buffer = Buffer.alloc(0);

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
    let offset = 0;
    for (;;) {
      const result = decodeRecord(buf, offset);
      if (result.kind === 'incomplete') break;
      if (result.kind === 'error') {
        this.#buffer = Buffer.alloc(0);
        return { records, error: result.reason };
      }
      records.push(result.record);
      offset = result.next;
    }
    // Keep only the unfinished tail; copy it so the (possibly large) chunk can be freed.
    this.#buffer = offset === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(offset));
    return { records, error: null };
  }
}
