// gzip and brotli encoder factories for EncodingResourceWrapper: each offers a ContentEncoder when
// the client accepts its coding.
import { brotliCompressSync, constants, createBrotliCompress, createGzip, gzipSync } from 'node:zlib';
import type { ContentEncoder, Request } from '../request.js';
import { shouldCompress } from './compressible.js';

/** Offers an encoder for one content coding. */
export interface EncoderFactory {
  /** The coding's token in Accept-Encoding / Content-Encoding, e.g. `gzip`. */
  readonly encoding: string;
  /** An encoder for this request (the client accepts the coding), or null. */
  encoderForRequest(request: Request): ContentEncoder | null;
}

/** Dynamic brotli quality: 4 for streams, 5 for whole bodies; higher costs far more CPU (SECURITY.md). */
const BROTLI_STREAM_QUALITY = 4;
const BROTLI_WHOLE_QUALITY = 5;

/** Marks the response as encoded if it is worth it; a strong ETag becomes weak, since the bytes differ. */
function acceptFor(encoding: string, request: Request, length: number | null): boolean {
  const candidate = {
    status: request.code,
    contentType: request.getResponseHeader('content-type'),
    contentEncoding: request.getResponseHeader('content-encoding'),
    cacheControl: request.getResponseHeader('cache-control'),
    contentRange: request.getResponseHeader('content-range'),
    length,
  };
  if (!shouldCompress(candidate)) return false;
  request.setHeader('Content-Encoding', encoding);
  const etag = request.getResponseHeader('etag');
  if (etag?.startsWith('"')) request.setHeader('ETag', `W/${etag}`);
  return true;
}

/**
 * gzip (RFC 9110 §8.4.1.3) at level 6.
 *
 * ```ts
 * new EncodingResourceWrapper(resource, [new GzipEncoderFactory()]);
 * ```
 */
export class GzipEncoderFactory implements EncoderFactory {
  readonly encoding = 'gzip';
  readonly level: number;

  /** `level`: zlib level 1–9. Default 6. */
  constructor(options: { level?: number } = {}) {
    this.level = options.level ?? 6;
  }

  encoderForRequest(): ContentEncoder {
    const level = this.level;
    return {
      accept: (request, length) => acceptFor('gzip', request, length),
      encodeAll: (body) => gzipSync(body, { level }),
      createStream: () => createGzip({ level }),
    };
  }
}

/**
 * brotli (RFC 7932) at quality 4 for streamed bodies and 5 for whole ones.
 *
 * ```ts
 * new EncodingResourceWrapper(resource, [new BrotliEncoderFactory(), new GzipEncoderFactory()]);
 * ```
 */
export class BrotliEncoderFactory implements EncoderFactory {
  readonly encoding = 'br';

  encoderForRequest(): ContentEncoder {
    return {
      accept: (request, length) => acceptFor('br', request, length),
      encodeAll: (body) =>
        brotliCompressSync(body, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: BROTLI_WHOLE_QUALITY,
            [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
          },
        }),
      createStream: () => createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_STREAM_QUALITY } }),
    };
  }
}
