// Socket activation (sd_listen_fds(3)): the listening sockets a service manager passes as descriptors
// 3, 4, ... with LISTEN_FDS (how many) and LISTEN_PID (for which process).
import type { Endpoint } from './endpoint.js';
import type { Server } from 'node:net';

/** The first descriptor passed by socket activation (SD_LISTEN_FDS_START). */
export const SD_LISTEN_FDS_START = 3;

/**
 * The descriptor of a `systemd:` endpoint, checked against the environment: `LISTEN_PID` must name
 * `pid` (the sockets are meant for this process, not a child that inherited the variables) and
 * `LISTEN_FDS` must count past `index`. Otherwise returns what is missing and what to do, in words.
 *
 * | environment                          | `systemd:index=1` |
 * |--------------------------------------|-------------------|
 * | LISTEN_PID=pid LISTEN_FDS=2          | 4                 |
 * | LISTEN_PID=pid LISTEN_FDS=1          | a problem         |
 * | LISTEN_PID=other                     | a problem         |
 */
export function systemdFd(
  ep: Extract<Endpoint, { type: 'systemd' }>,
  env: NodeJS.ProcessEnv,
  pid: number,
): number | string {
  const count = env.LISTEN_FDS;
  if (count === undefined || !/^\d+$/.test(count)) {
    return `no sockets were passed (LISTEN_FDS is not set); start Trellis from a systemd .socket unit or systemd-socket-activate`;
  }
  if (env.LISTEN_PID !== undefined && env.LISTEN_PID !== String(pid)) {
    return `the passed sockets are for pid ${env.LISTEN_PID}, not this process (${pid}); let the service manager start Trellis itself`;
  }
  if (ep.index >= Number(count)) {
    return `only ${count} socket(s) were passed (index counts from 0); check ListenStream= in the .socket unit`;
  }
  return SD_LISTEN_FDS_START + ep.index;
}

/** Whether the socket a `systemd:` endpoint got is of the domain it names (`address` is `server.address()`). */
export function domainMatches(domain: 'INET' | 'INET6' | 'UNIX', address: ReturnType<Server['address']>): boolean {
  if (domain === 'UNIX') return typeof address === 'string' || address === null;
  return typeof address === 'object' && address !== null && address.family === (domain === 'INET' ? 'IPv4' : 'IPv6');
}
