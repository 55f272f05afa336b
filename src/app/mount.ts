// Where a mounted app sits: the public mount prefix, the path below it that the app routes on, and the
// public URL, all read from a Request at render time (after traversal and `--trust-proxy`).
import { encodePath, type Request } from '../request.js';

/** A request's paths as a mounted app sees them. */
export interface AppPaths {
  /** The public mount prefix, `''` at the root, else `/seg/seg` (Express's `req.baseUrl`). */
  base: string;
  /** The path and query below the mount, always starting with `/` (the app's `req.url`). */
  url: string;
  /** The public path and query, `base` included (Express's `req.originalUrl`). */
  original: string;
}

/**
 * The paths of `request` for an app mounted where traversal stopped: `prepath` (with a gateway's
 * SCRIPT_NAME and a trusted front end's prefix) is the mount, `postpath` what the app routes on.
 *
 * | prepath          | postpath      | query  | base         | url       | original            |
 * |------------------|---------------|--------|--------------|-----------|---------------------|
 * | `[]`             | `['a', 'b']`  | `x=1`  | `''`         | `/a/b?x=1`| `/a/b?x=1`          |
 * | `['sub','path']` | `['']`        |        | `/sub/path`  | `/`       | `/sub/path/`        |
 * | `['sub','path']` | `[]`          |        | `/sub/path`  | `/`       | `/sub/path`         |
 */
export function appPaths(request: Request): AppPaths {
  const query = request.queryString ? `?${request.queryString}` : '';
  const base = request.prepath.length ? encodePath(request.prepath) : '';
  // A root app sees the path as sent (encoding kept); a mounted one sees its segments re-encoded.
  const rawBelow =
    request.postpath.length === 0 ? '' : !base && request.path.length > 0 ? request.path : encodePath(request.postpath);
  return { base, url: (rawBelow || '/') + query, original: (base + rawBelow || '/') + query };
}

/** The public URL of `request` (scheme, host and port as `--trust-proxy` established them). */
export function publicUrl(request: Request): string {
  return request.origin() + appPaths(request).original;
}
