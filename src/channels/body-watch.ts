// The request-body stall watchdog for channels whose bodies Node reads (node:http, node:http2):
// a body that stops, or trickles under the minimum rate, loses its exchange.
import type { SiteLimits } from '../site.js';

/** How long a body may run before its average rate is held to `bodyMinRate` (SECURITY.md §3.3). */
export const BODY_RATE_GRACE_MS = 10_000;

/** What {@link watchBody} needs to know about one request body. */
export interface BodyProgress {
  /** Body bytes (or connection bytes) received so far. */
  received(): number;
  /** Whether the resource is not taking bytes (a full buffer): then the client is not to blame. */
  held(): boolean;
  /** Whether the body is complete or the exchange is gone. */
  over(): boolean;
  /** Drops the exchange. */
  cut(): void;
}

/**
 * Drops an exchange whose body stalls (SECURITY.md §3.3): no progress for `bodyIdleTimeout`, or an
 * average under `bodyMinRate` bytes/s after the first 10 s. Time the resource spends not reading
 * (a full buffer) does not count against the client. HTTP/1.1 requests from node:http lose their
 * connection; an HTTP/2 stream is reset with CANCEL and the connection's other streams go on
 * (test/channels/http2-timeouts.test.ts).
 */
export function watchBody(body: BodyProgress, limits: SiteLimits): void {
  const startBytes = body.received();
  let lastBytes = startBytes;
  let lastTick = Date.now();
  let lastProgress = lastTick;
  // Time the client is held to: the body's age minus the time the resource was not reading.
  let clientMs = 0;
  const timer = setInterval(
    () => {
      if (body.over()) {
        clearInterval(timer);
        return;
      }
      const now = Date.now();
      const tick = now - lastTick;
      lastTick = now;
      const bytes = body.received();
      if (body.held()) {
        lastBytes = bytes;
        lastProgress = now;
        return;
      }
      clientMs += tick;
      if (bytes !== lastBytes) {
        lastBytes = bytes;
        lastProgress = now;
      }
      const tooSlow = clientMs > BODY_RATE_GRACE_MS && (bytes - startBytes) / (clientMs / 1000) < limits.bodyMinRate;
      if (now - lastProgress >= limits.bodyIdleTimeout || tooSlow) {
        clearInterval(timer);
        body.cut();
      }
    },
    Math.min(1000, limits.bodyIdleTimeout),
  );
  timer.unref();
}
