// The proxy-related options of `trellis web` (--trust-proxy, --vhost-monster, --public-url, --proxy,
// --vhost-path) and how they wrap the root: trusted-proxy rewriting outermost, so it sees every
// request before traversal; then the fixed public URL; then the mounts (/vhost, --proxy paths).
import { ReverseProxyResource, parseUnixBackend } from '../proxy/reverse-proxy.js';
import {
  CidrError,
  TrustedProxies,
  applyPublicView,
  fromTrustedPeer,
  readForwarded,
  trustForwarded,
} from '../proxy/trusted-proxies.js';
import { NoResource, Resource, type ChildResult, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';
import { RewriterResource } from '../rewrite/rewriter.js';
import { VHostURIRewrite, parsePublicUrl } from '../rewrite/vhost-uri-rewrite.js';
import { VHostMonsterResource } from '../vhost/vhost-monster.js';
import { CliError } from './options.js';
import { hasCtl, unbracket } from '../http/syntax.js';

/** The proxy settings of `trellis web`. */
export interface ProxyConfig {
  /** `--trust-proxy CIDR` (repeatable): peers whose forwarding headers are believed. Default none. */
  trustProxy: string[];
  /** `--vhost-monster`: mount a VHostMonsterResource at /vhost (needs --trust-proxy). */
  vhostMonster: boolean;
  /** `--public-url URL`: the fixed public URL for front ends that send no headers. */
  publicUrl: string | null;
  /** `--proxy PATH=URL` (repeatable): reverse-proxy PATH to an http:// or unix: backend. */
  proxies: Array<{ path: string; url: string }>;
}

export function defaultProxyConfig(): ProxyConfig {
  return { trustProxy: [], vhostMonster: false, publicUrl: null, proxies: [] };
}

/** Checks a `--trust-proxy` value. */
export function parseTrustProxy(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    new TrustedProxies(items);
  } catch (err) {
    if (err instanceof CidrError) throw new CliError(`--trust-proxy: ${err.message}`);
    throw err;
  }
  if (!items.length) throw new CliError('--trust-proxy needs an address or CIDR range, e.g. 127.0.0.1 or 10.0.0.0/8');
  return items;
}

/** Checks a `--public-url` value. */
export function checkPublicUrl(value: string): string {
  try {
    parsePublicUrl(value);
  } catch (err) {
    throw new CliError(`--public-url: ${(err as Error).message}`);
  }
  return value;
}

/** Parses `--proxy PATH=URL`. */
export function parseProxy(value: string): { path: string; url: string } {
  const eq = value.indexOf('=');
  const path = eq === -1 ? '' : value.slice(0, eq);
  const url = eq === -1 ? '' : value.slice(eq + 1);
  const usage = `--proxy needs PATH=URL such as /app=http://127.0.0.1:8080/ or /app=unix:/run/app.sock, not "${value}"`;
  if (
    !path.startsWith('/') ||
    hasCtl(path) ||
    /[?#]/.test(path) ||
    path.split('/').some((s) => s === '.' || s === '..')
  )
    throw new CliError(usage);
  if (url.startsWith('unix:')) {
    try {
      parseUnixBackend(url);
    } catch (err) {
      throw new CliError(`--proxy ${value}: ${(err as Error).message}`);
    }
    return { path, url };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliError(usage);
  }
  if (u.protocol !== 'http:')
    throw new CliError(`--proxy ${value}: only http:// and unix:/path backends are supported`);
  if (u.username || u.password || u.search || u.hash)
    throw new CliError(`--proxy ${value}: the backend URL must not carry credentials, a query or a fragment`);
  return { path, url };
}

function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/**
 * Resources mounted over a root at fixed paths (`/vhost`, `--proxy /api/v1=...`), longest path
 * first; everything else is the root's.
 */
export class MountResource extends Resource {
  readonly root: Resource;
  readonly mounts: Array<[string[], Resource]>;

  constructor(root: Resource, mounts: Array<[string[], Resource]>) {
    super();
    this.root = root;
    this.mounts = [...mounts].sort((a, b) => b[0].length - a[0].length);
  }

  override getChildWithDefault(segment: string, request: Request): ChildResult {
    const rest = [segment, ...request.postpath];
    for (const [path, resource] of this.mounts) {
      if (path.length === 0 || path.length > rest.length || !path.every((s, i) => rest[i] === s)) continue;
      request.postpath.splice(0, path.length - 1);
      request.prepath.push(...path.slice(1));
      return resource;
    }
    if (this.root.isLeaf) {
      request.prepath.pop();
      request.postpath.unshift(segment);
      return this.root;
    }
    return this.root.getChildWithDefault(segment, request);
  }

  override render(request: Request): RenderResult {
    return this.root.render(request);
  }
}

function httpProxy(url: string): ReverseProxyResource {
  const u = new URL(url);
  const host = unbracket(u.hostname);
  return new ReverseProxyResource(host, u.port ? Number(u.port) : 80, u.pathname === '/' ? '' : u.pathname);
}

/** Wraps `root` as the proxy options ask. */
export function wrapRoot(root: Resource, config: ProxyConfig): Resource {
  const trusted = new TrustedProxies(config.trustProxy);
  if (config.vhostMonster && trusted.empty) {
    throw new CliError(
      '--vhost-monster needs --trust-proxy CIDR naming the front end (it is refused to every other peer)',
    );
  }
  const mounts: Array<[string[], Resource]> = [];
  let top = root;
  for (const { path, url } of config.proxies) {
    const proxy = url.startsWith('unix:') ? new ReverseProxyResource(url as `unix:${string}`) : httpProxy(url);
    const segs = segments(path);
    if (segs.length === 0) top = proxy;
    else mounts.push([segs, proxy]);
  }
  if (config.vhostMonster) mounts.push([['vhost'], new VHostMonsterResource({ trustedProxies: trusted })]);
  if (mounts.length) top = new MountResource(top, mounts);
  if (config.publicUrl) top = new VHostURIRewrite(config.publicUrl, top);
  if (!trusted.empty) {
    const fixedUrl = config.publicUrl !== null;
    const seen = new WeakSet<Request>();
    top = new RewriterResource(top, (request) => {
      if (!fixedUrl) {
        trustForwarded(request, { trusted });
        return;
      }
      // With --public-url the URL is fixed; a trusted front end still names the client.
      if (seen.has(request)) return;
      seen.add(request);
      if (fromTrustedPeer(request, trusted))
        applyPublicView(request, { ...readForwarded(request, trusted), scheme: null, host: null, prefix: null });
    });
  }
  return top;
}

/** `--vhost-path DIR` without a matching host: a 404 that never echoes the Host (SECURITY.md §6.3). */
export function unknownHost(): Resource {
  return new NoResource('No site is configured for this host name.');
}
