// `trellis/testing`: a Request without sockets (Twisted's DummyRequest) and `render`, which serves one
// such request through a resource or a Site, so resources are unit-tested in memory.
import { Readable } from 'node:stream';
import { RequestHeaders, fieldPairs } from './http/headers.js';
import { Request, type Address, type ResponseSink } from './request.js';
import { connectionLost } from './request-internals.js';
import { Resource } from './resource.js';
import { Site } from './site.js';

/** What the in-memory channel saw of a response. */
export interface TestResponse {
  /** The status sent (0 until the head went out). */
  code: number;
  reason: string;
  /** The header fields as sent, names as given. */
  headers: Array<[string, string]>;
  chunks: Buffer[];
  /** True once the response ended. */
  ended: boolean;
  /** True when the connection was dropped (a response that failed after its head went out). */
  aborted: boolean;
  /** True when the response asked to close the connection afterwards. */
  closeAfter: boolean;
  /** A header's values joined by `, ` (case-insensitive), or undefined. */
  header(name: string): string | undefined;
  /** The body bytes received so far. */
  body(): Buffer;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json(): unknown;
}

/** Options of {@link testRequest} and {@link render}. */
export interface TestRequestOptions {
  /** Default `GET`. */
  method?: string;
  /** The request-target, e.g. `/hello?name=x`. Default `/`. */
  uri?: string;
  /** Default `HTTP/1.1`. */
  clientproto?: string;
  /** Request headers, as pairs (repeats allowed) or an object. Default none. */
  headers?: ReadonlyArray<readonly [string, string]> | Record<string, string>;
  /** The request body. Default none. */
  body?: string | Uint8Array | null;
  /** The client address. Default `192.0.2.1:40000` (TEST-NET-1). */
  client?: Address | null;
  /** Whether the request came over TLS. Default false. */
  secure?: boolean;
  /** Make `write` report a full buffer until `drain()` is called. Default false. */
  backpressure?: boolean;
}

/** A Request on an in-memory channel, and handles on that channel. */
export interface TestRequest {
  request: Request;
  response: TestResponse;
  /** Tells the request the channel has room again (after `write()` returned false). */
  drain(): void;
  /** The client goes away: `notifyFinish()` rejects and `request.signal` fires. */
  disconnect(): void;
}

/**
 * A Request on an in-memory channel (Twisted's `DummyRequest`): call a resource's handler with it, or
 * hand it to `site.handle()`, then read `response`.
 *
 * ```ts
 * const { request, response } = testRequest({ uri: '/hello?name=Ada' });
 * ```
 */
export function testRequest(options: TestRequestOptions = {}): TestRequest {
  const response: TestResponse = {
    code: 0,
    reason: '',
    headers: [],
    chunks: [],
    ended: false,
    aborted: false,
    closeAfter: false,
    header(name) {
      const lower = name.toLowerCase();
      const values = this.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
      return values.length ? values.join(', ') : undefined;
    },
    body() {
      return Buffer.concat(this.chunks);
    },
    text() {
      return this.body().toString('utf8');
    },
    json() {
      return JSON.parse(this.text()) as unknown;
    },
  };
  let drainListener: (() => void) | null = null;
  let request: Request | null = null;
  const sink: ResponseSink = {
    writeHead(code, reason, flat) {
      response.code = code;
      response.reason = reason;
      response.headers = fieldPairs(flat);
    },
    write(chunk) {
      response.chunks.push(Buffer.from(chunk));
      return !options.backpressure;
    },
    end(chunk) {
      if (chunk) response.chunks.push(Buffer.from(chunk));
      response.ended = true;
    },
    endText(text) {
      this.end(Buffer.from(text));
    },
    queuedBytes: () => null,
    onDrain(listener) {
      drainListener = listener;
    },
    abort() {
      // As on a real channel, dropping the connection loses the client.
      response.aborted = true;
      if (request) connectionLost(request, new Error('Connection aborted'));
    },
    closeAfterResponse() {
      response.closeAfter = true;
    },
  };
  const given = options.headers ?? {};
  const pairs: Array<[string, string]> = (Array.isArray(given) ? given : Object.entries(given)).map(([n, v]) => [n, v]);
  const body = options.body === undefined || options.body === null ? null : Buffer.from(options.body);
  request = new Request({
    method: options.method ?? 'GET',
    uri: options.uri ?? '/',
    clientproto: options.clientproto ?? 'HTTP/1.1',
    headers: new RequestHeaders(pairs),
    body: body ? Readable.from([body]) : null,
    client: options.client === undefined ? { type: 'INET', host: '192.0.2.1', port: 40000 } : options.client,
    local: { type: 'INET', host: '127.0.0.1', port: 8080 },
    secure: options.secure ?? false,
    sink,
    channel: 'test',
    contentLength: body ? body.length : null,
  });
  const made = request;
  return {
    request: made,
    response,
    drain() {
      const listener = drainListener;
      drainListener = null;
      listener?.();
    },
    disconnect() {
      connectionLost(made, new Error('Connection lost'));
    },
  };
}

/** Options of {@link render}: the request, and how long to wait for the response. */
export interface RenderOptions extends TestRequestOptions {
  /** Milliseconds to wait for the response to finish before rejecting. Default 5000. */
  timeout?: number;
}

/**
 * Serves one in-memory request through `target` (a resource, served by a Site with default options
 * and no `Server` header, or a Site) and resolves with the response once it has finished or the
 * connection was dropped. Rejects when nothing finishes within `timeout`. Errors a Site would log
 * go to stderr, as they do when serving.
 *
 * ```ts
 * import { render } from 'trellis/testing';
 * const response = await render(new Hello(), { uri: '/hello' });
 * assert.equal(response.text(), 'Hello, world!');
 * ```
 */
export async function render(
  target: Resource | Site,
  options: RenderOptions = {},
): Promise<TestResponse & { request: Request }> {
  const site = target instanceof Resource ? new Site(target, { serverHeader: null }) : target;
  const { request, response } = testRequest(options);
  const timeout = options.timeout ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => request.whenDone(() => resolve()));
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `render(): ${request.method} ${request.uri} did not finish within ${timeout} ms (a NOT_DONE_YET handler that never calls finish()?)`,
          ),
        ),
      timeout,
    );
  });
  try {
    site.handle(request);
    await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
  // A content encoder ends its stream a turn after the response is done.
  await new Promise((resolve) => setImmediate(resolve));
  return Object.assign(response, { request });
}
