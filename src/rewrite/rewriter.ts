// RewriterResource (Twisted's twisted.web.rewrite): rules that edit a request's path before traversal
// goes on into a wrapped resource, with the tildeToUsers and alias rules.
import { Resource, type ChildResult, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';

/** A rewrite rule: edits `request.postpath` (and anything else on the request) in place. */
export type RewriteRule = (request: Request) => void;

/**
 * Wraps `resource` so that `rules` run before traversal continues into it (and before it renders).
 * Child resolution then goes on as if `resource` had been the child. Rules may throw an HttpError
 * to answer at once (AutoVHostURIRewrite's 400).
 *
 * ```ts
 * const root = new RewriterResource(site, tildeToUsers, alias('docs', 'static/manual'));
 * ```
 */
export class RewriterResource extends Resource {
  readonly resource: Resource;
  readonly rules: RewriteRule[];

  constructor(resource: Resource, ...rules: RewriteRule[]) {
    super();
    this.resource = resource;
    this.rules = rules;
  }

  #rewrite(request: Request): void {
    for (const rule of this.rules) rule(request);
  }

  override getChildWithDefault(segment: string, request: Request): ChildResult {
    // Traversal already moved `segment` onto prepath; give it back so the rules see the whole rest.
    if (request.prepath.at(-1) === segment) request.prepath.pop();
    request.postpath.unshift(segment);
    this.#rewrite(request);
    if (this.resource.isLeaf || request.postpath.length === 0) return this.resource;
    const next = request.postpath.shift()!;
    request.prepath.push(next);
    return this.resource.getChildWithDefault(next, request);
  }

  override render(request: Request): RenderResult {
    this.#rewrite(request);
    return this.resource.render(request);
  }
}

/**
 * Rewrites `/~user/rest` to `/users/user/rest` (the rule Twisted ships, which is a no-op on
 * Python 3 in Twisted 22.4; here it works).
 */
export const tildeToUsers: RewriteRule = (request) => {
  const first = request.postpath[0];
  if (first?.startsWith('~') && first.length > 1) {
    request.postpath.splice(0, 1, 'users', first.slice(1));
  }
};

function segmentsOf(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/**
 * A rule that serves `sourcePath` at `aliasPath`: a request whose remaining path starts with the
 * segments of `aliasPath` continues with those of `sourcePath` instead. Links the target generates
 * are not re-based (as in Twisted).
 *
 * ```ts
 * new RewriterResource(root, alias('manual', 'docs/v2/manual'));  // /manual/x → /docs/v2/manual/x
 * ```
 */
export function alias(aliasPath: string, sourcePath: string): RewriteRule {
  const from = segmentsOf(aliasPath);
  const to = segmentsOf(sourcePath);
  return (request) => {
    if (from.length === 0 || request.postpath.length < from.length) return;
    for (let i = 0; i < from.length; i++) if (request.postpath[i] !== from[i]) return;
    request.postpath.splice(0, from.length, ...to);
  };
}

/** Wraps a rule so it runs at most once per request (for rules that push onto prepath). */
export function oncePerRequest(rule: RewriteRule): RewriteRule {
  const seen = new WeakSet<Request>();
  return (request) => {
    if (seen.has(request)) return;
    seen.add(request);
    rule(request);
  };
}
