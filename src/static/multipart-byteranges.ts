// multipart/byteranges bodies (RFC 9110 §14.6): the part framing for several ranges of one
// representation, with the exact total length known before the first byte is sent.
import { randomBytes } from 'node:crypto';
import { contentRange, type ByteRange } from './range.js';

/** The framing of a multipart/byteranges body: write `parts[i].head`, then the range's bytes, ..., then `tail`. */
export interface MultipartPlan {
  /** The Content-Type header value, boundary included. */
  contentType: string;
  parts: Array<{ head: Buffer; range: ByteRange }>;
  tail: Buffer;
  /** Exact body length: every head, every range and the tail. */
  length: number;
}

/** A fresh boundary: 32 hex digits, which cannot occur by chance in the parts' headers. */
export function newBoundary(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Plans a multipart/byteranges body for `ranges` of a `size`-byte representation of `type`.
 *
 * ```
 * --B\r\nContent-Type: T\r\nContent-Range: bytes 0-9/100\r\n\r\n<10 bytes>\r\n--B\r\n...\r\n--B--\r\n
 * ```
 */
export function planMultipart(
  ranges: readonly ByteRange[],
  size: number,
  type: string,
  boundary = newBoundary(),
): MultipartPlan {
  const parts = ranges.map((range, i) => ({
    head: Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: ${contentRange(range, size)}\r\n\r\n`,
      'latin1',
    ),
    range,
  }));
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  let length = tail.length;
  for (const p of parts) length += p.head.length + (p.range.end - p.range.start + 1);
  return { contentType: `multipart/byteranges; boundary=${boundary}`, parts, tail, length };
}
