// What `trellis web` prints once it is serving: every URL it answers on (each network address when
// bound to all interfaces), what it serves, and how to stop it.
import type { NetworkInterfaceInfo } from 'node:os';
import type { Endpoint } from '../channels/endpoint.js';
import type { Listener } from '../channels/listen.js';

/** Whether a TCP/TLS endpoint listens on every interface (no interface, `0.0.0.0` or `::`). */
export function bindsAll(ep: Endpoint): boolean {
  return (
    (ep.type === 'tcp' || ep.type === 'ssl') &&
    (ep.interface === undefined || ep.interface === '0.0.0.0' || ep.interface === '::')
  );
}

/**
 * The other URLs a listener bound to all interfaces answers on: one per non-loopback address of
 * this machine (IPv6 ones, link-local excepted, only when bound to `::` or to nothing, which Node
 * makes dual-stack).
 */
export function networkUrls(
  listener: Pick<Listener, 'endpoint' | 'url' | 'port'>,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
): string[] {
  const ep = listener.endpoint;
  if (!bindsAll(ep) || listener.port === null) return [];
  const scheme = listener.url.slice(0, listener.url.indexOf(':'));
  const v6 = (ep.type === 'tcp' || ep.type === 'ssl') && ep.interface !== '0.0.0.0';
  const urls: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') urls.push(`${scheme}://${a.address}:${listener.port}/`);
      else if (v6 && !a.address.toLowerCase().startsWith('fe80:'))
        urls.push(`${scheme}://[${a.address}]:${listener.port}/`);
    }
  }
  return urls;
}

/** What the banner says besides the URLs. */
export interface BannerFacts {
  version: string;
  /** The listeners, each with the protocol name to show after gateway URLs (`fastcgi`, `scgi`, `ajp`). */
  listeners: Array<{ listener: Pick<Listener, 'endpoint' | 'url' | 'port'>; url?: string }>;
  /** `Files from /srv/www`, `Resource ./site.ts#Root`, ... */
  serves: string;
  /** Further lines: settings worth seeing at a glance (CORS, watch, development certificate). */
  notes: string[];
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>;
}

/**
 * The start-up banner, one line per URL (`Trellis X serving URL`, which tools and tests read), the
 * network addresses under each listener bound to all interfaces, then what is served, the notes, and
 * how to stop.
 */
export function bannerText(facts: BannerFacts): string {
  const lines: string[] = [];
  for (const { listener, url } of facts.listeners) {
    lines.push(`Trellis ${facts.version} serving ${url ?? listener.url}`);
    for (const other of networkUrls(listener, facts.interfaces)) lines.push(`  on your network: ${other}`);
  }
  lines.push(facts.serves, ...facts.notes, 'Press Ctrl+C to stop (SIGTERM also finishes in-flight requests first).');
  return `${lines.join('\n')}\n`;
}
