// Where a gateway mounts a site: the mount point's segments and the split of a request path on it,
// shared by the CGI-family gateways (`cgi-params.ts`: FastCGI, SCGI, CGI) and AJP.

/**
 * Splits a decoded path (a configured mount, SCRIPT_NAME) into segments; `""` and `/` are the root.
 *
 * | path        | segments       |
 * |-------------|----------------|
 * | `""`, `/`   | `[]`           |
 * | `/app/`     | `['app']`      |
 * | `/a/b`      | `['a', 'b']`   |
 */
export function mountSegments(path: string): string[] {
  let start = 0;
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47 /* / */) end--;
  while (start < end && path.charCodeAt(start) === 47) start++;
  return start === end ? [] : path.slice(start, end).split('/');
}

/** Whether the decoded request segments begin with every segment of `mount`. */
export function isUnder(segments: readonly string[], mount: readonly string[]): boolean {
  if (mount.length > segments.length) return false;
  for (let i = 0; i < mount.length; i++) if (segments[i] !== mount[i]) return false;
  return true;
}

/**
 * How many leading segments of a request path are the mount (its prepath): all of `mount` when the
 * path is under it, else 0 (the request is served from the root). A request for the bare mount
 * (`/app`) has nothing left to traverse.
 */
export function mountedLength(segments: readonly string[], mount: readonly string[]): number {
  return isUnder(segments, mount) ? mount.length : 0;
}
