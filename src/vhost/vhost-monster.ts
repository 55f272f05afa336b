// VHostMonsterResource: `/vhost/http/host:port/...` paths by which a front end says which public URL
// a request came in on (Twisted's twisted.web.vhost.VHostMonsterResource).
import { ErrorPage, NoResource, Resource, type ChildResult } from '../resource.js';
import type { Request } from '../request.js';
import { TrustedProxies, fromTrustedPeer } from '../proxy/trusted-proxies.js';
import { isHost } from '../http/syntax.js';

/** Host segments accepted (SECURITY.md §6.3's Host shape). */

/** Options of {@link VHostMonsterResource}. */
export interface VHostMonsterOptions {
  /** Peers (CIDR list) allowed to use it; anyone else gets a 404. Default: none. */
  trustedProxies?: TrustedProxies | readonly string[];
  /** Also allow peers on a UNIX socket. Default false. */
  trustUnix?: boolean;
}

/**
 * Mounted at e.g. `/vhost`, a request for `/vhost/https/example.com:8443/rest` is served as
 * `https://example.com:8443/rest`: scheme and host are set with `setHost`, the monster's segments
 * leave `prepath`, and traversal restarts at the Site's root with `rest`. Unlike Twisted's, the
 * port defaults to 443 for `https`, and it works at any mount depth.
 *
 * SECURITY.md §6.4: only a TCP peer in `trustedProxies` may use it; for anyone else every child is
 * a 404 (test/vhost/vhost-monster.test.ts, "untrusted peer gets 404").
 *
 * ```ts
 * root.putChild('vhost', new VHostMonsterResource({ trustedProxies: ['127.0.0.1'] }));
 * // Apache: ProxyPass / http://localhost:8538/vhost/http/example.com:80/
 * ```
 */
export class VHostMonsterResource extends Resource {
  readonly trusted: TrustedProxies;
  readonly trustUnix: boolean;

  constructor(options: VHostMonsterOptions = {}) {
    super();
    const t = options.trustedProxies;
    this.trusted = t instanceof TrustedProxies ? t : new TrustedProxies(t ?? []);
    this.trustUnix = options.trustUnix ?? false;
  }

  override getChild(scheme: string, request: Request): ChildResult {
    if (!fromTrustedPeer(request, this.trusted, this.trustUnix)) return new NoResource();
    if (scheme !== 'http' && scheme !== 'https') return new NoResource();
    const hostSegment = request.postpath.shift();
    if (!hostSegment || !isHost(hostSegment)) {
      return new ErrorPage(
        400,
        'Bad Request',
        'The virtual host path needs /http/HOST[:PORT]/ or /https/HOST[:PORT]/.',
      );
    }
    const secure = scheme === 'https';
    const m = /^\[?(.*?)\]?(?::(\d+))?$/.exec(hostSegment)!;
    const port = m[2] === undefined ? (secure ? 443 : 80) : Number(m[2]);
    if (port < 1 || port > 65535)
      return new ErrorPage(400, 'Bad Request', 'The port in the virtual host path is out of range.');
    request.setHost(m[1]!, port, secure);
    request.prepath.length = 0;
    const root = request.site?.resource;
    if (!(root instanceof Resource)) return new NoResource();
    // Path `/vhost/http/host` (nothing after the host) is the root itself.
    return root;
  }
}
