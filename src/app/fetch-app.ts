// `FetchAppResource`: a Fetch-API app (`(Request) => Response`: Hono, itty-router, anything exporting
// `fetch`) mounted in the resource tree, its Request built from the Trellis one and its Response
// written back through it with backpressure.
import { HOP_BY_HOP } from '../proxy/hop-by-hop.js';
import { DEFAULT_CONTENT_TYPE, NOT_DONE_YET, type Request } from '../request.js';
import { Resource, type RenderResult } from '../resource.js';
import { LazyFetchRequest } from './fetch-request.js';
import { UndiciResponse, lightResponseParts, undiciResponse, type LightResponseParts } from './light-response.js';
import { publicUrl } from './mount.js';

/** A Fetch handler: a Request in, a Response (or a promise of one) out. */
export type FetchHandler = (request: globalThis.Request) => Response | Promise<Response>;

/** An object with a `fetch` method, as Hono apps and Workers-style modules export. */
export interface FetchApp {
  fetch(request: globalThis.Request, ...rest: never[]): Response | Promise<Response>;
}

/**
 * The Fetch Request for `request`: its public URL (scheme, host and path as `--trust-proxy` and the
 * mount established them), method, headers, the body as a stream, and `signal`, which aborts when the
 * client leaves. Built lazily ({@link LazyFetchRequest}): routing on `method` and `url` makes no
 * undici Request.
 */
export function fetchRequestFor(request: Request): LazyFetchRequest {
  return new LazyFetchRequest(request, publicUrl(request));
}

/** The key of undici's internal Response state, when this Node's Response has one (asked of undici's, whatever the global is). */
const RESPONSE_STATE = Object.getOwnPropertySymbols(new UndiciResponse('')).find((s) => s.description === 'state');

/** What undici keeps of a Response's head: its header list (lower-case names, Set-Cookie values apart in `cookies`). */
interface HeadState {
  headersList?: Iterable<[string, string]> & { cookies?: string[] | null };
}

/** undici's header list of `response`, when this Node keeps one as expected; else null. */
function headerList(response: Response): HeadState['headersList'] | null {
  if (!RESPONSE_STATE) return null;
  const list = (response as unknown as Record<symbol, HeadState | undefined>)[RESPONSE_STATE]?.headersList;
  return list && typeof list[Symbol.iterator] === 'function' ? list : null;
}

/** Checks once that undici's header list reads as `Headers` does (names, values, Set-Cookie apart). */
const HEADER_LIST_READS = ((): boolean => {
  const probe = new UndiciResponse('', {
    headers: [
      ['X-A', '1'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ],
  });
  const list = headerList(probe);
  if (!list) return false;
  const pairs = [...list];
  return pairs.some(([n, v]) => n === 'x-a' && v === '1') && JSON.stringify(list.cookies) === '["a=1","b=2"]';
})();

/**
 * The body a Response was made from when it was a string or bytes and nobody read it yet (undici
 * keeps it as `source`): it is written whole, sparing a stream reader. Null otherwise, or on a Node
 * whose Response keeps no such state; the body is then read from its stream.
 */
function bodySource(response: Response): string | Uint8Array | null {
  if (!RESPONSE_STATE) return null;
  const body = (response as unknown as Record<symbol, { body?: { source?: unknown; stream?: ReadableStream } | null }>)[
    RESPONSE_STATE
  ]?.body;
  // Reading a body locks its stream; `bodyUsed` is not asked (it costs a call into the stream on every
  // response), so a body read and released, or cancelled, before the app returned it goes out whole.
  if (!body || body.stream?.locked) return null;
  const source = body.source;
  return typeof source === 'string' || source instanceof Uint8Array ? source : null;
}

const TICK = Symbol('tick');
const nextTurn = (): Promise<typeof TICK> => new Promise((resolve) => setImmediate(resolve, TICK));

/**
 * Writes a Fetch Response into `request`: status, headers (the connection's own fields dropped, each
 * Set-Cookie kept apart), then the body with backpressure. A body that is complete at once goes out
 * whole with its Content-Length; one still arriving is streamed. The client leaving cancels the body.
 */
export async function sendFetchResponse(app: Response, request: Request): Promise<void> {
  const kept = lightResponseParts(app);
  if (kept) {
    sendKeptResponse(kept, request);
    return;
  }
  // undici's own Response, whose state holds the header list and the body's source.
  const response = undiciResponse(app);
  request.setResponseCode(response.status, response.statusText || undefined);
  copyHeaders(response, request);
  const source = bodySource(response);
  if (source !== null) {
    request.writeWhole(source);
    return;
  }
  const body = response.body;
  if (!body || request.method === 'HEAD') {
    if (body) {
      void body.cancel().catch(() => {});
      // The head a GET would have had: a body without a type gets the default one.
      if (!request.hasResponseHeader('content-type')) request.setHeader('Content-Type', DEFAULT_CONTENT_TYPE);
    }
    request.finish();
    return;
  }
  const reader = body.getReader();
  const first = await reader.read();
  if (first.done) {
    request.finish();
    return;
  }
  let next = reader.read();
  const settled = await Promise.race([next, nextTurn()]);
  if (settled !== TICK && settled.done) {
    request.writeWhole(first.value);
    return;
  }
  let chunk: Uint8Array = first.value;
  for (;;) {
    if (request.disconnected) {
      void reader.cancel().catch(() => {});
      return;
    }
    if (!request.write(chunk)) await request.drain();
    const read = await next;
    if (read.done) break;
    chunk = read.value;
    next = reader.read();
  }
  request.finish();
}

/**
 * Writes a {@link LightResponse} that no undici Response was made for, from what it was made with:
 * the fields as undici would hold them (its Headers copy; a string body's default Content-Type
 * last), then the body whole, or no body.
 */
function sendKeptResponse(kept: LightResponseParts, request: Request): void {
  request.setResponseCode(kept.status, kept.statusText || undefined);
  let typed = false;
  if (kept.headers) {
    for (const [name, value] of kept.headers) {
      if (name === 'content-type') typed = true;
      if (name === 'set-cookie') request.addHeader('Set-Cookie', value);
      else if (!HOP_BY_HOP.has(name)) request.setHeader(name, value);
    }
  }
  if (typeof kept.body === 'string' && !typed) request.setHeader('content-type', 'text/plain;charset=UTF-8');
  if (kept.body === null) request.finish();
  else request.writeWhole(kept.body);
}

/**
 * Copies the Response's fields into `request`, the connection's own left out and each Set-Cookie kept
 * apart. undici's header list is read directly where it reads as expected (in the order the app set
 * them): `Headers.forEach` sorts the names first, a cost on every response.
 */
function copyHeaders(response: Response, request: Request): void {
  const list = HEADER_LIST_READS ? headerList(response) : null;
  if (list) {
    for (const [name, value] of list)
      if (name !== 'set-cookie' && !HOP_BY_HOP.has(name)) request.setHeader(name, value);
    if (list.cookies) for (const cookie of list.cookies) request.addHeader('Set-Cookie', cookie);
    return;
  }
  let cookies = false;
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') cookies = true;
    else if (!HOP_BY_HOP.has(name)) request.setHeader(name, value);
  });
  if (cookies) for (const cookie of response.headers.getSetCookie()) request.addHeader('Set-Cookie', cookie);
}

/**
 * Serves `request` with a Fetch app: the app's Response goes out through the Request. A handler that
 * throws or rejects, or returns something other than a Response, gets the Site's error page while no
 * head was sent; a body that fails later drops the connection.
 */
export function serveFetchApp(handler: FetchHandler, request: Request): void {
  let result: Response | Promise<Response>;
  try {
    result = handler(fetchRequestFor(request) as unknown as globalThis.Request);
  } catch (err) {
    request.processingFailed(err);
    return;
  }
  const send = (response: Response): Promise<void> | void => {
    if (!(response instanceof Response)) {
      throw new TypeError(
        `The fetch app returned ${describe(response)} for ${request.method} ${request.uri}, not a Response`,
      );
    }
    return sendFetchResponse(response, request);
  };
  const failed = (err: unknown): void => request.processingFailed(err);
  if (result instanceof Response) sendFetchResponse(result, request).catch(failed);
  else Promise.resolve(result).then(send).catch(failed);
}

/** A short description of a value, for error messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}

/**
 * A Fetch app mounted in the tree: a `(Request) => Response` function, or an object with `fetch`
 * (a Hono app, an itty-router, a Workers-style module). It is a leaf: every path below the mount goes
 * to the app. The Request's `url` is the public URL, mount included (with Hono, build the app with
 * `basePath(mount)`), its `signal` aborts when the client leaves, and bodies stream both ways.
 *
 * ```ts
 * const app = new Hono().basePath('/api');
 * app.get('/hello', (c) => c.text('hi'));
 * root.putChild('api', new FetchAppResource(app));   // GET /api/hello → "hi"
 * ```
 */
export class FetchAppResource extends Resource {
  override isLeaf = true;
  readonly #handler: FetchHandler;

  constructor(app: FetchHandler | FetchApp) {
    super();
    if (typeof app === 'function') this.#handler = app;
    else if (app && typeof (app as FetchApp).fetch === 'function')
      this.#handler = (req) => (app as FetchApp).fetch(req);
    else throw new TypeError('FetchAppResource needs a (Request) => Response function or an object with fetch()');
  }

  override render(request: Request): RenderResult {
    serveFetchApp(this.#handler, request);
    return NOT_DONE_YET;
  }
}
