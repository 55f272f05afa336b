// Joining two raw sockets into a tunnel (CONNECT, a WebSocket after its 101).
import type { Duplex } from 'node:stream';

/**
 * Joins two raw sockets both ways (a CONNECT tunnel, a WebSocket after its 101): bytes flow with
 * backpressure until either side ends or fails, then both are destroyed and `onClose` runs once.
 */
export function spliceSockets(a: Duplex, b: Duplex, onClose?: () => void): void {
  let closed = false;
  const closeBoth = () => {
    a.destroy();
    b.destroy();
    if (closed) return;
    closed = true;
    onClose?.();
  };
  a.on('error', closeBoth);
  b.on('error', closeBoth);
  a.once('close', closeBoth);
  b.once('close', closeBoth);
  b.pipe(a);
  a.pipe(b);
}
