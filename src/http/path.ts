// The path of a request-target: percent-encoding a segment or a path, splitting a raw path into decoded
// segments, and the dot-segment rule (RFC 3986 §3.3).

/** Percent-encodes a path segment, leaving the characters RFC 3986 §3.3 allows in a segment. */
export function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(3A|40|24|26|2B|2C|3B|3D)/g, (m) => decodeURIComponent(m));
}

/**
 * The path of decoded `segments`, the inverse of {@link splitPath}: each segment percent-encoded,
 * all joined after a leading `/`.
 *
 * | segments           | path          |
 * |--------------------|---------------|
 * | `['a', 'b c']`     | `/a/b%20c`    |
 * | `['~alice', '']`   | `/~alice/`    |
 * | `['a/b']`          | `/a%2Fb`      |
 * | `[]`               | `/`           |
 */
export function encodePath(segments: readonly string[]): string {
  return `/${segments.map(encodePathSegment).join('/')}`;
}

/**
 * Splits a raw path into decoded segments: each is percent-decoded once, `%2F` stays inside its
 * segment. Returns null for invalid percent-escapes or invalid UTF-8 (the Site answers 400).
 *
 * | path             | segments         |
 * |------------------|------------------|
 * | `a/b`            | `['a', 'b']`     |
 * | `a/`             | `['a', '']`      |
 * | `''`             | `['']`           |
 * | `a%2Fb/%C3%BC`   | `['a/b', 'ü']`   |
 * | `%zz`, `%C3`     | null             |
 */
export function splitPath(path: string): string[] | null {
  return splitSegments(path, 0);
}

/**
 * Whether a decoded path segment is a dot-segment, `.` or `..` (RFC 3986 §3.3), in whatever spelling
 * it arrived: `%2e%2e` and `.%2E` decode to `..`. The Site refuses a request holding one (SECURITY.md
 * §1.1); see `Site.handle`.
 */
export function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/** `splitPath(path.slice(start))` without the copy (a Request splits its path from after the `/`). A loop of `indexOf` is several times faster than `split('/')` here. */
export function splitSegments(path: string, start: number): string[] | null {
  const decode = path.indexOf('%', start) !== -1;
  // One segment (`/name`), the most common path: a list of exactly one, not one grown by a push.
  if (!decode && path.indexOf('/', start) === -1) return [path.slice(start)];
  const out: string[] = [];
  for (;;) {
    const slash = path.indexOf('/', start);
    const seg = slash === -1 ? path.slice(start) : path.slice(start, slash);
    if (decode && seg.indexOf('%') !== -1) {
      try {
        out.push(decodeURIComponent(seg));
      } catch {
        return null;
      }
    } else {
      out.push(seg);
    }
    if (slash === -1) return out;
    start = slash + 1;
  }
}
