// The Fetch channel: a Fetch API Request served by a Site in memory, answered with a Response whose
// body streams with backpressure. `site.fetch()` runs here, so a Site runs inside any Fetch host
// (Deno.serve, Bun.serve, Workers-style runtimes, a test) without a socket.
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { RequestHeaders } from '../http/headers.js';
import { bodyless } from '../http/status.js';
import type { Address, ResponseSink } from '../request.js';
import { installFetchChannel, type Site } from '../site.js';
import { connectionLost, serveParts } from './boundary.js';

/** Response body bytes queued for the Fetch host before `write` reports a full buffer. */
const QUEUE_BYTES = 64 * 1024;

/** Options of {@link serveFetch}. */
export interface FetchServeOptions {
  /** The client's address, when the host knows it. Default none. */
  client?: Address | null;
}

/**
 * Serves a Fetch `Request` through `site`: its URL gives the path, the Host (unless a Host header is
 * set) and the scheme; its body streams in; the Response resolves once the head is written, its body
 * streaming out with backpressure. The request's `signal` aborting, or the body being cancelled, is the
 * client leaving. Refusals and errors are the Site's own pages.
 *
 * ```ts
 * const response = await site.fetch(new globalThis.Request('http://localhost/hello'));
 * ```
 */
export function serveFetch(
  site: Site,
  fetchRequest: globalThis.Request,
  options: FetchServeOptions = {},
): Promise<Response> {
  const url = new URL(fetchRequest.url);
  const fields: Array<[string, string]> = [];
  let host = false;
  let contentLength: number | null = null;
  fetchRequest.headers.forEach((value, name) => {
    if (name === 'host') host = true;
    else if (name === 'content-length' && /^\d{1,15}$/.test(value)) contentLength = Number(value);
    fields.push([name, value]);
  });
  if (!host) fields.unshift(['host', url.host]);
  const webBody = fetchRequest.body;
  const parts = {
    method: fetchRequest.method,
    uri: url.pathname + url.search,
    clientproto: 'HTTP/1.1',
    headers: new RequestHeaders(fields),
    body: webBody ? Readable.fromWeb(webBody as unknown as NodeReadableStream<Uint8Array>) : null,
    client: options.client ?? null,
    local: null,
    secure: url.protocol === 'https:',
    channel: 'fetch',
    contentLength,
  };
  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let drain: (() => void) | null = null;
    let closed = false;
    let lost: (() => void) | null = null;
    const body = new ReadableStream<Uint8Array>(
      {
        start(c) {
          controller = c;
        },
        pull() {
          const listener = drain;
          drain = null;
          listener?.();
        },
        cancel() {
          closed = true;
          lost?.();
        },
      },
      { highWaterMark: QUEUE_BYTES, size: (chunk) => chunk.byteLength },
    );
    const enqueue = (chunk: Buffer) => {
      if (!closed && chunk.length) controller.enqueue(chunk);
    };
    const close = () => {
      if (closed) return;
      closed = true;
      controller.close();
    };
    const sink: ResponseSink = {
      writeHead(code, reason, flat) {
        const headers = new Headers();
        for (let i = 0; i + 1 < flat.length; i += 2) headers.append(flat[i]!, flat[i + 1]!);
        const empty = bodyless(code) || fetchRequest.method === 'HEAD';
        if (empty) close();
        settled = true;
        resolve(new Response(empty ? null : body, { status: code, statusText: reason, headers }));
      },
      write(chunk) {
        enqueue(chunk);
        return closed || (controller.desiredSize ?? 0) > 0;
      },
      end(chunk) {
        if (chunk) enqueue(chunk);
        close();
      },
      endText(text) {
        this.end(Buffer.from(text));
      },
      onDrain(listener) {
        drain = listener;
      },
      abort() {
        if (!closed) {
          closed = true;
          controller.error(new Error('The response was aborted'));
        }
        if (!settled) {
          settled = true;
          reject(new Error('The site dropped the request without an answer'));
        }
      },
      closeAfterResponse() {},
      queuedBytes: () => null,
    };
    const request = serveParts(site, parts, sink);
    lost = () => connectionLost(request);
    const signal = fetchRequest.signal;
    if (signal.aborted) lost();
    else signal.addEventListener('abort', lost, { once: true });
  });
}

installFetchChannel(serveFetch);
