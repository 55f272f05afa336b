// The single-page-app fallback (`trellis web --single`): a path the tree does not have answers with
// the app's index page, so client-side routes (/users/42) load the app, while a missing asset
// (/app.js, /logo.png) stays a real 404.
import { NoResource, Resource, getChildForRequest, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';

/** Whether the last segment of `path` names no extension: `/users/42`, `/a/`, `/` do; `/app.js` does not. */
export function looksLikeRoute(path: readonly string[]): boolean {
  const last = path[path.length - 1] ?? '';
  return !last.includes('.');
}

/**
 * Serves `inner`, and `fallback` instead of a 404 (`NoResource`) for GET and HEAD requests whose last
 * path segment has no extension. Every other answer (files, listings, 403s, redirects) is the inner
 * tree's own; the fallback page is sent with status 200, as the app's router expects.
 *
 * ```ts
 * new Site(new SinglePageFallback(new File('dist'), new File('dist/index.html')));
 * ```
 */
export class SinglePageFallback extends Resource {
  override isLeaf = true;
  readonly inner: Resource;
  readonly fallback: Resource;

  constructor(inner: Resource, fallback: Resource) {
    super();
    this.inner = inner;
    this.fallback = fallback;
  }

  override render(request: Request): RenderResult {
    const target = getChildForRequest(this.inner, request);
    if (target instanceof Resource) return this.#renderFound(target, request);
    return target.then((found) => this.#renderFound(found, request));
  }

  #renderFound(target: Resource, request: Request): RenderResult {
    const routed =
      target instanceof NoResource &&
      (request.method === 'GET' || request.method === 'HEAD') &&
      looksLikeRoute(request.prepath);
    return (routed ? this.fallback : target).render(request);
  }
}
