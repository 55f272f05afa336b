// `LightResponse`: a Fetch `Response` that keeps what it was made from (a string, bytes or no body; a
// status; headers) and makes undici's Response only when something asks for more than Trellis reads
// to send it. `new Response(text)` in undici builds a web stream per response, most of a small Fetch
// app's time; `installLightResponse()` puts this class in its place as the global `Response`.

/** The Response this Node had when Trellis was loaded: undici's, which every LightResponse delegates to. */
export const UndiciResponse: typeof Response = globalThis.Response;
const RealResponse = UndiciResponse;

type BodyArgument = ConstructorParameters<typeof Response>[0];
type InitArgument = ConstructorParameters<typeof Response>[1];
type HeadersArgument = ConstructorParameters<typeof Headers>[0];

/** What a LightResponse keeps while no undici Response was made for it. */
export interface LightResponseParts {
  status: number;
  statusText: string;
  /** A private copy of the headers given (validated as the Response constructor does), or null for none. */
  headers: Headers | null;
  /** The body: a string, a private copy of the bytes, or null. */
  body: string | Uint8Array | null;
}

/** Statuses whose Response may have no body (Fetch "null body status"; 101 and 103 are out of range anyway). */
const NULL_BODY_STATUS = new Set([204, 205, 304]);

/** A reason phrase as RFC 9112 §4 allows it: HTAB, SP, VCHAR, obs-text. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The parts of `new Response(body, init)` when they can be kept as given: a string, Uint8Array or
 * null body, a plain-object init with an integer status in 200..599, a valid reason phrase and any
 * headers the Headers constructor accepts. Null for anything else, which undici then builds (and
 * refuses, with its own error, when it is wrong).
 */
function keepParts(body: unknown, init: unknown): LightResponseParts | null {
  let headersInit: unknown;
  let status: unknown;
  let statusText: unknown;
  if (init !== undefined && init !== null) {
    if (typeof init !== 'object') return null;
    const proto = Object.getPrototypeOf(init);
    if (proto !== Object.prototype && proto !== null) return null;
    // Read once each, in the order WebIDL reads a ResponseInit dictionary.
    headersInit = (init as ResponseInit).headers;
    status = (init as ResponseInit).status;
    statusText = (init as ResponseInit).statusText;
  }
  if (status === undefined) status = 200;
  else if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return null;
  if (statusText === undefined) statusText = '';
  else if (typeof statusText !== 'string' || !REASON_PHRASE.test(statusText)) return null;
  let kept: string | Uint8Array | null;
  if (body === undefined || body === null) kept = null;
  else if (typeof body === 'string') kept = body;
  // undici copies a view's bytes at construction; so does this, so later writes to it change nothing.
  else if (body instanceof Uint8Array)
    kept = new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  else return null;
  if (kept !== null && NULL_BODY_STATUS.has(status as number)) return null;
  let headers: Headers | null = null;
  if (headersInit !== undefined) {
    try {
      headers = new Headers(headersInit as HeadersArgument);
    } catch {
      return null;
    }
  }
  return { status: status as number, statusText: statusText as string, headers, body: kept };
}

let partsOf: (response: object) => LightResponseParts | null;
let undiciOf: (response: Response) => Response;

/**
 * A Fetch `Response` that undici makes only on demand. Constructed with a string, bytes or no body
 * and a plain init, it keeps them, and {@link lightResponseParts} hands them to Trellis to send;
 * anything else it is asked (`headers`, `body`, `text()`, `json()`, `clone()`, `ok`, `type`, ...)
 * is answered by the undici Response it then makes from the same arguments, so it behaves as one.
 * Any other body or init is given to undici at once (its errors thrown from the constructor, as ever).
 *
 * Both ways `instanceof` hold: a LightResponse is an `instanceof` undici's Response (its prototype is
 * on the chain), and an undici Response is an `instanceof LightResponse`. Its statics (`json`,
 * `redirect`, `error`) are undici's; `name` is `Response`; subclasses work.
 */
export class LightResponse {
  #parts: LightResponseParts | null;
  #real: Response | null = null;

  constructor(body?: BodyArgument, init?: InitArgument) {
    this.#parts = keepParts(body, init);
    if (!this.#parts) this.#real = new RealResponse(body, init);
  }

  static {
    partsOf = (response) => (#parts in response && response.#real === null ? response.#parts : null);
    undiciOf = (response) => (#parts in response ? response.#response() : response);
  }

  /** The undici Response this one stands for, made on first need. */
  #response(): Response {
    if (this.#real) return this.#real;
    const parts = this.#parts as LightResponseParts;
    const init = { status: parts.status, statusText: parts.statusText };
    this.#real = new RealResponse(parts.body, parts.headers ? { ...init, headers: parts.headers } : init);
    this.#parts = null;
    return this.#real;
  }

  static {
    // Whatever a Response has, a LightResponse answers from undici's: getters and methods delegate.
    const delegate = (response: LightResponse): Response => response.#response();
    for (const key of Reflect.ownKeys(RealResponse.prototype)) {
      if (key === 'constructor' || key === Symbol.toStringTag) continue;
      const descriptor = Object.getOwnPropertyDescriptor(RealResponse.prototype, key);
      if (!descriptor) continue;
      if (descriptor.get) {
        const get = descriptor.get;
        Object.defineProperty(LightResponse.prototype, key, {
          configurable: true,
          enumerable: descriptor.enumerable ?? false,
          get(this: LightResponse) {
            return get.call(delegate(this));
          },
        });
      } else if (typeof descriptor.value === 'function') {
        const method = descriptor.value as (...args: unknown[]) => unknown;
        Object.defineProperty(LightResponse.prototype, key, {
          configurable: true,
          enumerable: descriptor.enumerable ?? false,
          writable: true,
          value: {
            [method.name](this: LightResponse, ...args: unknown[]) {
              return method.apply(delegate(this), args);
            },
          }[method.name],
        });
      }
    }
    // What Trellis reads to send a Response needs no undici Response while none was made.
    const parts = (response: LightResponse): LightResponseParts | null =>
      response.#real === null ? response.#parts : null;
    Object.defineProperty(LightResponse.prototype, 'status', {
      configurable: true,
      enumerable: true,
      get(this: LightResponse) {
        return parts(this)?.status ?? delegate(this).status;
      },
    });
    Object.defineProperty(LightResponse.prototype, 'statusText', {
      configurable: true,
      enumerable: true,
      get(this: LightResponse) {
        const kept = parts(this);
        return kept ? kept.statusText : delegate(this).statusText;
      },
    });
    Object.defineProperty(LightResponse.prototype, 'ok', {
      configurable: true,
      enumerable: true,
      get(this: LightResponse) {
        const kept = parts(this);
        return kept ? kept.status >= 200 && kept.status <= 299 : delegate(this).ok;
      },
    });
  }

  /**
   * True for any Response, light or undici's, when asked of `LightResponse` itself (so `instanceof
   * Response` holds for `fetch()`'s answers once this is the global); a subclass is asked as usual.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked, LightResponse or a subclass
    if (this === LightResponse) return value instanceof RealResponse;
    // biome-ignore lint/complexity/noThisInStatic: as above
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

Object.defineProperty(LightResponse, 'name', { value: 'Response' });
Object.defineProperty(LightResponse, 'length', { value: RealResponse.length });
Object.setPrototypeOf(LightResponse, RealResponse);
Object.setPrototypeOf(LightResponse.prototype, RealResponse.prototype);

/**
 * The status, headers and body a {@link LightResponse} was made with, while no undici Response was
 * made for it (nothing read its headers, body or anything else); null for any other value.
 */
export function lightResponseParts(response: object): LightResponseParts | null {
  return partsOf(response);
}

/** The undici Response behind `response`: made now for a {@link LightResponse}, else `response` itself. */
export function undiciResponse(response: Response): Response {
  return undiciOf(response);
}

/**
 * Makes {@link LightResponse} the global `Response`, so Fetch apps (Hono's `c.text()`, `c.json()`,
 * `new Response(...)`) build no undici Response for what Trellis sends whole. Returns a function
 * that puts back the `Response` that was there. `trellis web --app` does this for a Fetch app
 * unless `--no-light-response`; a program that mounts `FetchAppResource` calls it itself:
 *
 * ```ts
 * import { installLightResponse } from 'trellis';
 * installLightResponse();
 * ```
 *
 * It changes `Response` for the whole process: every `new Response(...)` makes a LightResponse,
 * which behaves as undici's (see {@link LightResponse}).
 */
export function installLightResponse(): () => void {
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'Response');
  if (previous && 'value' in previous && previous.value === LightResponse) return () => {};
  Object.defineProperty(globalThis, 'Response', {
    configurable: true,
    enumerable: previous?.enumerable ?? false,
    writable: true,
    value: LightResponse,
  });
  return () => {
    if (globalThis.Response !== (LightResponse as unknown as typeof Response)) return;
    if (previous) Object.defineProperty(globalThis, 'Response', previous);
  };
}

/** Whether the global `Response` is Trellis's {@link LightResponse}. */
export function lightResponseInstalled(): boolean {
  return globalThis.Response === (LightResponse as unknown as typeof Response);
}
