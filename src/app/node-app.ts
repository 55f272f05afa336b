// `NodeAppResource`: a `(req, res)` app (Express, Connect, Koa's callback, Fastify's routing, a bare
// node:http listener, or a node:http Server with its listeners) mounted in the resource tree. The app
// gets node:http's own IncomingMessage and ServerResponse, fed from and into the Trellis Request.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { listHas } from '../http/syntax.js';
import { isForbiddenTrailer } from '../http/trailers.js';
import { HOP_BY_HOP } from '../proxy/hop-by-hop.js';
import { NOT_DONE_YET, type Request } from '../request.js';
import { Resource, type RenderResult } from '../resource.js';
import { appPaths } from './mount.js';

/** A node:http request listener: `(req, res) => void`, as Express, Connect and Koa's `callback()` give. */
export type NodeRequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** A node:http `upgrade` listener: `(req, socket, head) => void`, as `ws`'s `handleUpgrade` takes. */
export type NodeUpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;

/** Options of {@link NodeAppResource}. */
export interface NodeAppOptions {
  /**
   * Takes HTTP/1.1 Upgrade requests (WebSockets) with the raw socket. Default: the `upgrade`
   * listeners of the Server given as the app, if any; else Upgrade requests reach the app as ordinary
   * requests.
   */
  upgrade?: NodeUpgradeListener | null;
}

const noop = (): void => {};

/**
 * The connection an app sees as `req.socket`/`res.socket`: it reports the public client address and
 * scheme (`encrypted` over TLS or when a trusted front end said https), pauses and resumes the body,
 * and `destroy()` drops the client's connection. It emits `close` when the client leaves or the
 * response is done, as a node:http socket would for on-finished and friends.
 */
export class AppSocket extends EventEmitter {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  encrypted: boolean | undefined;
  readable = true;
  writable = true;
  destroyed = false;
  readonly writableLength = 0;
  readonly writableHighWaterMark = 16384;
  readonly bytesWritten = 0;
  readonly _paused = false;
  /** What `resume`/`pause` drive (the body pump) and what `destroy` does. */
  onResume: () => void = noop;
  onPause: () => void = noop;
  onDestroy: () => void = noop;

  constructor(request: Request) {
    super();
    const client = request.getClientAddress();
    if (client && client.type !== 'UNIX') {
      this.remoteAddress = client.host;
      this.remotePort = client.port;
      this.remoteFamily = client.type === 'INET6' ? 'IPv6' : 'IPv4';
    }
    const local = request.getHost();
    this.localAddress = local.host;
    this.localPort = local.port;
    if (request.isSecure()) this.encrypted = true;
  }

  resume(): this {
    this.onResume();
    return this;
  }

  pause(): this {
    this.onPause();
    return this;
  }

  destroy(): this {
    if (!this.destroyed) this.onDestroy();
    return this;
  }

  end(): this {
    return this.destroy();
  }

  write(): boolean {
    return true;
  }

  setTimeout(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): { address: string | undefined; port: number | undefined } {
    return { address: this.localAddress, port: this.localPort };
  }

  /** The client left or the exchange is over: readers see a closed socket. */
  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.readable = false;
    this.writable = false;
    this.emit('close', false);
  }
}

/** `HTTP/2` → `[2, 0]`, `HTTP/1.0` → `[1, 0]`; anything else is 1.1. */
function versionOf(clientproto: string): [number, number] {
  if (clientproto === 'HTTP/1.1') return [1, 1];
  if (clientproto === 'HTTP/1.0') return [1, 0];
  if (clientproto.startsWith('HTTP/2')) return [2, 0];
  return [1, 1];
}

/** The request an app reads: node:http's IncomingMessage, plus Express's mount fields. */
export interface AppRequest extends IncomingMessage {
  originalUrl: string;
  baseUrl: string;
}

/** node:http's way in for the lines its parser read: headers, or trailers once `complete` is set. */
type HeaderLines = { _addHeaderLines(lines: string[], n: number): void };

/**
 * Builds the IncomingMessage for `request` on `socket`, mount fields set. `upgrade` shows an HTTP/2
 * WebSocket stream as the HTTP/1.1 Upgrade request a WebSocket server expects.
 */
function incomingFor(request: Request, socket: AppSocket | Duplex, upgrade: string[] | null = null): AppRequest {
  const req = new IncomingMessage(socket as unknown as import('node:net').Socket) as AppRequest;
  const [major, minor] = upgrade ? [1, 1] : versionOf(request.clientproto);
  req.httpVersionMajor = major;
  req.httpVersionMinor = minor;
  req.httpVersion = `${major}.${minor}`;
  req.method = upgrade ? 'GET' : request.method;
  const paths = appPaths(request);
  req.url = paths.url;
  req.originalUrl = paths.original;
  req.baseUrl = paths.base;
  const raw = request.requestHeaders.raw;
  const flat = new Array<string>(raw.length * 2);
  for (let i = 0; i < raw.length; i++) {
    flat[2 * i] = raw[i]![0];
    flat[2 * i + 1] = raw[i]![1];
  }
  // An HTTP/2 (or length-less gateway) body has neither field; body parsers (type-is's hasBody) look
  // for one, so the app sees the body as node:http shows one of unknown length.
  const headers = request.requestHeaders;
  if (request.hasBody && !headers.has('content-length') && !headers.has('transfer-encoding'))
    flat.push('Transfer-Encoding', 'chunked');
  if (upgrade) flat.push(...upgrade);
  // node:http's parser hands its header lines over this way; `req.headers` is then built on first use.
  (req as unknown as HeaderLines)._addHeaderLines(flat, flat.length);
  return req;
}

/**
 * Feeds the Trellis request body into `req` with backpressure: nothing is read (and no
 * `100 Continue` sent) until the app reads; a full `req` buffer pauses the channel's body.
 */
function pumpBody(request: Request, req: AppRequest, socket: AppSocket): void {
  if (!request.hasBody) {
    req.complete = true;
    req.push(null);
    return;
  }
  let body: Readable | null = null;
  socket.onResume = () => {
    if (body) {
      body.resume();
      return;
    }
    body = request.stream();
    body.on('data', (chunk: Buffer) => {
      if (!req.push(chunk)) body!.pause();
    });
    body.once('end', () => {
      req.complete = true;
      // Complete, node:http's IncomingMessage files these lines as `trailers`/`rawTrailers`.
      const trailers = request.trailers.raw;
      if (trailers.length > 0) (req as unknown as HeaderLines)._addHeaderLines(trailers.flat(), trailers.length * 2);
      req.push(null);
    });
    body.once('error', (err) => req.destroy(err));
    body.once('close', () => {
      if (!req.complete) req.destroy();
    });
  };
  socket.onPause = () => body?.pause();
}

/** A Buffer of `chunk` written with `encoding`. */
function toBuffer(chunk: unknown, encoding: BufferEncoding | undefined): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding ?? 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('The "chunk" argument must be of type string or an instance of Buffer or Uint8Array');
}

const REQUEST = Symbol('trellis.request');
const DRAINING = Symbol('trellis.draining');

/** The ServerResponse an app writes; the Trellis request it answers hangs off it. */
type AppResponse = Omit<ServerResponse, 'writeHead'> & {
  [REQUEST]: Request;
  [DRAINING]: boolean;
  _header: string | null;
  _hasBody: boolean;
  writeHead(code: number): AppResponse;
  getRawHeaderNames(): string[];
};

/** Where node:http keeps a response's fields (`{ lower: [name, value] }`), when this Node has it. */
const OUT_HEADERS = Object.getOwnPropertySymbols(
  new ServerResponse(new IncomingMessage(null as unknown as import('node:net').Socket)),
).find((s) => s.description === 'kOutHeaders');

/** The fields set on `res`, names as given: node:http's own store read at once, else name by name. */
function outgoingFields(res: AppResponse): Array<[string, string | number | string[]]> {
  const store = OUT_HEADERS
    ? (res as unknown as Record<symbol, Record<string, [string, string | number | string[]]> | null>)[OUT_HEADERS]
    : undefined;
  if (store !== undefined) return store ? Object.values(store) : [];
  return res.getRawHeaderNames().map((name) => [name, res.getHeader(name)!]);
}

/**
 * Copies the response head the app built into the Trellis request. Runs once, when the head is
 * decided (`writeHead`, or the first write or end).
 */
function writeHead(this: AppResponse, code: number, reason?: unknown, headers?: unknown): AppResponse {
  if (this._header) return this;
  if (typeof reason !== 'string') {
    headers = reason;
    reason = undefined;
  }
  if (Array.isArray(headers)) {
    const list = headers as unknown[];
    if (list.length && Array.isArray(list[0]))
      for (const [name, value] of list as Array<[string, string]>) this.appendHeader(name, value);
    else for (let i = 0; i + 1 < list.length; i += 2) this.appendHeader(list[i] as string, list[i + 1] as string);
  } else if (headers && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers as Record<string, string | number | string[]>)) {
      if (value !== undefined) this.setHeader(name, value);
    }
  }
  const request = this[REQUEST];
  this.statusCode = code;
  if (typeof reason === 'string') this.statusMessage = reason;
  request.setResponseCode(code, typeof reason === 'string' ? reason : this.statusMessage || undefined);
  for (const [name, value] of outgoingFields(this)) {
    const key = name.toLowerCase();
    // `Trailer` announces the app's trailers; the channel needs it to send them.
    if (key === 'trailer') {
      request.setHeader(name, Array.isArray(value) ? value.join(', ') : String(value));
      continue;
    }
    // The connection's own fields (RFC 9110 §7.6.1) are the channel's: it frames and keeps alive.
    if (HOP_BY_HOP.has(key)) {
      if (key === 'connection' && listHas(String(value), 'close')) request.closeConnection();
      continue;
    }
    if (key === 'set-cookie' && Array.isArray(value)) for (const cookie of value) request.addHeader(name, cookie);
    else request.setHeader(name, Array.isArray(value) ? value : String(value));
  }
  if (request.method === 'HEAD' || code === 204 || code === 304) this._hasBody = false;
  this._header = `HTTP/1.1 ${code}\r\n`;
  return this;
}

function writeBody(this: AppResponse, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
  if (typeof encoding === 'function') {
    callback = encoding;
    encoding = undefined;
  }
  if (this.finished) {
    const err = Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' });
    process.nextTick(() => this.emit('error', err));
    if (typeof callback === 'function') process.nextTick(callback as (err: Error) => void, err);
    return false;
  }
  if (!this._header) this.writeHead(this.statusCode);
  const request = this[REQUEST];
  const buffer = toBuffer(chunk, encoding as BufferEncoding | undefined);
  let ok = true;
  if (this._hasBody && buffer.length) ok = request.write(buffer);
  if (typeof callback === 'function') process.nextTick(callback as () => void);
  if (!ok && !this[DRAINING] && !request.disconnected) {
    this[DRAINING] = true;
    void request.drain().then(() => {
      this[DRAINING] = false;
      if (!request.disconnected) this.emit('drain');
    });
  }
  return ok;
}

function endBody(this: AppResponse, chunk?: unknown, encoding?: unknown, callback?: unknown): AppResponse {
  if (typeof chunk === 'function') {
    callback = chunk;
    chunk = undefined;
  } else if (typeof encoding === 'function') {
    callback = encoding;
    encoding = undefined;
  }
  if (typeof callback === 'function') this.once('finish', callback as () => void);
  if (this.finished) return this;
  const request = this[REQUEST];
  const buffer = chunk === undefined || chunk === null ? null : toBuffer(chunk, encoding as BufferEncoding | undefined);
  if (!this._header) {
    // A whole body in one go gets its Content-Length, as node:http gives it.
    if (buffer && this._hasBody !== false && request.method !== 'HEAD' && !this.hasHeader('content-length')) {
      this.setHeader('Content-Length', buffer.length);
    }
    this.writeHead(this.statusCode);
  }
  this.finished = true;
  if (request.disconnected) return this;
  if (!request.startedWriting && buffer && this._hasBody) request.writeWhole(buffer);
  else {
    if (buffer?.length && this._hasBody) request.write(buffer);
    request.finish();
  }
  return this;
}

function flushHeaders(this: AppResponse): void {
  if (!this._header) this.writeHead(this.statusCode);
  const request = this[REQUEST];
  if (!request.startedWriting && this._hasBody) request.write(Buffer.alloc(0));
}

function destroyResponse(this: AppResponse, err?: Error): AppResponse {
  if (this.destroyed) return this;
  this.destroyed = true;
  const request = this[REQUEST];
  if (err && !request.startedWriting) request.processingFailed(err);
  else if (!request.finished) request.abortConnection();
  return this;
}

/**
 * `res.addTrailers()`: the fields go to the Request, sent after the body where the channel carries
 * trailers. A field that may not be a trailer (RFC 9110 §6.5.1) is dropped with a line in the error log.
 */
function addTrailers(this: AppResponse, headers: unknown): void {
  const request = this[REQUEST];
  const pairs: Array<[string, unknown]> = Array.isArray(headers)
    ? (headers as Array<[string, unknown]>)
    : Object.entries((headers ?? {}) as Record<string, unknown>);
  for (const [name, value] of pairs) {
    if (request.finished) return;
    if (isForbiddenTrailer(String(name))) {
      request.site?.logError(`A mounted app's trailer ${name} was dropped: it may not be a trailer (RFC 9110 §6.5.1).`);
      continue;
    }
    request.setTrailer(String(name), String(value));
  }
}

function returnThis<T>(this: T): T {
  return this;
}

/**
 * Builds node:http's ServerResponse for `request`. Its writing methods are own properties, so they
 * stay when a framework swaps the prototype (Express does, for its `res.send`, `res.json`, ...); the
 * header methods are node:http's, so names, values and `headersSent` behave as apps expect.
 */
function responseFor(request: Request, req: AppRequest, socket: AppSocket | Duplex): AppResponse {
  const res = new ServerResponse(req);
  const own = res as unknown as Record<string | symbol, unknown>;
  own[REQUEST] = request;
  own[DRAINING] = false;
  own.socket = socket;
  own.writeHead = writeHead;
  own.write = writeBody;
  own.end = endBody;
  own.flushHeaders = flushHeaders;
  own.addTrailers = addTrailers;
  own.destroy = destroyResponse;
  // The channel sends `100 Continue` itself, when the app first reads the body.
  own.writeContinue = noop;
  own.setTimeout = returnThis;
  own.cork = noop;
  own.uncork = noop;
  return res as unknown as AppResponse;
}

/** The answer went out: `finish` on `res`, then `close` on the socket, `res` and `req`. */
function finished(req: AppRequest, res: AppResponse, socket: AppSocket): void {
  res.emit('prefinish');
  res.emit('finish');
  process.nextTick(() => {
    socket.close();
    res.destroyed = true;
    res.emit('close');
    if (!req.destroyed) req.emit('close');
  });
}

/** The client left first: `req` is destroyed (`aborted` while its body was incomplete), `res` closes. */
function left(req: AppRequest, res: AppResponse, socket: AppSocket): void {
  socket.close();
  if (!req.complete) req.destroy();
  else req.emit('close');
  res.destroyed = true;
  res.emit('close');
}

/**
 * Serves `request` with a `(req, res)` app: the app gets an IncomingMessage whose `url` is the path
 * below the mount (`originalUrl` and `baseUrl` as Express keeps them), whose headers are the request's
 * (the Host a trusted front end named), and whose socket reports the public client address and
 * scheme. Its response goes out through the Request (the Site's headers, access log, backpressure).
 * A listener that throws before the head is sent gets the Site's error page; after, the connection
 * is dropped. The client leaving destroys `req` (`aborted`, `close`) and closes `res` and the socket.
 */
export function serveNodeApp(listener: NodeRequestListener, request: Request): void {
  const socket = new AppSocket(request);
  const req = incomingFor(request, socket);
  const res = responseFor(request, req, socket);
  const app = res as unknown as ServerResponse;
  socket.onDestroy = () => {
    if (!request.finished) request.abortConnection();
  };
  pumpBody(request, req, socket);
  request.whenDone(() => {
    // node:http emits these after `end()` returns, never inside it.
    process.nextTick(request.disconnected ? left : finished, req, res, socket);
  });
  try {
    listener(req, app);
  } catch (err) {
    request.processingFailed(err);
  }
}

/**
 * Hands an HTTP/1.1 Upgrade request with its raw socket to `upgrade`, as node:http's `upgrade` event
 * does; an HTTP/2 WebSocket stream (RFC 8441 extended CONNECT) goes the same way, shown as the
 * HTTP/1.1 Upgrade GET it stands for. Returns false when there is no socket to hand (gateways, or
 * not an Upgrade).
 */
export function upgradeNodeApp(upgrade: NodeUpgradeListener, request: Request): boolean {
  const raw = request.upgrade;
  if (!raw) return false;
  // An HTTP/2 WebSocket (RFC 8441) has no Upgrade field and no key: the app sees the HTTP/1.1 form,
  // with a key of its own (the tunnel drops the Sec-WebSocket-Accept made from it).
  const h2 = raw.protocol === 'websocket' && request.method === 'CONNECT';
  if (!h2 && !request.requestHeaders.has('upgrade')) return false;
  raw.take();
  const fields = h2
    ? ['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Key', randomBytes(16).toString('base64')]
    : null;
  const req = incomingFor(request, raw.socket, fields);
  (req as unknown as { upgrade: boolean }).upgrade = true;
  req.complete = true;
  req.push(null);
  // As node:http leaves it for `upgrade` listeners: neither paused nor flowing, so the first 'data'
  // listener (ws's) starts the flow.
  const socket = raw.socket as Duplex & { readableFlowing: boolean | null };
  socket.readableFlowing = null;
  upgrade(req, raw.socket, raw.head);
  return true;
}

/** Whether `value` is a node:http Server (its `request` listeners are the app). */
function isServer(value: unknown): value is Server {
  return (
    value instanceof EventEmitter &&
    typeof (value as Server).listen === 'function' &&
    typeof (value as Server).listeners === 'function'
  );
}

/**
 * A `(req, res)` app mounted in the tree: Express, Connect, Koa (`app.callback()`), Fastify
 * (`fastify.routing` after `await fastify.ready()`), a bare node:http listener, or a node:http Server
 * (not listening) whose `request` and `upgrade` listeners are the app, so `new WebSocketServer({ server })`
 * works. It is a leaf: everything below the mount point goes to the app, which routes on the path
 * below it. See {@link serveNodeApp} for what the app sees, and docs/node-apps.md.
 *
 * ```ts
 * const app = express();
 * app.get('/', (req, res) => res.send(`mounted at ${req.baseUrl}`));
 * root.putChild('blog', new NodeAppResource(app));   // GET /blog/ → "mounted at /blog"
 * ```
 */
export class NodeAppResource extends Resource {
  override isLeaf = true;
  readonly #listener: NodeRequestListener;
  readonly #upgrade: NodeUpgradeListener | null;

  constructor(app: NodeRequestListener | Server, options: NodeAppOptions = {}) {
    super();
    if (isServer(app)) {
      const server = app;
      this.#listener = (req, res) => server.emit('request', req, res);
      this.#upgrade =
        options.upgrade ??
        (server.listenerCount('upgrade') ? (req, socket, head) => server.emit('upgrade', req, socket, head) : null);
    } else if (typeof app === 'function') {
      this.#listener = app;
      this.#upgrade = options.upgrade ?? null;
    } else {
      throw new TypeError('NodeAppResource needs a (req, res) function or a node:http Server');
    }
  }

  override render(request: Request): RenderResult {
    if (this.#upgrade && upgradeNodeApp(this.#upgrade, request)) return NOT_DONE_YET;
    serveNodeApp(this.#listener, request);
    return NOT_DONE_YET;
  }
}
