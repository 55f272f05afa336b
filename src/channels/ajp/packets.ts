// AJP13 packets as pure functions: framing, the FORWARD_REQUEST parser, request-body chunks, and the
// container's SEND_HEADERS / SEND_BODY_CHUNK / END_RESPONSE / GET_BODY_CHUNK / CPONG packets.
// Spec: Apache Tomcat "AJPv13" protocol reference; observed behaviour in reference/gateways.md §A.4.

/** Default (and Apache `ProxyIOBufferSize` default) packet size, header included. */
export const AJP_DEFAULT_PACKET_SIZE = 8192;
/** Largest packet size either end may agree on. */
export const AJP_MAX_PACKET_SIZE = 65536;

/** Message codes, web server → container. */
export const AJP_FORWARD_REQUEST = 2;
export const AJP_SHUTDOWN = 7;
export const AJP_PING = 8;
export const AJP_CPING = 10;
/** Message codes, container → web server. */
export const AJP_SEND_BODY_CHUNK = 3;
export const AJP_SEND_HEADERS = 4;
export const AJP_END_RESPONSE = 5;
export const AJP_GET_BODY_CHUNK = 6;
export const AJP_CPONG_REPLY = 9;

/** Method codes of FORWARD_REQUEST (1-27); 0xFF means the name is in the `stored_method` attribute. */
export const AJP_METHODS: readonly string[] = [
  '',
  'OPTIONS',
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'TRACE',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'ACL',
  'REPORT',
  'VERSION-CONTROL',
  'CHECKIN',
  'CHECKOUT',
  'UNCHECKOUT',
  'SEARCH',
  'MKWORKSPACE',
  'UPDATE',
  'LABEL',
  'MERGE',
  'BASELINE-CONTROL',
  'MKACTIVITY',
];

/** Request header codes 0xA001-0xA00E. */
export const AJP_REQUEST_HEADERS: readonly string[] = [
  '',
  'Accept',
  'Accept-Charset',
  'Accept-Encoding',
  'Accept-Language',
  'Authorization',
  'Connection',
  'Content-Type',
  'Content-Length',
  'Cookie',
  'Cookie2',
  'Host',
  'Pragma',
  'Referer',
  'User-Agent',
];

/** Response header codes 0xA001-0xA00B, by lower-case name. */
const RESPONSE_HEADER_CODES = new Map<string, number>(
  [
    'content-type',
    'content-language',
    'content-length',
    'date',
    'last-modified',
    'location',
    'set-cookie',
    'set-cookie2',
    'servlet-engine',
    'status',
    'www-authenticate',
  ].map((n, i) => [n, 0xa001 + i]),
);

/** Attribute codes of FORWARD_REQUEST (0xFF ends the list). */
export const AJP_ATTRIBUTES: Readonly<Record<number, string>> = {
  0x01: 'context',
  0x02: 'servlet_path',
  0x03: 'remote_user',
  0x04: 'auth_type',
  0x05: 'query_string',
  0x06: 'jvm_route',
  0x07: 'ssl_cert',
  0x08: 'ssl_cipher',
  0x09: 'ssl_session',
  0x0a: 'req_attribute',
  0x0b: 'ssl_key_size',
  0x0c: 'secret',
  0x0d: 'stored_method',
};

/** A FORWARD_REQUEST, decoded. Strings the web server sent as null are null. */
export interface AjpForwardRequest {
  method: string;
  protocol: string;
  /** The decoded request path, without the query string. */
  reqUri: string;
  remoteAddr: string | null;
  remoteHost: string | null;
  serverName: string | null;
  serverPort: number;
  isSsl: boolean;
  headers: Array<[string, string]>;
  /** Coded attributes by name (`query_string`, `secret`, ...); `ssl_key_size` as its decimal text. */
  attributes: Map<string, string>;
  /** `req_attribute` name/value pairs, in order. */
  requestAttributes: Array<[string, string]>;
}

/** Why a packet was rejected; the connection it came on is closed. */
export interface AjpError {
  error: string;
}

export function isAjpError(value: unknown): value is AjpError {
  return typeof value === 'object' && value !== null && 'error' in value;
}

/** One framed packet cut from a byte stream. */
export type AjpFrame = { payload: Buffer; next: number } | { need: true } | AjpError;

/**
 * Cuts the next web-server packet (`0x12 0x34`, int16 length, payload) from `buf` at `offset`.
 *
 * | bytes                               | result |
 * |-------------------------------------|--------|
 * | fewer than 4, or a partial payload  | `{ need: true }` |
 * | magic other than `0x12 0x34`        | error |
 * | length + 4 > `maxPacketSize`        | error (oversized) |
 * | complete                            | `{ payload, next }` |
 */
export function readFrame(buf: Buffer, offset: number, maxPacketSize = AJP_DEFAULT_PACKET_SIZE): AjpFrame {
  if (buf.length - offset < 4) {
    if (buf.length > offset && buf[offset] !== 0x12) return { error: 'bad packet magic' };
    if (buf.length > offset + 1 && buf[offset + 1] !== 0x34) return { error: 'bad packet magic' };
    return { need: true };
  }
  if (buf[offset] !== 0x12 || buf[offset + 1] !== 0x34) return { error: 'bad packet magic' };
  const length = buf.readUInt16BE(offset + 2);
  if (length + 4 > maxPacketSize)
    return { error: `packet of ${length + 4} bytes exceeds the ${maxPacketSize}-byte packet size` };
  if (buf.length - offset - 4 < length) return { need: true };
  return { payload: buf.subarray(offset + 4, offset + 4 + length), next: offset + 4 + length };
}

class Truncated extends Error {}

/** Bounds-checked big-endian reader over one payload; running off the end throws `Truncated`. */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  byte(): number {
    if (this.pos + 1 > this.buf.length) throw new Truncated('truncated byte');
    return this.buf[this.pos++]!;
  }
  peek(): number {
    if (this.pos + 1 > this.buf.length) throw new Truncated('truncated byte');
    return this.buf[this.pos]!;
  }
  int16(): number {
    if (this.pos + 2 > this.buf.length) throw new Truncated('truncated integer');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  /** int16 length + bytes + NUL; 0xFFFF is null. */
  string(): string | null {
    const length = this.int16();
    if (length === 0xffff) return null;
    if (this.pos + length + 1 > this.buf.length) throw new Truncated('truncated string');
    const s = this.buf.toString('latin1', this.pos, this.pos + length);
    if (this.buf[this.pos + length] !== 0) throw new Truncated('string without its NUL terminator');
    this.pos += length + 1;
    return s;
  }
}

/** Latin-1 bytes as the UTF-8 text they most likely are (httpd sends raw bytes). */
function utf8(latin1: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(latin1)) return latin1;
  const text = Buffer.from(latin1, 'latin1').toString('utf8');
  return text.includes('\ufffd') ? latin1 : text;
}

/**
 * Decodes a FORWARD_REQUEST payload. Pure; never throws: malformed or truncated input gives an
 * `AjpError`. Only the wire format is checked here; what the values may be (attribute allow-list,
 * secret, control characters) is the channel's decision.
 */
export function parseForwardRequest(payload: Buffer): AjpForwardRequest | AjpError {
  try {
    const r = new Reader(payload);
    if (r.byte() !== AJP_FORWARD_REQUEST) return { error: 'not a FORWARD_REQUEST' };
    const methodCode = r.byte();
    const protocol = r.string();
    const reqUri = r.string();
    const remoteAddr = r.string();
    const remoteHost = r.string();
    const serverName = r.string();
    const serverPort = r.int16();
    const isSsl = r.byte() !== 0;
    const numHeaders = r.int16();
    if (protocol === null || reqUri === null) return { error: 'FORWARD_REQUEST without protocol or URI' };
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < numHeaders; i++) {
      let name: string | null;
      if (r.peek() === 0xa0) {
        const code = r.int16() & 0xff;
        name = AJP_REQUEST_HEADERS[code] || null;
        if (!name) return { error: `unknown request header code 0xA0${code.toString(16).padStart(2, '0')}` };
      } else {
        name = r.string();
      }
      const value = r.string();
      if (name === null || value === null) return { error: 'null header name or value' };
      headers.push([name, utf8(value)]);
    }
    const attributes = new Map<string, string>();
    const requestAttributes: Array<[string, string]> = [];
    for (;;) {
      const code = r.byte();
      if (code === 0xff) break;
      const name = AJP_ATTRIBUTES[code];
      if (!name) return { error: `unknown attribute code 0x${code.toString(16).padStart(2, '0')}` };
      if (code === 0x0a) {
        const key = r.string();
        const value = r.string();
        if (key === null || value === null) return { error: 'null req_attribute' };
        requestAttributes.push([key, utf8(value)]);
      } else if (code === 0x0b) {
        attributes.set(name, String(r.int16()));
      } else {
        const value = r.string();
        if (value === null) return { error: `null ${name} attribute` };
        if (attributes.has(name)) return { error: `repeated ${name} attribute` };
        attributes.set(name, name === 'secret' ? value : utf8(value));
      }
    }
    if (r.pos !== payload.length) return { error: 'bytes after the end of FORWARD_REQUEST' };
    let method: string;
    if (methodCode === 0xff) {
      const stored = attributes.get('stored_method');
      if (!stored) return { error: 'method 0xFF without stored_method' };
      method = stored;
    } else {
      const known = AJP_METHODS[methodCode];
      if (!known) return { error: `unknown method code ${methodCode}` };
      method = known;
    }
    return {
      method,
      protocol,
      reqUri: utf8(reqUri),
      remoteAddr,
      remoteHost,
      serverName,
      serverPort,
      isSsl,
      headers,
      attributes,
      requestAttributes,
    };
  } catch (err) {
    if (err instanceof Truncated) return { error: `malformed FORWARD_REQUEST: ${err.message}` };
    return { error: 'malformed FORWARD_REQUEST' };
  }
}

/**
 * The data of a request-body packet. Two layouts exist: the spec's (int16 length, then the bytes)
 * and lighttpd 1.4's (the raw bytes); when the first int16 equals payload length − 2 it is the spec
 * layout. An empty payload or a zero length is the end of the body (an empty Buffer).
 */
export function parseBodyChunk(payload: Buffer): Buffer {
  if (payload.length < 2) return payload.subarray(0, 0);
  const declared = payload.readUInt16BE(0);
  if (declared === payload.length - 2) return payload.subarray(2);
  return payload;
}

function packet(payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(4);
  head[0] = 0x41; // 'A'
  head[1] = 0x42; // 'B'
  head.writeUInt16BE(payload.length, 2);
  return Buffer.concat([head, payload]);
}

function ajpString(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length + 3);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  out[bytes.length + 2] = 0;
  return out;
}

/**
 * SEND_HEADERS: status, reason, then each header by code when it has one, else by name. Returns
 * null when the headers do not fit one packet of `maxPacketSize` (AJP cannot split them).
 */
export function sendHeadersPacket(
  status: number,
  reason: string,
  headers: ReadonlyArray<readonly [string, string]>,
  maxPacketSize = AJP_DEFAULT_PACKET_SIZE,
): Buffer | null {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(3);
  head[0] = AJP_SEND_HEADERS;
  head.writeUInt16BE(status, 1);
  parts.push(head, ajpString(reason));
  const count = Buffer.alloc(2);
  count.writeUInt16BE(headers.length, 0);
  parts.push(count);
  for (const [name, value] of headers) {
    const code = RESPONSE_HEADER_CODES.get(name.toLowerCase());
    if (code !== undefined) {
      const c = Buffer.alloc(2);
      c.writeUInt16BE(code, 0);
      parts.push(c);
    } else {
      parts.push(ajpString(name));
    }
    parts.push(ajpString(value));
  }
  const payload = Buffer.concat(parts);
  if (payload.length + 4 > maxPacketSize) return null;
  return packet(payload);
}

/** Most body bytes one SEND_BODY_CHUNK can carry: code, int16 length and the trailing NUL take 4. */
export function maxChunkData(maxPacketSize = AJP_DEFAULT_PACKET_SIZE): number {
  return maxPacketSize - 8;
}

/** SEND_BODY_CHUNK packets for `data` (with the trailing NUL httpd expects), each ≤ `maxPacketSize`. */
export function sendBodyChunkPackets(data: Buffer, maxPacketSize = AJP_DEFAULT_PACKET_SIZE): Buffer[] {
  const max = maxChunkData(maxPacketSize);
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += max) {
    const part = data.subarray(i, i + max);
    const p = Buffer.allocUnsafe(part.length + 8);
    p[0] = 0x41;
    p[1] = 0x42;
    p.writeUInt16BE(part.length + 4, 2);
    p[4] = AJP_SEND_BODY_CHUNK;
    p.writeUInt16BE(part.length, 5);
    part.copy(p, 7);
    p[part.length + 7] = 0;
    out.push(p);
  }
  return out;
}

/** END_RESPONSE; `reuse` keeps the connection for the next request. */
export function endResponsePacket(reuse: boolean): Buffer {
  return packet(Buffer.from([AJP_END_RESPONSE, reuse ? 1 : 0]));
}

/** GET_BODY_CHUNK asking for up to `length` bytes. */
export function getBodyChunkPacket(length: number): Buffer {
  const p = Buffer.alloc(3);
  p[0] = AJP_GET_BODY_CHUNK;
  p.writeUInt16BE(length, 1);
  return packet(p);
}

/** CPONG_REPLY, the answer to CPING. */
export function cpongPacket(): Buffer {
  return packet(Buffer.from([AJP_CPONG_REPLY]));
}

// ----- the web server's side, for tests and tools -----

/** A web-server packet (`0x12 0x34`, length, payload). */
export function serverPacket(payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(4);
  head[0] = 0x12;
  head[1] = 0x34;
  head.writeUInt16BE(payload.length, 2);
  return Buffer.concat([head, payload]);
}

function requestString(s: string | null): Buffer {
  if (s === null) return Buffer.from([0xff, 0xff]);
  return ajpString(s);
}

/** Encodes a FORWARD_REQUEST as a web server would (headers by code where one exists). */
export function forwardRequestPayload(req: {
  method: string;
  protocol?: string;
  reqUri: string;
  remoteAddr?: string | null;
  remoteHost?: string | null;
  serverName?: string | null;
  serverPort?: number;
  isSsl?: boolean;
  headers?: ReadonlyArray<readonly [string, string]>;
  attributes?: ReadonlyArray<readonly [number, string | number] | readonly [0x0a, string, string]>;
}): Buffer {
  const methodCode = AJP_METHODS.indexOf(req.method);
  const parts: Buffer[] = [Buffer.from([AJP_FORWARD_REQUEST, methodCode > 0 ? methodCode : 0xff])];
  parts.push(
    requestString(req.protocol ?? 'HTTP/1.1'),
    requestString(req.reqUri),
    requestString(req.remoteAddr ?? '127.0.0.1'),
  );
  parts.push(requestString(req.remoteHost ?? null), requestString(req.serverName ?? 'localhost'));
  const port = Buffer.alloc(3);
  port.writeUInt16BE(req.serverPort ?? 80, 0);
  port[2] = req.isSsl ? 1 : 0;
  parts.push(port);
  const headers = req.headers ?? [];
  const n = Buffer.alloc(2);
  n.writeUInt16BE(headers.length, 0);
  parts.push(n);
  for (const [name, value] of headers) {
    const code = AJP_REQUEST_HEADERS.findIndex((h) => h && h.toLowerCase() === name.toLowerCase());
    if (code > 0) parts.push(Buffer.from([0xa0, code]));
    else parts.push(ajpString(name));
    parts.push(ajpString(value));
  }
  const attributes = [...(req.attributes ?? [])];
  if (methodCode <= 0) attributes.push([0x0d, req.method]);
  for (const attr of attributes) {
    parts.push(Buffer.from([attr[0]]));
    if (attr.length === 3) parts.push(ajpString(attr[1]), ajpString(attr[2]));
    else if (typeof attr[1] === 'number') {
      const v = Buffer.alloc(2);
      v.writeUInt16BE(attr[1], 0);
      parts.push(v);
    } else parts.push(ajpString(attr[1]));
  }
  parts.push(Buffer.from([0xff]));
  return Buffer.concat(parts);
}

/** A request-body data packet in the spec layout (int16 length + bytes). */
export function bodyPacket(data: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(data.length, 0);
  return serverPacket(data.length ? Buffer.concat([len, data]) : Buffer.alloc(0));
}

/** A container packet (`AB`, length, payload) cut from `buf` at `offset`, for clients and tests. */
export function readContainerFrame(buf: Buffer, offset: number): { payload: Buffer; next: number } | null {
  if (buf.length - offset < 4) return null;
  if (buf[offset] !== 0x41 || buf[offset + 1] !== 0x42) throw new Error('bad container packet magic');
  const length = buf.readUInt16BE(offset + 2);
  if (buf.length - offset - 4 < length) return null;
  return { payload: buf.subarray(offset + 4, offset + 4 + length), next: offset + 4 + length };
}
