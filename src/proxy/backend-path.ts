// The request-target a reverse proxy sends its backend: the backend's base path, then the rest of the
// client's path normalised and confined below it, then the query.
import { HttpError } from '../errors.js';
import { encodePathSegment, isDotSegment } from '../request.js';

/** Path segments that percent-encoding leaves as they are (dot-segments are refused before). */
const PLAIN_SEGMENT = /^[A-Za-z0-9._~-]*$/;
/** NUL, CR, LF: refused in a decoded segment (SECURITY.md §1.1, §2.5; the backend may be a CGI gateway). */
const FORBIDDEN = /[\0\r\n]/;
/**
 * Where a backend may cut a decoded segment into more path: `/` and `\` (many servers decode `%2F`
 * and `%5C` and then resolve `..`), and `;` (Tomcat drops `;params`, so `..;x` is `..` there).
 */
const SUBSEGMENT = /[/\\;]/;

function refuse(message: string): HttpError {
  return new HttpError(400, message, { code: 'BAD_PROXY_PATH' });
}

/**
 * The backend request-target for the decoded `postpath` below a proxy whose backend path is `base`
 * (no trailing slash; `''` for the backend's root), followed by `?query` when there is one.
 *
 * The result never leaves `base` (SECURITY.md §1.1, §6.2): traversal matched on the decoded segments,
 * and this same form is forwarded, each segment percent-encoded again. It throws a 400 HttpError for
 * a segment that is a dot-segment, or would become one once the backend decodes and splits it (`..%2F`,
 * `..%5C`, `..;`), or that holds NUL, CR or LF. Empty segments inside the path are merged, as nginx's
 * `merge_slashes` does, so `//x` (read by some backends as a host) is never sent; a final empty
 * segment (a trailing slash) is kept.
 *
 * | base    | postpath               | query | target                  |
 * |---------|------------------------|-------|-------------------------|
 * | `/base` | `['x', 'y']`           |       | `/base/x/y`             |
 * | `/base` | `[]`                   |       | `/base`                 |
 * | `''`    | `[]` or `['']`         |       | `/`                     |
 * | `/base` | `['', 'x', '', 'y', '']` |     | `/base/x/y/`            |
 * | `/base` | `['a b', 'c/d']`       | `q=1` | `/base/a%20b/c%2Fd?q=1` |
 * | any     | `['..']`, `['.']`, `['..\\x']`, `['..;x']`, `['a\0']` | | 400 |
 *
 * Pinned by test/proxy/backend-path.test.ts and test/proxy/confinement.test.ts (real nginx behind).
 */
export function backendTarget(base: string, postpath: readonly string[], query: string): string {
  let rest = '';
  const last = postpath.length - 1;
  for (let i = 0; i <= last; i++) {
    const segment = postpath[i]!;
    if (segment === '') {
      if (i === last) rest += '/';
      continue;
    }
    if (PLAIN_SEGMENT.test(segment)) {
      if (isDotSegment(segment)) throw refuse('The proxied path holds a "." or ".." segment.');
      rest += `/${segment}`;
      continue;
    }
    if (FORBIDDEN.test(segment)) throw refuse('The proxied path holds NUL, CR or LF.');
    if (SUBSEGMENT.test(segment) && segment.split(SUBSEGMENT).some(isDotSegment)) {
      throw refuse('The proxied path holds a "." or ".." segment.');
    }
    rest += `/${encodePathSegment(segment)}`;
  }
  const path = base + rest || '/';
  return query ? `${path}?${query}` : path;
}
