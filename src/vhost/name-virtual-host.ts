// NameVirtualHost: one resource tree per Host name, with a default and web2's parent-domain fallback.
import { Resource, NoResource, type ChildResult, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';

/** Options of {@link NameVirtualHost}. */
export interface NameVirtualHostOptions {
  /** The resource for hosts not in the map (it never sees the Host echoed). Default: none (404). */
  default?: Resource | null;
  /** Try parent domains: `a.b.example.com` falls back to `b.example.com`, then `example.com`. Default true. */
  supportNested?: boolean;
}

/**
 * Chooses a resource tree by the request's Host name (lower-cased, port and a trailing dot
 * dropped). Unknown hosts go to `default`; with no default the answer is a 404 whose text is
 * escaped (CVE-2022-39348). SECURITY.md §6.3: the Host itself was validated by the channel.
 *
 * ```ts
 * const root = new NameVirtualHost({ default: new File('/var/www/htdocs') });
 * root.addHost('foo.com', new File('/var/www/foo'));
 * ```
 */
export class NameVirtualHost extends Resource {
  readonly hosts = new Map<string, Resource>();
  default: Resource | null;
  supportNested: boolean;

  constructor(options: NameVirtualHostOptions = {}) {
    super();
    this.default = options.default ?? null;
    this.supportNested = options.supportNested ?? true;
  }

  /** Serves `resource` for Host `name` (case-insensitive). */
  addHost(name: string, resource: Resource): void {
    this.hosts.set(normalise(name), resource);
  }

  removeHost(name: string): void {
    this.hosts.delete(normalise(name));
  }

  /** The resource for `request`'s host, or null when there is none and no default. */
  resourceFor(request: Request): Resource | null {
    let host = normalise(request.getRequestHostname());
    const exact = this.hosts.get(host);
    if (exact) return exact;
    if (this.supportNested) {
      for (let dot = host.indexOf('.'); dot !== -1 && host.indexOf('.', dot + 1) !== -1; dot = host.indexOf('.')) {
        host = host.slice(dot + 1);
        const found = this.hosts.get(host);
        if (found) return found;
      }
    }
    return this.default;
  }

  #target(request: Request): Resource {
    if (!request.getHeader('host') && !this.default) return new NoResource();
    return (
      this.resourceFor(request) ?? new NoResource(`host "${request.getRequestHostname()}" is not in the vhost map`)
    );
  }

  override getChildWithDefault(segment: string, request: Request): ChildResult {
    const target = this.#target(request);
    if (target.isLeaf) {
      // A leaf answers for the whole path, this segment included.
      request.prepath.pop();
      request.postpath.unshift(segment);
      return target;
    }
    return target.getChildWithDefault(segment, request);
  }

  override render(request: Request): RenderResult {
    return this.#target(request).render(request);
  }
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
