// Render results that are streams: a Node Readable, any AsyncIterable, a web ReadableStream, or a Fetch
// Response, written into a Request with backpressure and stopped when the client goes away.
import type { Request } from '../request.js';

/** A streamed body as a render method may return it. */
export type BodySource = AsyncIterable<unknown> | ReadableStream<unknown>;

interface ChunkIterator {
  next(): Promise<IteratorResult<unknown>>;
  return?(): Promise<unknown>;
}

/** Whether `value` is something {@link pipeBody} can stream: an async iterable or a web stream. */
export function isBodySource(value: unknown): value is BodySource {
  if (value === null || typeof value !== 'object') return false;
  return Symbol.asyncIterator in value || typeof (value as { getReader?: unknown }).getReader === 'function';
}

/** Whether `value` is a Fetch `Response` (the global class, as `new Response()` and `fetch()` give). */
export function isFetchResponse(value: unknown): value is Response {
  return typeof Response === 'function' && value instanceof Response;
}

/**
 * The chunks of `source`, with a `return()` that stops it even while a read is pending: a web stream's
 * reader is cancelled and a Node stream destroyed (an async generator's own `return()` would wait for
 * the pending `next()`); any other iterable gets its `return()`.
 */
function iteratorOf(source: BodySource): ChunkIterator {
  if (typeof (source as { getReader?: unknown }).getReader === 'function') {
    const reader = (source as ReadableStream<unknown>).getReader();
    return {
      next: () => reader.read() as Promise<IteratorResult<unknown>>,
      return: () => reader.cancel(),
    };
  }
  const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const destroy = (source as { destroy?: unknown }).destroy;
  if (typeof destroy !== 'function') return iterator;
  return {
    next: () => iterator.next(),
    return: async () => {
      destroy.call(source);
      return { done: true, value: undefined };
    },
  };
}

/**
 * Writes every chunk of `source` (strings or bytes) to `request`, waiting for `drain()` whenever the
 * channel's buffer is full, then finishes the response. When the client leaves, the source is
 * stopped (`return()`: a Node stream is destroyed, a web stream cancelled). A source that fails, or
 * yields something other than a string or bytes, goes to `processingFailed`: an error page before the
 * first chunk, a dropped connection after.
 */
export async function pipeBody(request: Request, source: BodySource): Promise<void> {
  let iterator: ChunkIterator | null = null;
  const signal = request.signal;
  const stop = (): void => {
    iterator?.return?.().catch(() => {});
  };
  signal.addEventListener('abort', stop, { once: true });
  let failed = false;
  try {
    iterator = iteratorOf(source);
    for (;;) {
      if (request.disconnected) return;
      const { value, done } = await iterator.next();
      if (done || request.disconnected) break;
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
        failed = true;
        stop();
        throw new TypeError(`A streamed body yielded ${describe(value)}: yield strings or Uint8Arrays`);
      }
      if (!request.write(value)) await request.drain();
    }
    request.finish();
  } catch (err) {
    failed = true;
    request.processingFailed(err);
  } finally {
    signal.removeEventListener('abort', stop);
    if (!failed && request.disconnected) stop();
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value)})`;
  return `a ${typeof value}`;
}

// RFC 9110 §7.6.1 and RFC 9112 §6: the channel frames the body itself, so a Response's own framing
// and connection fields are not passed on.
const NOT_PASSED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'upgrade',
  'set-cookie',
]);

/**
 * Answers with a Fetch `Response`: its status and reason, its headers (each `Set-Cookie` kept apart;
 * framing and connection fields left to the channel), and its body streamed by {@link pipeBody}.
 */
export function sendResponse(request: Request, response: Response): Promise<void> | void {
  request.setResponseCode(response.status, response.statusText || undefined);
  response.headers.forEach((value, name) => {
    if (!NOT_PASSED.has(name)) request.setHeader(name, value);
  });
  for (const cookie of response.headers.getSetCookie()) request.addHeader('Set-Cookie', cookie);
  if (!response.body) {
    request.writeWhole('');
    return;
  }
  return pipeBody(request, response.body);
}
