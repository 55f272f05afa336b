// FastCGI name-value pairs (spec §3.4), as carried by PARAMS and GET_VALUES: pure, bounded decoding
// and encoding, with both length forms (1 byte below 128, else 4 bytes with the top bit set).

/** Limits on one PARAMS stream (SECURITY.md §5.2). */
export interface NameValueLimits {
  /** Most bytes in the whole stream. Default 64 KiB. */
  maxBytes: number;
  /** Most pairs. Default 1000. */
  maxPairs: number;
}

export const DEFAULT_NAME_VALUE_LIMITS: NameValueLimits = { maxBytes: 64 * 1024, maxPairs: 1000 };

/** Result of {@link decodeNameValuePairs}: the pairs in order, or why the stream is malformed. */
export type NameValueResult = { ok: true; pairs: Array<[string, Buffer]> } | { ok: false; reason: string };

/** Reads a length at `offset`: [length, bytes used], or null when the stream ends inside it. */
function readLength(buf: Buffer, offset: number): [number, number] | null {
  if (offset >= buf.length) return null;
  const first = buf[offset]!;
  if ((first & 0x80) === 0) return [first, 1];
  if (offset + 4 > buf.length) return null;
  return [buf.readUInt32BE(offset) & 0x7fffffff, 4];
}

/** Where one pair's name and value lie in the stream, or why it is malformed. */
type PairBounds = { nameStart: number; valueStart: number; end: number } | { reason: string };

/** Reads the two lengths at `offset` and checks the pair fits in `buf` (FastCGI §3.4). */
function nextPair(buf: Buffer, offset: number): PairBounds {
  const nameLen = readLength(buf, offset);
  if (!nameLen) return { reason: 'name length cut short' };
  offset += nameLen[1];
  const valueLen = readLength(buf, offset);
  if (!valueLen) return { reason: 'value length cut short' };
  offset += valueLen[1];
  if (nameLen[0] === 0) return { reason: 'empty parameter name' };
  if (nameLen[0] > buf.length - offset || valueLen[0] > buf.length - offset - nameLen[0]) {
    return { reason: 'parameter runs past the end of the stream' };
  }
  return { nameStart: offset, valueStart: offset + nameLen[0], end: offset + nameLen[0] + valueLen[0] };
}

/**
 * Decodes a complete name-value stream (the concatenated content of every PARAMS record: pairs may
 * straddle records). Names are ASCII text (decoded as latin1); values stay bytes, for the caller to
 * decode. Pure; never throws.
 *
 * | input                                        | result                              |
 * |----------------------------------------------|-------------------------------------|
 * | `03 01 'FOO' 'x'`                            | `[['FOO', <x>]]`                    |
 * | `80 00 00 03 ...` (4-byte form)              | same as the 1-byte form             |
 * | a stream longer than `maxBytes`              | `{ ok: false }`                     |
 * | more than `maxPairs` pairs                   | `{ ok: false }`                     |
 * | a length running past the end, empty name    | `{ ok: false }`                     |
 */
export function decodeNameValuePairs(buf: Buffer, limits: NameValueLimits = DEFAULT_NAME_VALUE_LIMITS): NameValueResult {
  if (buf.length > limits.maxBytes) return { ok: false, reason: `parameters exceed ${limits.maxBytes} bytes` };
  const pairs: Array<[string, Buffer]> = [];
  let offset = 0;
  while (offset < buf.length) {
    const pair = nextPair(buf, offset);
    if ('reason' in pair) return { ok: false, reason: pair.reason };
    if (pairs.length >= limits.maxPairs) return { ok: false, reason: `more than ${limits.maxPairs} parameters` };
    pairs.push([buf.toString('latin1', pair.nameStart, pair.valueStart), buf.subarray(pair.valueStart, pair.end)]);
    offset = pair.end;
  }
  return { ok: true, pairs };
}

/** Buffer's own slice-to-string methods: what `toString(encoding, start, end)` calls after checking its arguments. */
type FastSlices = { latin1Slice?(start: number, end: number): string; utf8Slice?(start: number, end: number): string };
const fast = Buffer.prototype as unknown as FastSlices;
const latin1 = fast.latin1Slice ? (b: Buffer, s: number, e: number) => (b as unknown as Required<FastSlices>).latin1Slice(s, e) : (b: Buffer, s: number, e: number) => b.toString('latin1', s, e);
const utf8 = fast.utf8Slice ? (b: Buffer, s: number, e: number) => (b as unknown as Required<FastSlices>).utf8Slice(s, e) : (b: Buffer, s: number, e: number) => b.toString('utf8', s, e);

function isAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! > 0x7f) return false;
  return true;
}

/**
 * Decodes a complete PARAMS stream straight into strings (the fast path of the FastCGI channel),
 * with the same checks and limits as {@link decodeNameValuePairs}. `HTTP_*` values are decoded as
 * latin1 (what node:http does with header bytes), every other value as UTF-8; a later duplicate
 * replaces an earlier one.
 */
export function decodeParams(buf: Buffer, limits: NameValueLimits = DEFAULT_NAME_VALUE_LIMITS): { ok: true; params: Map<string, string> } | { ok: false; reason: string } {
  if (buf.length > limits.maxBytes) return { ok: false, reason: `parameters exceed ${limits.maxBytes} bytes` };
  const params = new Map<string, string>();
  let text: string | undefined;
  let count = 0;
  let offset = 0;
  while (offset < buf.length) {
    const pair = nextPair(buf, offset);
    if ('reason' in pair) return { ok: false, reason: pair.reason };
    if (++count > limits.maxPairs) return { ok: false, reason: `more than ${limits.maxPairs} parameters` };
    // One latin1 string of the whole stream, cut with cheap substrings; only a non-header value with
    // bytes above 0x7f needs its own UTF-8 decoding.
    text ??= latin1(buf, 0, buf.length);
    const name = text.slice(pair.nameStart, pair.valueStart);
    const { valueStart, end } = pair;
    let value: string;
    if (valueStart === end) value = '';
    else if (name.startsWith('HTTP_') || isAscii(buf, valueStart, end)) value = text.slice(valueStart, end);
    else value = utf8(buf, valueStart, end);
    params.set(name, value);
    offset = end;
  }
  return { ok: true, params };
}

function lengthBytes(length: number): Buffer {
  if (length < 128) return Buffer.from([length]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((length | 0x80000000) >>> 0);
  return b;
}

/** Encodes pairs (names and values as given, strings as UTF-8), choosing the short length form when it fits. */
export function encodeNameValuePairs(pairs: ReadonlyArray<readonly [string, string | Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of pairs) {
    const n = Buffer.from(name, 'latin1');
    const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    parts.push(lengthBytes(n.length), lengthBytes(v.length), n, v);
  }
  return Buffer.concat(parts);
}
