// A connection's peer and local addresses as the neutral `Address` every channel reports.
import type { Address } from '../request.js';

/** Normalises a socket's peer to an Address (IPv4-mapped IPv6 shown as IPv4). */
export function socketAddress(
  address: string | undefined,
  family: string | undefined,
  port: number | undefined,
  unixPath: string | null,
): Address {
  if (address === undefined) return { type: 'UNIX', path: unixPath };
  if (address.startsWith('::ffff:') && address.includes('.')) {
    return { type: 'INET', host: address.slice(7), port: port ?? 0 };
  }
  return { type: family === 'IPv6' ? 'INET6' : 'INET', host: address, port: port ?? 0 };
}

/** The socket fields {@link socketAddresses} reads (a `net.Socket`, or node:http2's proxy of one). */
export interface SocketLike {
  remoteAddress?: string | undefined;
  remoteFamily?: string | undefined;
  remotePort?: number | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
}

/** The peer and local addresses of a connected socket. */
export function socketAddresses(socket: SocketLike, unixPath: string | null): { client: Address; local: Address } {
  return {
    client: socketAddress(socket.remoteAddress, socket.remoteFamily, socket.remotePort, unixPath),
    local: socketAddress(socket.localAddress, socket.remoteFamily, socket.localPort, unixPath),
  };
}

/**
 * An address a gateway reports as text (CGI's REMOTE_ADDR, AJP's remote_addr): IPv6 when it holds a
 * colon, else IPv4; null without a host.
 */
export function hostAddress(host: string | null | undefined, port: number): Address | null {
  if (!host) return null;
  return { type: host.includes(':') ? 'INET6' : 'INET', host, port };
}
