// The channel boundary: every channel (HTTP/1.1, HTTP/2, node:http, Upgrade, FastCGI, SCGI, CGI, AJP)
// turns its wire into request parts, or a refusal, and hands them here; this alone builds the Request
// and runs the Site. Channels hold the Request they get back to say when the client leaves.
import { Request, type Address, type RequestParts, type ResponseSink } from '../request.js';
import { connectionLost as lose } from '../request-internals.js';
import type { Site } from '../site.js';
import { RequestHeaders } from '../http/headers.js';

/** Why a channel refuses a request before it reaches the resources: its status, a detail safe to show. */
export interface Refusal {
  status: number;
  detail: string;
}

/** Where a channel keeps the Request it carries, when its sink needs it while the Site answers. */
export interface RequestHolder {
  request: Request | null;
}

/**
 * Builds the Request from `parts` with the channel's `sink`, and serves it: `site.handle()`, or with
 * `refusal`, `site.refuse()` (the Site's error page and headers, access-logged, the connection closed
 * after the answer). `holder.request` is set before the Site runs, so a response finished at once
 * finds it. Returns the Request, for {@link connectionLost}.
 *
 * ```ts
 * const request = serveParts(site, parts, sink, checkRequestHead(...));
 * socket.once('close', () => connectionLost(request));
 * ```
 */
export function serveParts(
  site: Site,
  parts: RequestParts,
  sink: ResponseSink,
  refusal: Refusal | null = null,
  holder: RequestHolder | null = null,
): Request {
  const request = new Request(parts, sink);
  if (holder !== null) holder.request = request;
  if (refusal === null) site.handle(request);
  else site.refuse(request, refusal.status, refusal.detail);
  return request;
}

/** What a channel knows of a request it refuses before it could read one (see {@link standIn}). */
export interface StandInOptions {
  /** `HEAD` when the refused head began so (its answer then carries no content). Default `GET`. */
  method?: 'GET' | 'HEAD';
  /** Default `HTTP/1.1`. */
  clientproto?: string;
  client?: Address | null;
  local?: Address | null;
  secure?: boolean;
  /** A body stream the channel made before refusing (destroyed with the request's connection). */
  body?: RequestParts['body'];
}

/**
 * The parts of a stand-in `GET /`, answered for a request that never became one (a head or gateway
 * record the channel refused): it carries the refusal's page through `site.refuse()` and the access
 * log.
 */
export function standIn(channel: string, options: StandInOptions = {}): RequestParts {
  return {
    method: options.method ?? 'GET',
    uri: '/',
    clientproto: options.clientproto ?? 'HTTP/1.1',
    headers: new RequestHeaders(),
    body: options.body ?? null,
    client: options.client ?? null,
    local: options.local ?? null,
    secure: options.secure ?? false,
    channel,
    contentLength: null,
  };
}

/**
 * Tells `request` its client went away before the response was finished (a FIN or reset, a closed
 * stream or gateway connection, an abort record): `notifyFinish()` rejects with `reason` and the access
 * log marks the line `aborted`. Does nothing once the response is complete.
 */
export function connectionLost(request: Request, reason?: Error): void {
  lose(request, reason);
}
