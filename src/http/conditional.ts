// Conditional requests (RFC 9110 §13): entity tags, dates, and the precondition decision.

/** Most entity tags honoured in one If-Match / If-None-Match list; longer lists are ignored (SECURITY.md §1.6). */
export const MAX_ETAG_LIST = 100;

/** A parsed entity tag (RFC 9110 §8.8.3). */
export interface EntityTag {
  weak: boolean;
  /** The opaque tag including its quotes, e.g. `"abc"`. */
  opaque: string;
}

const ETAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;

/** Parses one entity tag such as `W/"abc"`; returns null when malformed. */
export function parseETag(text: string): EntityTag | null {
  const m = ETAG.exec(text.trim());
  if (!m) return null;
  return { weak: m[1] !== undefined, opaque: m[2]! };
}

/** Formats an entity tag; `tag` may be given bare (`abc`) or already quoted. */
export function formatETag(tag: string, weak = false): string {
  const quoted = tag.startsWith('"') || tag.startsWith('W/"') ? tag : `"${tag}"`;
  if (quoted.startsWith('W/')) return quoted;
  return weak ? `W/${quoted}` : quoted;
}

/**
 * Parses an If-Match / If-None-Match value.
 *
 * | input            | result                  |
 * |------------------|-------------------------|
 * | `*`              | `'*'`                   |
 * | `"a", W/"b"`     | two tags                |
 * | malformed entry  | null (header ignored)   |
 * | > 100 entries    | null (header ignored)   |
 */
export function parseETagList(header: string): '*' | EntityTag[] | null {
  const trimmed = header.trim();
  if (trimmed === '*') return '*';
  const tags: EntityTag[] = [];
  // Tags may not contain commas inside quotes per the grammar, so splitting on commas is exact.
  for (const part of trimmed.split(',')) {
    if (part.trim() === '') continue;
    const tag = parseETag(part);
    if (!tag) return null;
    tags.push(tag);
    if (tags.length > MAX_ETAG_LIST) return null;
  }
  return tags.length ? tags : null;
}

/** Strong comparison: both strong and the same opaque tag (§8.8.3.2). */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** Weak comparison: same opaque tag, weakness ignored (§8.8.3.2). */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

/** Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime); returns milliseconds or null. */
export function parseHttpDate(text: string): number | null {
  const value = text.split(';')[0]!.trim();
  if (!/^[A-Za-z]{3}/.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** What the request's conditional headers say. */
export interface Preconditions {
  method: string;
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
}

/** The validators the resource knows so far. */
export interface Validators {
  etag?: string | undefined;
  /** Last modification time in milliseconds, already rounded to whole seconds. */
  lastModified?: number | undefined;
}

/**
 * Evaluates preconditions in the order of RFC 9110 §13.2.2 and returns the status to answer:
 * 200 (go on), 304 (Not Modified) or 412 (Precondition Failed).
 *
 * | headers                                   | validators          | result          |
 * |-------------------------------------------|---------------------|-----------------|
 * | If-Match: "a"                             | etag "b"            | 412             |
 * | If-Unmodified-Since: T-1                  | lastModified T      | 412             |
 * | If-None-Match: W/"a" (GET)                | etag "a"            | 304             |
 * | If-None-Match: "a" (POST)                 | etag "a"            | 412             |
 * | If-Modified-Since: T (GET), no INM        | lastModified T      | 304             |
 * | If-None-Match present, etag not yet known | lastModified T      | 200 (IMS waits) |
 */
export function evaluatePreconditions(req: Preconditions, v: Validators): 200 | 304 | 412 {
  const current = v.etag === undefined ? null : parseETag(v.etag);
  const safe = req.method === 'GET' || req.method === 'HEAD';

  if (req.ifMatch !== undefined) {
    const list = parseETagList(req.ifMatch);
    if (list === '*') {
      // A representation exists whenever validators were set.
    } else if (list && current) {
      if (!list.some((t) => strongMatch(t, current))) return 412;
    } else if (list && !current && v.lastModified !== undefined) {
      return 412;
    }
  } else if (req.ifUnmodifiedSince !== undefined && v.lastModified !== undefined) {
    const since = parseHttpDate(req.ifUnmodifiedSince);
    if (since !== null && v.lastModified > since) return 412;
  }

  if (req.ifNoneMatch !== undefined) {
    const list = parseETagList(req.ifNoneMatch);
    if (list !== null) {
      const matched = list === '*' || (current !== null && list.some((t) => weakMatch(t, current)));
      if (matched) return safe ? 304 : 412;
      return 200;
    }
  }
  if (req.ifNoneMatch === undefined && safe && req.ifModifiedSince !== undefined && v.lastModified !== undefined) {
    const since = parseHttpDate(req.ifModifiedSince);
    if (since !== null && v.lastModified <= since) return 304;
  }
  return 200;
}

/**
 * Evaluates If-Range (RFC 9110 §13.1.5): whether a Range header may be honoured. An entity tag must
 * match strongly (a weak tag never does); a date must equal Last-Modified exactly.
 *
 * | If-Range            | validators            | result |
 * |---------------------|-----------------------|--------|
 * | absent              | any                   | true   |
 * | `"a"`               | etag `"a"`            | true   |
 * | `"a"`               | etag `"b"`            | false  |
 * | `W/"a"`             | etag `W/"a"` or `"a"` | false  |
 * | date = T            | lastModified T        | true   |
 * | date ≠ T, or no LM  | any                   | false  |
 * | malformed           | any                   | false  |
 */
export function evaluateIfRange(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const text = ifRange.trim();
  if (text.startsWith('"') || text.startsWith('W/')) {
    const tag = parseETag(text);
    const current = v.etag === undefined ? null : parseETag(v.etag);
    return tag !== null && current !== null && strongMatch(tag, current);
  }
  const date = parseHttpDate(text);
  return date !== null && v.lastModified !== undefined && date === v.lastModified;
}
