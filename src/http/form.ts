// Query strings and form bodies (application/x-www-form-urlencoded, multipart/form-data) into args.
import type { Readable } from 'node:stream';
import { HttpError } from '../errors.js';

/** Argument map: name → every value, in order. */
export type Args = Map<string, string[]>;

/** An uploaded file from a multipart body, held in memory (bounded by the body limit). */
export interface UploadedFile {
  field: string;
  filename: string;
  mimeType: string;
  data: Buffer;
}

function decodeComponent(text: string): string {
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Malformed escapes stay as they are rather than failing the request.
    return spaced;
  }
}

/**
 * Parses a query string (or urlencoded body) into `args`. Only `&` separates pairs: Twisted's `;`
 * separator invites parameter cloaking, so it is not one. `+` is a space; blank values are kept.
 *
 * | input        | result                   |
 * |--------------|--------------------------|
 * | `a=1&a=2`    | a → ['1', '2']           |
 * | `a+b=c%20d`  | 'a b' → ['c d']          |
 * | `flag&x=`    | flag → [''], x → ['']    |
 * | `a=1;b=2`    | a → ['1;b=2']            |
 */
export function parseQuery(query: string, into: Args = new Map(), maxFields = 1000): Args {
  if (!query) return into;
  let count = 0;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    if (++count > maxFields)
      throw new HttpError(413, `Too many form fields (more than ${maxFields}).`, { code: 'TOO_MANY_FIELDS' });
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1));
    const list = into.get(name);
    if (list) list.push(value);
    else into.set(name, [value]);
  }
  return into;
}

/** Limits for {@link parseMultipart}. */
export interface MultipartLimits {
  maxBytes: number;
  maxFields: number;
  maxFiles: number;
}

/**
 * Parses a multipart/form-data body with busboy: fields go into `args`, files are returned.
 * A malformed body is a 400; past the limits a 413.
 */
export async function parseMultipart(
  contentType: string,
  body: Readable,
  args: Args,
  limits: MultipartLimits,
): Promise<UploadedFile[]> {
  const { default: busboy } = await import('busboy');
  return new Promise<UploadedFile[]>((resolve, reject) => {
    let parser: ReturnType<typeof busboy>;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        limits: {
          fileSize: limits.maxBytes,
          fields: limits.maxFields,
          files: limits.maxFiles,
          parts: limits.maxFields + limits.maxFiles,
        },
        defParamCharset: 'utf8',
      });
    } catch (err) {
      reject(new HttpError(400, 'Malformed multipart/form-data content type.', { code: 'BAD_MULTIPART', cause: err }));
      return;
    }
    const files: UploadedFile[] = [];
    let failed = false;
    const fail = (error: HttpError) => {
      if (failed) return;
      failed = true;
      body.unpipe(parser);
      body.resume();
      reject(error);
    };
    parser.on('field', (name, value, info) => {
      if (info.nameTruncated || info.valueTruncated)
        return fail(new HttpError(413, 'A form field is too large.', { code: 'FIELD_TOO_LARGE' }));
      const list = args.get(name);
      if (list) list.push(value);
      else args.set(name, [value]);
    });
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(new HttpError(413, 'An uploaded file is too large.', { code: 'FILE_TOO_LARGE' })));
      stream.on('end', () => {
        files.push({ field, filename: info.filename ?? '', mimeType: info.mimeType, data: Buffer.concat(chunks) });
      });
    });
    parser.on('fieldsLimit', () => fail(new HttpError(413, 'Too many form fields.', { code: 'TOO_MANY_FIELDS' })));
    parser.on('filesLimit', () => fail(new HttpError(413, 'Too many uploaded files.', { code: 'TOO_MANY_FILES' })));
    parser.on('partsLimit', () => fail(new HttpError(413, 'Too many form parts.', { code: 'TOO_MANY_PARTS' })));
    parser.on('error', (err) =>
      fail(new HttpError(400, 'Malformed multipart/form-data body.', { code: 'BAD_MULTIPART', cause: err })),
    );
    parser.on('close', () => {
      if (!failed) resolve(files);
    });
    body.on('error', (err) =>
      fail(err instanceof HttpError ? err : new HttpError(400, 'The request body could not be read.', { cause: err })),
    );
    body.pipe(parser);
  });
}
