// The two ends of a personal server (Twisted's distrib, done with HTTP over a UNIX socket): the
// personal server's root, which believes the relay's forwarding headers from its socket peer only,
// and UserVirtualHost, which relays `name.example.com` to name's personal server.
import type { Request } from '../request.js';
import { NoResource, Resource, type ChildResult, type RenderResult } from '../resource.js';
import { RewriterResource } from '../rewrite/rewriter.js';
import { TrustedProxies, trustForwarded } from '../proxy/trusted-proxies.js';
import type { UserDirectory } from './user-directory.js';

/** No TCP peer is ever trusted by a personal server: only its UNIX-socket peer, the relay. */
const NOBODY = new TrustedProxies([]);

/**
 * Wraps the root of a personal server (`trellis web --personal`). A request from a UNIX-socket peer
 * (the main server's relay, or anyone the socket's mode lets connect, who could as well send any
 * header) has its X-Forwarded-For/-Proto/-Host/-Prefix applied: the client address, the public
 * scheme and host, and the public prefix (`/~alice.trellis`) on `prepath` and as the `sitepath`, so
 * URLs, redirects and the session cookie (its name and its path) belong to that prefix. A request
 * over TCP changes nothing. Pinned by test/users/user-directory.test.ts.
 *
 * ```ts
 * const site = new Site(personalRoot(new File(join(homedir(), 'public_html'))));
 * ```
 */
export function personalRoot(root: Resource): Resource {
  return new RewriterResource(root, (request: Request) => {
    if (trustForwarded(request, { trusted: NOBODY, trustUnix: true })) request.sitepath = [...request.prepath];
  });
}

/** Options of {@link UserVirtualHost}. */
export interface UserVirtualHostOptions {
  /** The domain below which each user has a host: `example.com` for `alice.example.com`. */
  domain: string;
  /** Where users are found and their personal servers reached. */
  users: UserDirectory;
  /** The resource for every other host (the domain itself included). */
  default: Resource;
}

/**
 * Relays `NAME.DOMAIN` to NAME's personal server (the Twisted Web tutorial's `UserNameVirtualHost`),
 * the whole path, with no prefix: the personal server is that host's root. Any other host goes to `default`;
 * a host naming no user is a 404 that does not echo it (SECURITY.md §6.3).
 *
 * ```ts
 * const root = new UserVirtualHost({ domain: 'example.com', users: userDirectory, default: site });
 * ```
 */
export class UserVirtualHost extends Resource {
  readonly domain: string;
  readonly users: UserDirectory;
  readonly default: Resource;

  constructor(options: UserVirtualHostOptions) {
    super();
    this.domain = options.domain.toLowerCase().replace(/\.$/, '');
    this.users = options.users;
    this.default = options.default;
  }

  /** The personal server for `request`'s host, a 404 for a host naming no user, or null for other hosts. */
  personalFor(request: Request): Resource | null {
    const host = request.getRequestHostname().toLowerCase().replace(/\.$/, '');
    const tail = `.${this.domain}`;
    if (!host.endsWith(tail)) return null;
    const name = host.slice(0, -tail.length);
    if (name.includes('.')) return null;
    const user = this.users.users.lookup(name);
    return user ? this.users.personalServer(user) : new NoResource('No such user.');
  }

  override getChildWithDefault(segment: string, request: Request): ChildResult {
    const target = this.personalFor(request) ?? this.default;
    if (!target.isLeaf) return target.getChildWithDefault(segment, request);
    // A leaf (the relay) answers for the whole path, this segment included.
    request.prepath.pop();
    request.postpath.unshift(segment);
    return target;
  }

  override render(request: Request): RenderResult {
    return (this.personalFor(request) ?? this.default).render(request);
  }
}
