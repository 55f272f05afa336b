// Which responses are worth compressing: the decision as a pure function of the response's headers.

/** Bodies smaller than this are sent as they are: compression would not pay for its headers. */
export const MIN_COMPRESS_BYTES = 1024;

/** Types that compress well beyond the text family. */
const COMPRESSIBLE_TYPES = new Set([
  'application/javascript',
  'application/ecmascript',
  'application/json',
  'application/xml',
  'application/xhtml+xml',
  'application/rss+xml',
  'application/atom+xml',
  'application/manifest+json',
  'application/ld+json',
  'application/geo+json',
  'application/wasm',
  'application/x-javascript',
  'application/x-sh',
  'application/x-tar',
  'image/svg+xml',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/bmp',
  'font/ttf',
  'font/otf',
  'application/vnd.ms-fontobject',
]);

/** What the compression decision looks at. */
export interface CompressionCandidate {
  status: number;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  cacheControl: string | undefined;
  contentRange: string | undefined;
  /** Body size when known. */
  length: number | null;
}

/**
 * Whether to compress a response.
 *
 * | response                                          | compress? |
 * |---------------------------------------------------|-----------|
 * | 200 text/html, 5 KiB                              | yes       |
 * | 200 text/css, unknown length (streamed)           | yes       |
 * | 200 text/plain, 100 bytes                         | no (tiny) |
 * | 200 image/png                                     | no        |
 * | 200 with Content-Encoding: gzip already           | no        |
 * | 206, 204, 304, or Content-Range present           | no        |
 * | Cache-Control: no-transform                       | no        |
 */
export function shouldCompress(c: CompressionCandidate): boolean {
  if (c.status === 204 || c.status === 206 || c.status === 304 || c.status < 200) return false;
  if (c.contentRange !== undefined) return false;
  if (c.contentEncoding !== undefined && c.contentEncoding.trim().toLowerCase() !== 'identity') return false;
  if (c.cacheControl !== undefined && /(^|,)\s*no-transform\s*(,|$)/i.test(c.cacheControl)) return false;
  if (c.length !== null && c.length < MIN_COMPRESS_BYTES) return false;
  const type = (c.contentType ?? 'text/html').split(';')[0]!.trim().toLowerCase();
  if (type.startsWith('text/')) return true;
  if (type.endsWith('+json') || type.endsWith('+xml')) return true;
  return COMPRESSIBLE_TYPES.has(type);
}
