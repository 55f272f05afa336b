// web2's AutoVHostURIRewrite and VHostURIRewrite: tell the resource tree the public URL it is served
// at behind an HTTP reverse proxy, from the front end's headers or from a fixed URL.
import { HttpError } from '../errors.js';
import type { Resource } from '../resource.js';
import type { Request } from '../request.js';
import {
  TrustedProxies,
  applyPublicView,
  fromTrustedPeer,
  prefixSegments,
  readForwarded,
} from '../proxy/trusted-proxies.js';
import { RewriterResource, oncePerRequest } from './rewriter.js';
import { isHost, unbracket } from '../http/syntax.js';

/** Host values accepted from a header (SECURITY.md §6.3). */

/** Options of {@link AutoVHostURIRewrite}. */
export interface AutoVHostOptions {
  /** Peers (CIDR list) whose headers are believed; from anyone else nothing changes. Default: none. */
  trustedProxies?: TrustedProxies | readonly string[];
  /** The front end passes the client's Host itself (Apache `ProxyPreserveHost On`). Default false. */
  sendsRealHost?: boolean;
}

function trustList(value: TrustedProxies | readonly string[] | undefined): TrustedProxies {
  return value instanceof TrustedProxies ? value : new TrustedProxies(value ?? []);
}

/**
 * For use behind Apache `mod_proxy` (web2's AutoVHostURIRewrite): reads `X-App-Scheme` (default
 * `http`), the host from `X-Forwarded-Host` (or `Host` with `sendsRealHost`), `X-App-Location`
 * (default `/`, replacing the segments that led to this resource) and the client from
 * `X-Forwarded-For`, and makes `prePathURL()` and redirects show the public URL. A trusted request without a host or X-Forwarded-For is a 400, as in web2.
 * Headers from a peer outside `trustedProxies` change nothing (SECURITY.md §6.4).
 *
 * ```ts
 * // Apache: <Location /whatever/> ProxyPass http://localhost:8538/
 * //         RequestHeader set X-App-Location /whatever/
 * //         RequestHeader set X-App-Scheme https </Location>
 * new Site(new AutoVHostURIRewrite(root, { trustedProxies: ['127.0.0.1'] }));
 * ```
 */
export class AutoVHostURIRewrite extends RewriterResource {
  readonly trusted: TrustedProxies;
  readonly sendsRealHost: boolean;

  constructor(resource: Resource, options: AutoVHostOptions = {}) {
    const trusted = trustList(options.trustedProxies);
    const sendsRealHost = options.sendsRealHost ?? false;
    super(
      resource,
      oncePerRequest((request: Request) => {
        if (!fromTrustedPeer(request, trusted)) return;
        const view = readForwarded(request, trusted);
        const host = sendsRealHost
          ? request.getHeader('host')
          : request.requestHeaders.getAll('x-forwarded-host').join(',').split(',').at(-1)?.trim();
        if (!host || !isHost(host) || !request.getHeader('x-forwarded-for')) {
          throw new HttpError(
            400,
            'The front end sent no X-Forwarded-Host or X-Forwarded-For: use VHostURIRewrite, or sendsRealHost with ProxyPreserveHost.',
            { code: 'NO_FORWARDED_HOST' },
          );
        }
        const scheme = request.getHeader('x-app-scheme')?.trim().toLowerCase() ?? 'http';
        // X-App-Location is where this resource is, publicly: it replaces the segments that led here.
        request.prepath.length = 0;
        applyPublicView(request, {
          client: view.client,
          scheme: scheme === 'https' ? 'https' : 'http',
          host,
          prefix: prefixSegments(request.getHeader('x-app-location')) ?? [],
        });
      }),
    );
    this.trusted = trusted;
    this.sendsRealHost = sendsRealHost;
  }
}

/**
 * A fixed public URL for front ends that send no headers (web2's VHostURIRewrite; Apache 1's
 * `ProxyPass /foo/ http://localhost:8538/`). Every request gets the URL's scheme, host and port
 * (the scheme's default when absent), and its path replaces the segments that led to this resource.
 * Throws a TypeError for a URL with credentials, a query or a fragment, or a scheme other than http(s).
 *
 * ```ts
 * new Site(new VHostURIRewrite('https://example.com/foo/', root));
 * ```
 */
export class VHostURIRewrite extends RewriterResource {
  readonly url: URL;

  constructor(uri: string, resource: Resource) {
    const url = parsePublicUrl(uri);
    const secure = url.protocol === 'https:';
    const host = unbracket(url.hostname);
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    const prefix = prefixSegments(url.pathname) ?? [];
    super(
      resource,
      oncePerRequest((request: Request) => {
        request.setHost(host, port, secure);
        // The URL is where this resource is, publicly: mounted as a child (`putChild('foo', ...)`),
        // the parent's segment is not part of it (web2 replaced the prepath the same way).
        request.prepath.splice(0, request.prepath.length, ...prefix);
      }),
    );
    this.url = url;
  }
}

/** Checks a public URL (`--public-url`); throws a TypeError saying what is wrong. */
export function parsePublicUrl(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TypeError(`"${uri}" is not an absolute URL such as https://example.com/app/`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`"${uri}" must start with http:// or https://`);
  if (url.username || url.password || url.search || url.hash)
    throw new TypeError(`"${uri}" must not carry credentials, a query or a fragment`);
  return url;
}
