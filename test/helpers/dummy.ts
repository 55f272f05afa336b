// A request without sockets: a Request wired to an in-memory sink, for unit tests of resources and
// the Site (Twisted's DummyRequest idea).
import { Readable } from 'node:stream';
import { RequestHeaders, fieldPairs } from '../../src/http/headers.js';
import { Request, type Address, type ResponseSink } from '../../src/request.js';
import { connectionLost } from '../../src/request-internals.js';
import type { Site } from '../../src/site.js';

/** What the in-memory sink saw. */
export interface CapturedResponse {
  code: number;
  reason: string;
  headers: Array<[string, string]>;
  chunks: Buffer[];
  ended: boolean;
  aborted: boolean;
  closeAfter: boolean;
  /** A header's values joined by `, ` (case-insensitive), or undefined. */
  header(name: string): string | undefined;
  body(): Buffer;
  text(): string;
}

/** Options of {@link dummyRequest}. */
export interface DummyOptions {
  method?: string;
  uri?: string;
  clientproto?: string;
  headers?: Array<[string, string]> | Record<string, string>;
  body?: string | Buffer | null;
  client?: Address | null;
  secure?: boolean;
  /** Make `write` report a full buffer (backpressure) until `drain()` is called on the result. */
  backpressure?: boolean;
}

/** A Request on an in-memory sink, plus what the sink captured. */
export function dummyRequest(options: DummyOptions = {}) {
  const captured: CapturedResponse = {
    code: 0,
    reason: '',
    headers: [],
    chunks: [],
    ended: false,
    aborted: false,
    closeAfter: false,
    header(name) {
      const values = this.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
      return values.length ? values.join(', ') : undefined;
    },
    body() {
      return Buffer.concat(this.chunks);
    },
    text() {
      return this.body().toString('utf8');
    },
  };
  let drainListener: (() => void) | null = null;
  const sink: ResponseSink = {
    writeHead(code, reason, flat) {
      captured.code = code;
      captured.reason = reason;
      captured.headers = fieldPairs(flat);
    },
    write(chunk) {
      captured.chunks.push(Buffer.from(chunk));
      return !options.backpressure;
    },
    end(chunk) {
      if (chunk) captured.chunks.push(Buffer.from(chunk));
      captured.ended = true;
    },
    endText(text) {
      this.end(Buffer.from(text));
    },
    queuedBytes: () => null,
    onDrain(listener) {
      drainListener = listener;
    },
    abort() {
      captured.aborted = true;
    },
    closeAfterResponse() {
      captured.closeAfter = true;
    },
  };
  const rawHeaders = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
  const body = options.body === undefined || options.body === null ? null : Readable.from([Buffer.from(options.body)]);
  const request = new Request({
    method: options.method ?? 'GET',
    uri: options.uri ?? '/',
    clientproto: options.clientproto ?? 'HTTP/1.1',
    headers: new RequestHeaders(rawHeaders.map(([n, v]) => [n, v] as [string, string])),
    body,
    client: options.client === undefined ? { type: 'INET', host: '192.0.2.1', port: 40000 } : options.client,
    local: { type: 'INET', host: '127.0.0.1', port: 8080 },
    secure: options.secure ?? false,
    sink,
    channel: 'dummy',
    contentLength: options.body === undefined || options.body === null ? null : Buffer.byteLength(options.body),
  });
  // Like a real channel: dropping the connection is a lost connection for the request.
  sink.abort = () => {
    captured.aborted = true;
    connectionLost(request, new Error('Connection aborted'));
  };
  return {
    request,
    response: captured,
    /** Signals that the sink has room again. */
    drain() {
      const l = drainListener;
      drainListener = null;
      l?.();
    },
  };
}

/** Serves one dummy request through `site` and resolves once the response ended (or was aborted). */
export async function render(site: Site, options: DummyOptions = {}): Promise<CapturedResponse & { request: Request }> {
  const { request, response } = dummyRequest(options);
  const done = new Promise<void>((resolve) => request.whenDone(() => resolve()));
  site.handle(request);
  await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
  // Encoded streams end a tick after whenDone; let them settle.
  await new Promise((r) => setImmediate(r));
  return Object.assign(response, { request });
}
