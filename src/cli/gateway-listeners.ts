// `trellis web --fastcgi EP` and `--scgi EP`: checks the gateway endpoints against the trusted-peers
// rule (SECURITY.md §5.1) and starts their listeners next to the HTTP ones.
import { ListenError, type Listener } from '../channels/listen.js';
import {
  checkGatewayEndpoint,
  checkInheritedSocket,
  parseTrustedPeers,
  parseWebServerAddrs,
  TrustedPeerError,
  type GatewayOptions,
} from '../channels/gateway.js';
import type { Site } from '../site.js';
import { CliError } from './options.js';
import type { WebConfig } from './web-config.js';

/** What the gateway listeners need of a configuration. */
export type GatewayListenConfig = Pick<WebConfig, 'fastcgi' | 'scgi' | 'gatewayTrustedPeers' | 'mount'>;

/** Whether the config asks for any FastCGI or SCGI listener. */
export function hasGatewayListeners(config: GatewayListenConfig): boolean {
  return config.fastcgi.length > 0 || config.scgi.length > 0;
}

/**
 * Starts the FastCGI and SCGI listeners (loading their channels only when asked for). A non-loopback
 * TCP endpoint without `--gateway-trusted-peers` is refused before anything binds; an inherited
 * socket (`fd:0`, from a front end that spawned Trellis) as soon as it is known to be one.
 * `FCGI_WEB_SERVER_ADDRS` in the environment limits FastCGI's TCP peers to the addresses it lists.
 */
export async function startGatewayListeners(
  site: Site,
  config: GatewayListenConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Listener[]> {
  if (!hasGatewayListeners(config)) return [];
  try {
    parseTrustedPeers(config.gatewayTrustedPeers);
  } catch (err) {
    if (err instanceof TrustedPeerError) throw new CliError(`--gateway-trusted-peers: ${err.message}`);
    throw err;
  }
  let webServerAddrs: string[] | null = null;
  if (env.FCGI_WEB_SERVER_ADDRS !== undefined && config.fastcgi.length) {
    try {
      webServerAddrs = parseWebServerAddrs(env.FCGI_WEB_SERVER_ADDRS);
    } catch (err) {
      if (err instanceof TrustedPeerError) throw new CliError(`FCGI_WEB_SERVER_ADDRS: ${err.message}`);
      throw err;
    }
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
      const explicit = config.gatewayTrustedPeers.length > 0 || webServerAddrs !== null;
      for (const ep of config.fastcgi) {
        const listener = await listenFastCgi(site, ep, { ...options, webServerAddrs });
        listeners.push(listener);
        if (ep.type === 'fd' || ep.type === 'systemd') checkInheritedSocket('fastcgi', ep, listener.server, explicit);
      }
    }
    if (config.scgi.length) {
      const { listenScgi } = await import('../channels/scgi/server.js');
      for (const ep of config.scgi) {
        const listener = await listenScgi(site, ep, options);
        listeners.push(listener);
        if (ep.type === 'fd' || ep.type === 'systemd')
          checkInheritedSocket('scgi', ep, listener.server, config.gatewayTrustedPeers.length > 0);
      }
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close(0)));
    if (err instanceof ListenError) throw new CliError(err.message, 1);
    throw err;
  }
  return listeners;
}

/** How a gateway listener is announced at startup: `fastcgi://127.0.0.1:9000/`, `scgi:unix:/run/app.sock`, `fastcgi:fd:0`. */
export function gatewayUrl(listener: Listener, kind: 'fastcgi' | 'scgi'): string {
  return listener.url.startsWith('unix:') || listener.url.startsWith('fd:') ? `${kind}:${listener.url}` : listener.url;
}
