// The SCGI request header (Neil Schemenauer's SCGI spec): a netstring `LEN:NAME\0VALUE\0...,` whose
// first pair is CONTENT_LENGTH and which must carry SCGI=1. Pure, bounded, never throws.
import { isContentLength } from '../../http/syntax.js';

/** Limits on one SCGI header (SECURITY.md §5.2). */
export interface ScgiHeaderLimits {
  /** Most bytes in the netstring payload. Default 64 KiB. */
  maxBytes: number;
  /** Most pairs. Default 1000. */
  maxPairs: number;
}

export const DEFAULT_SCGI_LIMITS: ScgiHeaderLimits = { maxBytes: 64 * 1024, maxPairs: 1000 };

/** A parsed SCGI header. */
export interface ScgiHeader {
  /** Every pair in order (CONTENT_LENGTH first). Values stay bytes for the caller to decode. */
  pairs: Array<[string, Buffer]>;
  /** CONTENT_LENGTH: exactly this many body bytes follow the header. */
  contentLength: number;
  /** Offset of the first body byte in the buffer given. */
  bodyOffset: number;
}

/** Result of {@link parseScgiHeader}. */
export type ScgiParseResult =
  | { kind: 'header'; header: ScgiHeader }
  | { kind: 'incomplete' }
  | { kind: 'error'; reason: string };

const DIGIT_0 = 0x30;
const COLON = 0x3a;
const COMMA = 0x2c;

/**
 * Parses the netstring header at the start of `buf`.
 *
 * | input                                                     | result                           |
 * |-----------------------------------------------------------|----------------------------------|
 * | `24:CONTENT_LENGTH\0` `0\0SCGI\0` `1\0,`                  | header, contentLength 0          |
 * | `24:CONTENT_LE` (cut anywhere)                            | `incomplete`                     |
 * | leading zero (`024:`), no digits, non-digit before `:`    | `error`                          |
 * | length over `maxBytes`                                    | `error` (known from the digits)  |
 * | no `,` after the payload                                  | `error`                          |
 * | first name not CONTENT_LENGTH, or not decimal             | `error`                          |
 * | SCGI missing or not `1`                                   | `error`                          |
 * | empty name, duplicate name, pair without its NULs         | `error`                          |
 * | more than `maxPairs` pairs                                | `error`                          |
 */
export function parseScgiHeader(buf: Buffer, limits: ScgiHeaderLimits = DEFAULT_SCGI_LIMITS): ScgiParseResult {
  const maxDigits = String(limits.maxBytes).length;
  let length = 0;
  let i = 0;
  for (; ; i++) {
    if (i >= buf.length) return { kind: 'incomplete' };
    const c = buf[i]!;
    if (c === COLON) break;
    if (c < DIGIT_0 || c > DIGIT_0 + 9)
      return { kind: 'error', reason: 'the netstring length is not a decimal number' };
    if (i === 1 && buf[0] === DIGIT_0) return { kind: 'error', reason: 'the netstring length has a leading zero' };
    if (i >= maxDigits) return { kind: 'error', reason: `the header is larger than ${limits.maxBytes} bytes` };
    length = length * 10 + (c - DIGIT_0);
  }
  if (i === 0) return { kind: 'error', reason: 'the netstring has no length' };
  if (length > limits.maxBytes) return { kind: 'error', reason: `the header is larger than ${limits.maxBytes} bytes` };
  const start = i + 1;
  const end = start + length;
  if (buf.length <= end) return { kind: 'incomplete' };
  if (buf[end] !== COMMA) return { kind: 'error', reason: 'the netstring does not end with ","' };

  const pairs: Array<[string, Buffer]> = [];
  const seen = new Set<string>();
  let offset = start;
  while (offset < end) {
    const nameEnd = buf.indexOf(0, offset);
    if (nameEnd === -1 || nameEnd >= end) return { kind: 'error', reason: 'a header name is not NUL-terminated' };
    if (nameEnd === offset) return { kind: 'error', reason: 'empty header name' };
    const valueEnd = buf.indexOf(0, nameEnd + 1);
    if (valueEnd === -1 || valueEnd >= end) return { kind: 'error', reason: 'a header value is not NUL-terminated' };
    const name = buf.toString('latin1', offset, nameEnd);
    if (seen.has(name)) return { kind: 'error', reason: `duplicate header ${JSON.stringify(name)}` };
    if (pairs.length >= limits.maxPairs) return { kind: 'error', reason: `more than ${limits.maxPairs} headers` };
    seen.add(name);
    pairs.push([name, buf.subarray(nameEnd + 1, valueEnd)]);
    offset = valueEnd + 1;
  }
  const first = pairs[0];
  if (first?.[0] !== 'CONTENT_LENGTH') return { kind: 'error', reason: 'the first header must be CONTENT_LENGTH' };
  const cl = first[1].toString('latin1');
  if (!isContentLength(cl)) return { kind: 'error', reason: 'CONTENT_LENGTH is not a decimal number' };
  const scgi = pairs.find(([name]) => name === 'SCGI');
  if (scgi?.[1].toString('latin1') !== '1') return { kind: 'error', reason: 'SCGI=1 is missing' };
  return { kind: 'header', header: { pairs, contentLength: Number(cl), bodyOffset: end + 1 } };
}

/** Encodes pairs as an SCGI netstring header (for clients and tests). Strings are UTF-8. */
export function encodeScgiHeader(pairs: ReadonlyArray<readonly [string, string | Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of pairs) {
    parts.push(
      Buffer.from(name, 'latin1'),
      Buffer.from([0]),
      typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
      Buffer.from([0]),
    );
  }
  const payload = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(',')]);
}
