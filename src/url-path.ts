// URLPath: an absolute URL with helpers to move around it (Twisted's twisted.python.urlpath).

/**
 * An absolute URL split into scheme, authority, path segments and query, with navigation helpers.
 *
 * ```ts
 * const here = request.URLPath();          // http://example.com/app/page
 * here.child('edit').toString();           // http://example.com/app/page/edit
 * here.sibling('other').toString();        // http://example.com/app/other
 * here.click('../x?y=1').toString();       // http://example.com/x?y=1
 * ```
 */
export class URLPath {
  readonly scheme: string;
  readonly netloc: string;
  /** Path segments, percent-encoded, starting after the leading slash. */
  readonly segments: readonly string[];
  readonly query: string;

  constructor(scheme: string, netloc: string, segments: readonly string[], query = '') {
    this.scheme = scheme;
    this.netloc = netloc;
    this.segments = segments;
    this.query = query;
  }

  /** Parses an absolute URL. */
  static fromString(url: string): URLPath {
    const u = new URL(url);
    return new URLPath(u.protocol.slice(0, -1), u.host, u.pathname.slice(1).split('/'), u.search.slice(1));
  }

  get path(): string {
    return `/${this.segments.join('/')}`;
  }

  /** The URL one level down: `child('x')` of `/a/b` is `/a/b/x` (and of `/a/` is `/a/x`). */
  child(segment: string): URLPath {
    const base = this.segments.at(-1) === '' ? this.segments.slice(0, -1) : this.segments;
    return new URLPath(this.scheme, this.netloc, [...base, encodeURIComponent(segment)]);
  }

  /** The URL beside this one: `sibling('x')` of `/a/b` is `/a/x`. */
  sibling(segment: string): URLPath {
    return new URLPath(this.scheme, this.netloc, [...this.segments.slice(0, -1), encodeURIComponent(segment)]);
  }

  /** The containing directory: `here()` of `/a/b` is `/a/`, of `/a/` is `/a/`. */
  here(): URLPath {
    if (this.segments.at(-1) === '') return new URLPath(this.scheme, this.netloc, this.segments);
    return new URLPath(this.scheme, this.netloc, [...this.segments.slice(0, -1), '']);
  }

  /** The parent directory: `parent()` of `/a/b/c` is `/a/`. */
  parent(): URLPath {
    const here = this.here();
    const segs = here.segments.slice(0, -1);
    return new URLPath(this.scheme, this.netloc, segs.length ? [...segs.slice(0, -1), ''] : ['']);
  }

  /** Resolves a relative reference against this URL, as a browser follows a link. */
  click(href: string): URLPath {
    return URLPath.fromString(new URL(href, this.toString()).toString());
  }

  toString(): string {
    return `${this.scheme}://${this.netloc}${this.path}${this.query ? `?${this.query}` : ''}`;
  }
}
