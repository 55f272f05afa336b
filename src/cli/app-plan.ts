// What `trellis` serves, in one shape whatever it came from (a plugin such as `web`, a configuration
// module, a JSON configuration): sites, each with its listeners, checked with one-line errors.
import { parseEndpoint, EndpointError, type Endpoint } from '../channels/endpoint.js';
import { Resource } from '../resource.js';
import { Site } from '../site.js';
import type { AppExport, SiteDefinition } from './app.js';
import { CliError } from './options.js';

/** The kinds of listener a site can have. */
export type ListenKind = 'http' | 'fastcgi' | 'scgi' | 'ajp';

/** One listener to start. */
export interface ListenSpec {
  kind: ListenKind;
  endpoint: Endpoint;
}

/** One site, ready to serve, and where it listens. */
export interface SitePlan {
  site: Site;
  /** The root drop-ins add to, before `wrap` (the File of `web --path`). */
  root: Resource;
  /** Puts the layers around the root that drop-ins must stay inside (trusted proxies, mounts). */
  wrap: (root: Resource) => Resource;
  listeners: ListenSpec[];
  gateway: { trustedPeers: string[]; mount: string | null; ajpSecret: string | null };
}

/** Everything one configuration serves. */
export interface AppPlan {
  sites: SitePlan[];
  /** The start-up banner's line on what is served (`Files from DIR (...)`). */
  serves: string;
  /** Further banner lines (which extensions execute, CORS, `Watching DIR`). */
  notes: string[];
  /** Open the first listener's URL in a browser once serving (`--open`; not on reloads). */
  open: boolean;
  /** Closes what building opened (access logs) once the plan is no longer served. */
  dispose: () => Promise<void>;
}

/** A site definition carrying its unwrapped root (how `trellis web` keeps drop-ins inside its proxy layers). */
export const UNWRAPPED = Symbol('trellis.unwrapped');

/** A SiteDefinition whose site was built with layers around `root`. */
export interface WrappedSiteDefinition extends SiteDefinition {
  [UNWRAPPED]?: { root: Resource; wrap: (root: Resource) => Resource };
  /** Access logs and the like to close once the site is replaced. */
  dispose?: () => Promise<void>;
  /** The banner's line on what is served. */
  serves?: string;
  /** Further banner lines. */
  notes?: string[];
  /** Open it in a browser once serving. */
  open?: boolean;
}

/** Parses an endpoint of `kind`; a bare port on a gateway means loopback (SECURITY.md §5.1). */
export function listenEndpoint(kind: ListenKind, value: string | Endpoint, what: string): Endpoint {
  if (typeof value !== 'string') return value;
  let ep: Endpoint;
  try {
    ep = parseEndpoint(kind !== 'http' && /^\d+$/.test(value.trim()) ? `tcp:${value.trim()}` : value);
  } catch (err) {
    if (err instanceof EndpointError) throw new CliError(`${what}: ${err.message}`);
    throw err;
  }
  if (kind !== 'http' && ep.type === 'tcp' && ep.interface === undefined) ep.interface = '127.0.0.1';
  return ep;
}

function endpointList(value: unknown, what: string): Array<string | Endpoint> {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    !value.every((v) => typeof v === 'string' || (typeof v === 'object' && v !== null && 'type' in v))
  ) {
    throw new CliError(`${what} must be an array of endpoint strings such as "tcp:8080"`);
  }
  return value as Array<string | Endpoint>;
}

function toSitePlan(
  def: unknown,
  what: string,
): SitePlan & Pick<WrappedSiteDefinition, 'dispose' | 'notes' | 'serves' | 'open'> {
  if (typeof def !== 'object' || def === null || !('site' in def))
    throw new CliError(`${what} must be an object { site, listen: [...] }`);
  const d = def as WrappedSiteDefinition;
  const site = d.site instanceof Site ? d.site : d.site instanceof Resource ? new Site(d.site) : null;
  if (!site)
    throw new CliError(`${what}.site is not a Site or a Resource; build it with new Site(root) from 'trellis'`);
  const listeners: ListenSpec[] = [];
  for (const kind of ['listen', 'ajp', 'fastcgi', 'scgi'] as const) {
    const listenKind: ListenKind = kind === 'listen' ? 'http' : kind;
    for (const value of endpointList(d[kind], `${what}.${kind}`))
      listeners.push({ kind: listenKind, endpoint: listenEndpoint(listenKind, value, `${what}.${kind}`) });
  }
  const unwrapped = d[UNWRAPPED];
  return {
    site,
    root: unwrapped?.root ?? site.resource,
    wrap: unwrapped?.wrap ?? ((root) => root),
    listeners,
    gateway: {
      trustedPeers: [...(d.gatewayTrustedPeers ?? [])],
      mount: d.mount ?? null,
      ajpSecret: d.ajpSecret ?? null,
    },
    ...(d.dispose ? { dispose: d.dispose } : {}),
    ...(d.notes ? { notes: d.notes } : {}),
    ...(d.serves !== undefined ? { serves: d.serves } : {}),
    ...(d.open ? { open: true } : {}),
  };
}

/**
 * Turns what a configuration module exports (or a plugin builds) into a plan. `what` names the
 * source in errors (`site.ts`, `plugin bannerfish`).
 *
 * | value                          | serves                                        |
 * |--------------------------------|-----------------------------------------------|
 * | a `Site`                       | that site, on the listeners given to `run`     |
 * | a `Resource`                   | `new Site(resource)`, likewise                 |
 * | `{ sites: [{ site, listen }] }`| each site on its own listeners                 |
 */
export function planApp(value: AppExport | unknown, what: string): AppPlan {
  let defs: unknown[];
  if (value instanceof Site || value instanceof Resource) defs = [{ site: value }];
  else if (typeof value === 'object' && value !== null && 'sites' in value && Array.isArray(value.sites))
    defs = value.sites as unknown[];
  else {
    throw new CliError(
      `${what}: the default export is not a Site, a Resource or { sites: [...] }; export default new Site(root) or defineApp({ sites })`,
    );
  }
  if (!defs.length) throw new CliError(`${what}: sites is empty; give at least one { site, listen }`);
  const sites = defs.map((d, i) => toSitePlan(d, `${what}: sites[${i}]`));
  const disposers = sites.flatMap((s) => (s.dispose ? [s.dispose] : []));
  const serves = sites.flatMap((s) => (s.serves !== undefined ? [s.serves] : []));
  return {
    sites,
    serves: serves.length ? serves.join('; ') : `The site${sites.length > 1 ? 's' : ''} of ${what}`,
    notes: sites.flatMap((s) => s.notes ?? []),
    open: sites.some((s) => s.open),
    dispose: async () => void (await Promise.all(disposers.map((d) => d()))),
  };
}

/** Adds `endpoints` to the first site (the listeners given to `trellis run`); tcp:8080 when nothing listens at all. */
export function addDefaultListeners(plan: AppPlan, endpoints: Endpoint[]): void {
  const first = plan.sites[0]!;
  for (const endpoint of endpoints) first.listeners.push({ kind: 'http', endpoint });
  if (plan.sites.every((s) => !s.listeners.length))
    first.listeners.push({ kind: 'http', endpoint: { type: 'tcp', port: 8080 } });
}
