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

/** Where one pair's name and value lie in the stream: filled in by {@link nextPair}, reused for every pair. */
interface PairBounds {
  nameStart: number;
  valueStart: number;
  end: number;
}

/**
 * Reads the two lengths at `offset` and checks the pair fits in `buf` (FastCGI §3.4): fills `pair`
 * and returns null, or returns why the stream is malformed. Each length is 1 byte below 128, else
 * 4 bytes with the top bit set.
 */
function nextPair(buf: Buffer, offset: number, pair: PairBounds): string | null {
  const length = buf.length;
  if (offset >= length) return 'name length cut short';
  let nameLength = buf[offset]!;
  if (nameLength & 0x80) {
    if (offset + 4 > length) return 'name length cut short';
    nameLength = buf.readUInt32BE(offset) & 0x7fffffff;
    offset += 4;
  } else offset += 1;
  if (offset >= length) return 'value length cut short';
  let valueLength = buf[offset]!;
  if (valueLength & 0x80) {
    if (offset + 4 > length) return 'value length cut short';
    valueLength = buf.readUInt32BE(offset) & 0x7fffffff;
    offset += 4;
  } else offset += 1;
  if (nameLength === 0) return 'empty parameter name';
  if (nameLength > length - offset || valueLength > length - offset - nameLength)
    return 'parameter runs past the end of the stream';
  pair.nameStart = offset;
  pair.valueStart = offset + nameLength;
  pair.end = offset + nameLength + valueLength;
  return null;
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
export function decodeNameValuePairs(
  buf: Buffer,
  limits: NameValueLimits = DEFAULT_NAME_VALUE_LIMITS,
): NameValueResult {
  if (buf.length > limits.maxBytes) return { ok: false, reason: `parameters exceed ${limits.maxBytes} bytes` };
  const pairs: Array<[string, Buffer]> = [];
  const pair: PairBounds = { nameStart: 0, valueStart: 0, end: 0 };
  let offset = 0;
  while (offset < buf.length) {
    const reason = nextPair(buf, offset, pair);
    if (reason !== null) return { ok: false, reason };
    if (pairs.length >= limits.maxPairs) return { ok: false, reason: `more than ${limits.maxPairs} parameters` };
    pairs.push([buf.toString('latin1', pair.nameStart, pair.valueStart), buf.subarray(pair.valueStart, pair.end)]);
    offset = pair.end;
  }
  return { ok: true, pairs };
}

/** Buffer's own slice-to-string methods: what `toString(encoding, start, end)` calls after checking its arguments. */
type FastSlices = { latin1Slice?(start: number, end: number): string; utf8Slice?(start: number, end: number): string };
const fast = Buffer.prototype as unknown as FastSlices;
const latin1 = fast.latin1Slice
  ? (b: Buffer, s: number, e: number) => (b as unknown as Required<FastSlices>).latin1Slice(s, e)
  : (b: Buffer, s: number, e: number) => b.toString('latin1', s, e);
const utf8 = fast.utf8Slice
  ? (b: Buffer, s: number, e: number) => (b as unknown as Required<FastSlices>).utf8Slice(s, e)
  : (b: Buffer, s: number, e: number) => b.toString('utf8', s, e);

/**
 * What {@link decodeParams} fills: a Map, or anything with the same `set` (cgi-params' CgiVariables,
 * which also takes whether the value is free of control characters, so it need not look again).
 */
export interface ParamsTarget {
  set(name: string, value: string, clean: boolean): unknown;
}

/** Result of {@link decodeParams}: the filled target, or why the stream is malformed. */
export type ParamsResult<T> = { ok: true; params: T } | { ok: false; reason: string };

const HTAB = 0x09;

/**
 * Decodes a complete PARAMS stream straight into strings (the fast path of the FastCGI channel),
 * with the same checks and limits as {@link decodeNameValuePairs}. `HTTP_*` values are decoded as
 * latin1 (what node:http does with header bytes), every other value as UTF-8. Each pair goes to
 * `into.set(name, value, clean)` in stream order, `clean` saying the value holds no control
 * character but HTAB (a Map keeps the last of duplicates). Pure apart from `into`; never throws.
 */
export function decodeParams(buf: Buffer, limits?: NameValueLimits): ParamsResult<Map<string, string>>;
export function decodeParams<T extends ParamsTarget>(buf: Buffer, limits: NameValueLimits, into: T): ParamsResult<T>;
export function decodeParams(
  buf: Buffer,
  limits: NameValueLimits = DEFAULT_NAME_VALUE_LIMITS,
  into: ParamsTarget = new Map<string, string>(),
): ParamsResult<ParamsTarget> {
  if (buf.length > limits.maxBytes) return { ok: false, reason: `parameters exceed ${limits.maxBytes} bytes` };
  const pair: PairBounds = { nameStart: 0, valueStart: 0, end: 0 };
  let text: string | undefined;
  let count = 0;
  let offset = 0;
  while (offset < buf.length) {
    const reason = nextPair(buf, offset, pair);
    if (reason !== null) return { ok: false, reason };
    if (++count > limits.maxPairs) return { ok: false, reason: `more than ${limits.maxPairs} parameters` };
    // One latin1 string of the whole stream, cut with cheap substrings; only a non-header value with
    // bytes above 0x7f needs its own UTF-8 decoding.
    text ??= latin1(buf, 0, buf.length);
    const { valueStart, end } = pair;
    const name = text.slice(pair.nameStart, valueStart);
    let high = false;
    let control = false;
    for (let i = valueStart; i < end; i++) {
      const c = buf[i]!;
      if (c < 0x20 || c >= 0x7f) {
        if (c >= 0x80) high = true;
        else if (c !== HTAB) control = true;
      }
    }
    const value =
      valueStart === end
        ? ''
        : !high || name.startsWith('HTTP_')
          ? text.slice(valueStart, end)
          : utf8(buf, valueStart, end);
    into.set(name, value, !control);
    offset = end;
  }
  return { ok: true, params: into };
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
