// Content types for static files: the mime-types database (mime-db), per-File overrides, a safe
// default, and the Content-Encoding that `.gz`/`.bz2` suffixes imply (as Twisted's File does).
import { createRequire } from 'node:module';

type MimeTypes = typeof import('mime-types');
let mimeDb: MimeTypes | null = null;

/**
 * mime-types and its database load on first use, not at import: parsing the database is a large part
 * of start-up, which `trellis cgi` pays on every request even when no file is served.
 */
function mimeTypes(): MimeTypes {
  mimeDb ??= createRequire(import.meta.url)('mime-types') as MimeTypes;
  return mimeDb;
}

/** Default type for unknown extensions (SECURITY.md §1.5); sent with `X-Content-Type-Options: nosniff`. */
export const DEFAULT_TYPE = 'application/octet-stream';

/** Suffixes that make a file a compressed representation of its inner name (Twisted `contentEncodings`). */
export const CONTENT_ENCODINGS: Readonly<Record<string, string>> = { '.gz': 'gzip', '.bz2': 'bzip2' };

/** What a file name says about its representation. */
export interface FileType {
  /** Full Content-Type value, with `charset=utf-8` for text types. */
  type: string;
  /** Content-Encoding the name implies (`x.txt.gz` → gzip), or null. */
  encoding: string | null;
}

/** Options of {@link typeForName}. */
export interface TypeOptions {
  /** Extra or overriding mappings, extension with dot, lower case (`.md` → `text/markdown`). */
  overrides?: ReadonlyMap<string, string> | undefined;
  /** Type for unknown extensions. Default `application/octet-stream`. */
  defaultType?: string | undefined;
}

/** Lower-case extension with its dot (`.html`), or '' for none; a leading dot alone is not one. */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot).toLowerCase();
}

/** Adds `charset=utf-8` to text types that do not name a charset. */
export function withCharset(type: string): string {
  if (/;\s*charset=/i.test(type)) return type;
  return mimeTypes().contentType(type) || type;
}

/**
 * The Content-Type (and implied Content-Encoding) for a file name.
 *
 * | name          | result                                           |
 * |---------------|--------------------------------------------------|
 * | `a.html`      | `text/html; charset=utf-8`                       |
 * | `a.png`       | `image/png`                                      |
 * | `a.unknown`   | `application/octet-stream` (or `defaultType`)    |
 * | `a.txt.gz`    | `text/plain; charset=utf-8`, encoding gzip       |
 * | `a.gz`        | `application/gzip`                               |
 */
export function typeForName(name: string, options: TypeOptions = {}): FileType {
  let base = name;
  let encoding: string | null = null;
  const ext = extensionOf(name);
  const enc = CONTENT_ENCODINGS[ext];
  if (enc !== undefined) {
    const inner = name.slice(0, -ext.length);
    if (extensionOf(inner) !== '') {
      base = inner;
      encoding = enc;
    }
  }
  const baseExt = extensionOf(base);
  const override = baseExt ? options.overrides?.get(baseExt) : undefined;
  const found = override ?? (baseExt ? mimeTypes().lookup(baseExt) : false);
  const type = found || options.defaultType || DEFAULT_TYPE;
  return { type: withCharset(type), encoding };
}
