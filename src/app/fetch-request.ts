// The Fetch Request a Fetch app receives, built lazily: `method`, `url` and `headers` are answered
// from the Trellis request, and the real Request (undici's, with its body stream and signal) is made
// only when the app asks for anything else (the body, `clone()`, `cache`, ...). Routing a GET costs
// no Request, no AbortController and no stream.
import type { Request } from '../request.js';

// The Fetch API's Request, under a name that says which Request it is.
const FetchRequest = globalThis.Request;

/** Methods whose Fetch Request cannot carry a body. */
const NO_BODY = new Set(['GET', 'HEAD']);

/** The Trellis request body as a web stream, read only when the app reads it (so 100-continue waits too). */
function webBody(request: Request): ReadableStream<Uint8Array> {
  let chunks: AsyncIterator<Buffer> | null = null;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= request.stream()[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength));
      },
      async cancel() {
        await chunks?.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A Fetch `Request` (it passes `instanceof Request`) for a Trellis request at `url`. `signal` is the
 * Trellis request's own (`request.signal`): it aborts when the client leaves, and costs nothing
 * until an app asks for it.
 */
export class LazyFetchRequest {
  readonly #request: Request;
  readonly #url: string;
  #headers: Headers | null = null;
  #real: globalThis.Request | null = null;

  constructor(request: Request, url: string) {
    this.#request = request;
    this.#url = url;
  }

  get method(): string {
    return this.#request.method;
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    if (this.#real) return this.#real.headers;
    if (!this.#headers) {
      const headers = new Headers();
      for (const [name, value] of this.#request.requestHeaders.raw) headers.append(name, value);
      this.#headers = headers;
    }
    return this.#headers;
  }

  get signal(): AbortSignal {
    if (this.#real) return this.#real.signal;
    return this.#request.signal;
  }

  /** The real Request, made on first need, with the same headers, body stream and signal. */
  real(): globalThis.Request {
    if (this.#real) return this.#real;
    const request = this.#request;
    const init: RequestInit & { duplex?: 'half' } = {
      method: request.method,
      headers: this.headers,
      signal: this.#request.signal,
    };
    if (request.hasBody && !NO_BODY.has(request.method)) {
      init.body = webBody(request);
      init.duplex = 'half';
    }
    this.#real = new FetchRequest(this.#url, init);
    return this.#real;
  }
}

// Everything else a Request has is the real Request's: getters and methods delegate to `real()`.
const OWN = new Set(['constructor', 'method', 'url', 'headers', 'signal']);
for (const name of Object.getOwnPropertyNames(FetchRequest.prototype)) {
  if (OWN.has(name)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(FetchRequest.prototype, name)!;
  if (descriptor.get) {
    Object.defineProperty(LazyFetchRequest.prototype, name, {
      configurable: true,
      get(this: LazyFetchRequest) {
        return Reflect.get(FetchRequest.prototype, name, this.real());
      },
    });
  } else if (typeof descriptor.value === 'function') {
    const method = descriptor.value as (...args: unknown[]) => unknown;
    Object.defineProperty(LazyFetchRequest.prototype, name, {
      configurable: true,
      writable: true,
      value(this: LazyFetchRequest, ...args: unknown[]) {
        return method.apply(this.real(), args);
      },
    });
  }
}
Object.setPrototypeOf(LazyFetchRequest.prototype, FetchRequest.prototype);
