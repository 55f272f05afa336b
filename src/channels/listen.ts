// Binding any net.Server (HTTP, HTTPS, FastCGI, SCGI, AJP) to an endpoint, with clear errors,
// stale UNIX socket clean-up, socket modes, per-IP connection caps and graceful shutdown.
import cluster from 'node:cluster';
import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, type Server, type Socket } from 'node:net';
import { groupId } from '../users/nss.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import { domainMatches, systemdFd } from './systemd.js';

/** A server bound to an endpoint. */
export interface Listener {
  endpoint: Endpoint;
  /** Where it listens, as a URL (`http://127.0.0.1:8080/`, `unix:/run/app.sock`). */
  url: string;
  /** The TCP port actually bound (useful with port 0), or null for UNIX sockets. */
  port: number | null;
  server: Server;
  /** Stops accepting, lets in-flight requests finish (up to `timeoutMs`), then closes what is left. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * What every channel's create function returns (`createHttpServer`, `createHttpsServer`,
 * `createFastCgiServer`, `createScgiServer`, `createAjpServer`), the one shape shutdown works with:
 * the server to bind, and `closeIdle()`, which lets go of the connections that carry no request in
 * progress (an HTTP/2 session is asked to go away). Calling it again is harmless: at shutdown it runs
 * until the busy connections have finished.
 */
export interface ChannelServer<S extends Server = Server> {
  readonly server: S;
  closeIdle(): void;
}

/** A listen failure, said in one line with what to do. */
export class ListenError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'ListenError';
    this.code = code;
  }
}

function explain(ep: Endpoint, err: NodeJS.ErrnoException): ListenError {
  const where = formatEndpoint(ep);
  switch (err.code) {
    case 'EADDRINUSE':
      return new ListenError(
        `cannot listen on ${where}: address already in use; stop the other server or choose another port with --port or --listen`,
        err.code,
      );
    case 'EACCES':
      return new ListenError(
        `cannot listen on ${where}: permission denied; use a port above 1023 or start as root with --uid/--gid to drop privileges`,
        err.code,
      );
    case 'EADDRNOTAVAIL':
      return new ListenError(`cannot listen on ${where}: that interface address is not on this machine`, err.code);
    case 'ENOENT':
      return new ListenError(`cannot listen on ${where}: the socket's directory does not exist`, err.code);
    case 'EBADF':
    case 'ENOTSOCK':
    case 'EINVAL':
      if (ep.type === 'fd' || ep.type === 'systemd')
        return new ListenError(
          `cannot listen on ${where}: file descriptor ${ep.type === 'fd' ? ep.fd : 3 + ep.index} is not a listening socket (start Trellis from a front end that passes one, e.g. lighttpd bin-path or spawn-fcgi)`,
          err.code,
        );
      return new ListenError(`cannot listen on ${where}: ${err.message}`, err.code);
    default:
      return new ListenError(`cannot listen on ${where}: ${err.message}`, err.code ?? 'ELISTEN');
  }
}

/**
 * Gives a freshly bound UNIX socket to `group` (`unix:PATH:group=NAME`), so a server running in that
 * group may connect: the server's user must be in the group (or be root), else the socket is closed
 * and removed and a ListenError says so.
 */
function giveToGroup(server: Server, path: string, group: string): void {
  const gid = groupId(group);
  let failure: string | null = gid === null ? `there is no group "${group}"` : null;
  if (gid !== null) {
    try {
      chownSync(path, -1, gid);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      failure =
        code === 'EPERM'
          ? `this user is not in group "${group}" (EPERM); join it or pick one of its own groups`
          : `cannot give it to group "${group}" (${code})`;
    }
  }
  if (failure === null) return;
  server.close();
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
  throw new ListenError(`cannot listen on unix:${path}: ${failure}`, 'EGROUP');
}

/**
 * Removes a UNIX socket file left by a process that is gone; refuses when a server still answers on
 * it. Run by whoever creates the socket: {@link bindServer}, or a worker pool's primary.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket)
    throw new ListenError(`cannot listen on unix:${path}: a file that is not a socket is in the way`, 'EEXIST');
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive)
    throw new ListenError(`cannot listen on unix:${path}: another server is answering on that socket`, 'EADDRINUSE');
  unlinkSync(path);
}

/**
 * Caps open connections per client IP (SECURITY.md §3.3); a connection past the cap is closed at once.
 * Peers for which `exempt(ip)` is true are never counted: a trusted front end (nginx, a gateway
 * peer) carries every client over one address (test/cli/connection-cap.test.ts).
 */
export function capConnectionsPerIp(server: Server, max: number, exempt: (ip: string) => boolean = () => false): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress;
    if (!ip || exempt(ip)) return;
    const count = (open.get(ip) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      return;
    }
    open.set(ip, count);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip);
      else open.set(ip, left);
    });
  });
}

/** Tracks open sockets so shutdown can close what is left after the grace period. */
function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** Options of {@link bindServer}. */
export interface BindOptions {
  /** URL scheme shown for TCP endpoints. Default `http` (`https` for ssl endpoints). */
  scheme?: string;
}

/**
 * Binds a channel's server to `endpoint` and resolves once it listens; rejects with a ListenError.
 * The Listener's `close()` stops accepting, then calls `closeIdle()` until the busy connections are
 * done (or `timeoutMs` has passed, when what is left is destroyed).
 *
 * In a node:cluster worker the listening socket is the primary's, shared by every worker (`trellis
 * web --workers`): the worker neither clears a stale UNIX socket, nor sets its mode, nor removes the
 * file when it stops (the primary does, and the other workers go on serving on it), and a `systemd:`
 * endpoint's sockets are the primary's (`LISTEN_PID` names it).
 */
export async function bindServer(channel: ChannelServer, ep: Endpoint, options: BindOptions = {}): Promise<Listener> {
  const server = channel.server;
  const shared = cluster.isWorker;
  if (ep.type === 'unix' && !shared) await clearStaleSocket(ep.path);
  let fd: number | null = ep.type === 'fd' ? ep.fd : null;
  if (ep.type === 'systemd') {
    const found = systemdFd(ep, process.env, shared ? process.ppid : process.pid);
    if (typeof found === 'string')
      throw new ListenError(`cannot listen on ${formatEndpoint(ep)}: ${found}`, 'ENOLISTENFDS');
    fd = found;
  }
  const sockets = trackSockets(server);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(explain(ep, err));
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (ep.type === 'unix') server.listen({ path: ep.path, backlog: ep.backlog ?? 511 }, done);
    else if (fd !== null) server.listen({ fd }, done);
    else if (ep.type === 'tcp' || ep.type === 'ssl')
      server.listen({ port: ep.port, host: ep.interface, backlog: ep.backlog ?? 511 }, done);
  });
  if (ep.type === 'unix' && ep.group !== undefined && !shared) giveToGroup(server, ep.path, ep.group);
  if (ep.type === 'unix' && ep.mode !== undefined && !shared) chmodSync(ep.path, ep.mode);
  if (ep.type === 'systemd' && !domainMatches(ep.domain, server.address())) {
    server.close();
    throw new ListenError(
      `cannot listen on ${formatEndpoint(ep)}: socket ${fd} is not an ${ep.domain} socket; match domain= to ListenStream= in the .socket unit`,
      'ENOTSOCK',
    );
  }

  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : null;
  let url: string;
  if (ep.type === 'unix') {
    url = `unix:${ep.path}`;
  } else if (ep.type === 'fd' || (ep.type === 'systemd' && port === null)) {
    url = `fd:${fd}`;
  } else if (ep.type === 'systemd') {
    const a = server.address() as { address: string };
    const scheme = options.scheme ?? 'http';
    url = `${scheme}://${a.address.includes(':') ? `[${a.address}]` : a.address}:${port}/`;
  } else {
    const scheme = options.scheme ?? (ep.type === 'ssl' ? 'https' : 'http');
    const host =
      ep.interface === undefined || ep.interface === '0.0.0.0' || ep.interface === '::' ? 'localhost' : ep.interface;
    const shown = host.includes(':') ? `[${host}]` : host;
    url = `${scheme}://${shown}:${port}/`;
  }

  let closing: Promise<void> | null = null;
  const close = (timeoutMs = 10_000): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, timeoutMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        clearInterval(idle);
        if (ep.type === 'unix' && !shared) {
          try {
            unlinkSync(ep.path);
          } catch {
            // already gone
          }
        }
        resolve();
      });
      const closeIdle = () => channel.closeIdle();
      closeIdle();
      // Connections that were busy become idle once their response is out; close them then.
      const idle = setInterval(closeIdle, 50);
      idle.unref();
    });
    return closing;
  };
  return { endpoint: ep, url, port, server, close };
}
