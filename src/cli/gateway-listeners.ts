// `trellis web --fastcgi EP` and `--scgi EP`: checks the gateway endpoints against the trusted-peers
// rule (SECURITY.md §5.1) and starts their listeners next to the HTTP ones.
import { ListenError, type Listener } from '../channels/listen.js';
import { checkGatewayEndpoint, parseTrustedPeers, TrustedPeerError, type GatewayOptions } from '../channels/gateway.js';
import type { Site } from '../site.js';
import { CliError } from './options.js';
import type { WebConfig } from './web-config.js';

/** Whether the config asks for any FastCGI or SCGI listener. */
export function hasGatewayListeners(config: WebConfig): boolean {
  return config.fastcgi.length > 0 || config.scgi.length > 0;
}

/**
 * Starts the FastCGI and SCGI listeners (loading their channels only when asked for). A non-loopback
 * TCP endpoint without `--gateway-trusted-peers` is refused before anything binds.
 */
export async function startGatewayListeners(site: Site, config: WebConfig): Promise<Listener[]> {
  if (!hasGatewayListeners(config)) return [];
  try {
    parseTrustedPeers(config.gatewayTrustedPeers);
  } catch (err) {
    if (err instanceof TrustedPeerError) throw new CliError(`--gateway-trusted-peers: ${err.message}`);
    throw err;
  }
  try {
    for (const ep of config.fastcgi) checkGatewayEndpoint('fastcgi', ep, config.gatewayTrustedPeers);
    for (const ep of config.scgi) checkGatewayEndpoint('scgi', ep, config.gatewayTrustedPeers);
  } catch (err) {
    if (err instanceof ListenError) throw new CliError(err.message);
    throw err;
  }
  const options: GatewayOptions = { trustedPeers: config.gatewayTrustedPeers, mount: config.mount };
  const listeners: Listener[] = [];
  try {
    if (config.fastcgi.length) {
      const { listenFastCgi } = await import('../channels/fastcgi/server.js');
      for (const ep of config.fastcgi) listeners.push(await listenFastCgi(site, ep, options));
    }
    if (config.scgi.length) {
      const { listenScgi } = await import('../channels/scgi/server.js');
      for (const ep of config.scgi) listeners.push(await listenScgi(site, ep, options));
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close(0)));
    if (err instanceof ListenError) throw new CliError(err.message, 1);
    throw err;
  }
  return listeners;
}

/** How a gateway listener is announced at startup: `fastcgi://127.0.0.1:9000/` or `scgi:unix:/run/app.sock`. */
export function gatewayUrl(listener: Listener, kind: 'fastcgi' | 'scgi'): string {
  return listener.endpoint.type === 'unix' ? `${kind}:${listener.url}` : listener.url;
}
