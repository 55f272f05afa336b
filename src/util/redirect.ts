// Redirects: the redirectTo helper and the Redirect / ParentRedirect resources.
import { redirectHtml } from '../pages.js';
import { Resource, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';

/**
 * Answers with a redirect to `url` (302 by default) and returns the HTML body to send, the URL escaped.
 *
 * ```ts
 * GET(request) { return redirectTo('/login', request); }
 * ```
 */
export function redirectTo(url: string, request: Request, code = 302): string {
  request.redirect(url, code);
  request.setHeader('Content-Type', 'text/html; charset=utf-8');
  return redirectHtml(url);
}

/** A leaf that redirects every request to a fixed URL (302 unless `code` is given). */
export class Redirect extends Resource {
  override isLeaf = true;
  readonly url: string;
  readonly code: number;

  constructor(url: string, options: { code?: number } = {}) {
    super();
    this.url = url;
    this.code = options.code ?? 302;
  }

  override render(request: Request): RenderResult {
    return redirectTo(this.url, request, this.code);
  }
}

/** Redirects to the absolute URL of the parent directory (Twisted's ParentRedirect). */
export class ParentRedirect extends Resource {
  override isLeaf = true;

  override render(request: Request): RenderResult {
    return redirectTo(request.URLPath().here().toString(), request);
  }
}
