// Per-connection protections for HTTP/2 sessions (SECURITY.md §3.3, §4.1, §4.2): Rapid Reset,
// requests per connection, the header-block deadline and the idle deadline.
import type { Http2Session, Http2Stream, ServerHttp2Stream } from 'node:http2';
import type { SiteLimits } from '../site.js';

/** HTTP/2 error code NO_ERROR (RFC 9113 §7). */
const H2_NO_ERROR = 0x00;
/** HTTP/2 error code INTERNAL_ERROR (RFC 9113 §7). */
export const H2_INTERNAL_ERROR = 0x02;
/** HTTP/2 error code CANCEL (RFC 9113 §7). */
export const H2_CANCEL = 0x08;
/** HTTP/2 error code ENHANCE_YOUR_CALM (RFC 9113 §7). */
const H2_ENHANCE_YOUR_CALM = 0x0b;
/** Client resets per second before the connection is told to calm down. */
const H2_MAX_RESETS_PER_SECOND = 50;
/** Past {@link H2_RATIO_MIN_STREAMS} streams, resets above this share of all streams are a flood too. */
const H2_RESET_RATIO = 0.25;
const H2_RATIO_MIN_STREAMS = 200;
/** Requests served on one HTTP/2 connection before it is asked to go away (SECURITY.md §4.1). */
const H2_MAX_STREAMS_PER_SESSION = 10_000;
/** Longest time one header block may take, whatever `headerTimeout` says (SECURITY.md §4.2). */
const H2_MAX_HEADER_BLOCK_MS = 10_000;
/** Time a GOAWAY frame is given to leave before the connection is torn down. */
const GOAWAY_GRACE_MS = 50;

/** Streams the server reset itself: their reset codes are not the client's. */
const serverResets = new WeakSet<Http2Stream>();

/**
 * What to run when a stream of a guarded session closes, by stream id, for each session a
 * {@link guardSession} watches: the guard's own 'close' listener runs it.
 */
const closeWork = new WeakMap<Http2Session, Map<number, () => void>>();

/**
 * Runs `listener` once `stream` closes. On a guarded session the guard's own 'close' listener calls
 * it (one listener per stream, not two); elsewhere (a user's own server) it is a listener of its own.
 */
export function whenStreamCloses(stream: Http2Stream, listener: () => void): void {
  const pending = closeWork.get(stream.session as Http2Session);
  if (pending !== undefined && stream.id !== undefined) pending.set(stream.id, listener);
  else stream.once('close', listener);
}

/** Resets `stream` from the server's side with `code`; such resets never count as the client's. */
export function resetStream(stream: Http2Stream, code: number): void {
  if (stream.closed || stream.destroyed) return;
  serverResets.add(stream);
  stream.close(code);
}

/** Sends GOAWAY with `code`, then drops the connection once the frame had a moment to leave. */
function endSession(session: Http2Session, code: number, lastStreamId: number): void {
  if (session.destroyed) return;
  session.goaway(code, lastStreamId);
  setTimeout(() => session.destroy(), GOAWAY_GRACE_MS).unref();
}

/**
 * Guards one server-side HTTP/2 session:
 *
 * | what the client does                                | limit                       | then |
 * |-----------------------------------------------------|-----------------------------|------|
 * | resets streams the server has not completed         | 50/s, or 25 % past 200      | GOAWAY ENHANCE_YOUR_CALM |
 * | opens streams                                       | 10 000 per connection       | GOAWAY NO_ERROR |
 * | leaves a header block unfinished (CONTINUATION)     | `headerTimeout`, ≤ 10 s     | GOAWAY and close |
 * | sends no request on a new connection                | `headerTimeout`             | GOAWAY and close |
 * | sends no new request once every stream is done      | `keepAliveTimeout`          | GOAWAY and close |
 *
 * Early resets count (Rapid Reset, CVE-2023-44487, SECURITY.md §4.1): a client reset of a stream
 * whose response has not been sent in full, the case that lets a client start work without bound.
 * A reset that crosses a complete answer on the wire finds a closed stream and never reaches
 * JavaScript; its work was done and its stream slot freed, so it costs what a request costs, and
 * requests are capped per connection. Resets the server sends itself ({@link resetStream}) and
 * streams closed normally do not count. node:http2 tells nothing of a header block
 * until it is complete, so the unfinished one is seen in nghttp2's state: a block has begun
 * (`lastProcStreamID`) for a stream that never became a request.
 * Pinned by test/channels/http2-limits.test.ts and test/channels/http2-timeouts.test.ts.
 */
export function guardSession(
  session: Http2Session,
  limits: Pick<SiteLimits, 'headerTimeout' | 'keepAliveTimeout'>,
): void {
  const headerBlockTimeout = Math.min(limits.headerTimeout, H2_MAX_HEADER_BLOCK_MS);
  let windowStart = Date.now();
  let windowResets = 0;
  let totalResets = 0;
  let streams = 0;
  let open = 0;
  let lastStreamId = 0;
  let idleSince = Date.now();
  let pendingId = 0;
  let pendingSince = 0;
  let ended = false;
  const end = (code: number) => {
    if (ended) return;
    ended = true;
    endSession(session, code, lastStreamId);
  };

  const onReset = () => {
    const now = Date.now();
    if (now - windowStart > 1000) {
      windowStart = now;
      windowResets = 0;
    }
    totalResets++;
    const overRate = ++windowResets > H2_MAX_RESETS_PER_SECOND;
    const overRatio = streams >= H2_RATIO_MIN_STREAMS && totalResets / streams > H2_RESET_RATIO;
    if (overRate || overRatio) end(H2_ENHANCE_YOUR_CALM);
  };

  // A stream closes once: a plain listener, which the channel's own close work rides on
  // (`whenStreamCloses`), so each stream carries one 'close' listener.
  const pending = new Map<number, () => void>();
  closeWork.set(session, pending);
  const runCloseWork = (stream: Http2Stream) => {
    const id = stream.id;
    if (id === undefined) return;
    const work = pending.get(id);
    if (work === undefined) return;
    pending.delete(id);
    work();
  };
  function onStreamClose(this: Http2Stream): void {
    runCloseWork(this);
    if (--open === 0) idleSince = Date.now();
    if (session.destroyed || session.closed) return;
    if (this.rstCode !== H2_NO_ERROR && !serverResets.has(this)) onReset();
  }

  /** A stream past the per-connection cap is neither counted open nor as a reset. */
  function onRefusedClose(this: Http2Stream): void {
    runCloseWork(this);
  }

  session.on('stream', (stream: ServerHttp2Stream) => {
    lastStreamId = Math.max(lastStreamId, stream.id ?? 0);
    if (++streams > H2_MAX_STREAMS_PER_SESSION) {
      session.goaway(H2_NO_ERROR, lastStreamId);
      stream.on('close', onRefusedClose);
      return;
    }
    open++;
    stream.on('close', onStreamClose);
  });

  const check = () => {
    if (session.destroyed || ended) return;
    const now = Date.now();
    const begun = session.state.lastProcStreamID ?? 0;
    if (begun > lastStreamId) {
      if (begun !== pendingId) {
        pendingId = begun;
        pendingSince = now;
      } else if (now - pendingSince >= headerBlockTimeout) {
        end(H2_NO_ERROR);
        return;
      }
    }
    const idleLimit = streams === 0 ? limits.headerTimeout : limits.keepAliveTimeout;
    if (open === 0 && now - idleSince >= idleLimit) end(H2_NO_ERROR);
  };
  const period = Math.max(25, Math.min(1000, Math.floor(Math.min(headerBlockTimeout, limits.keepAliveTimeout) / 4)));
  const timer = setInterval(check, period);
  timer.unref();
  session.once('close', () => clearInterval(timer));
}
