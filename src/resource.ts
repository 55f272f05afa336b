// The resource tree (Twisted's twisted.web.resource): children, traversal, and method dispatch.
import { HttpError } from './errors.js';
import { errorPageHtml } from './pages.js';
import type { Readable } from 'node:stream';
import type { CACHED, NOT_DONE_YET, Request } from './request.js';

/**
 * What a render method may return: a body, a promise of one, or a marker. Anything else (a number,
 * a plain object, `undefined`) would be a 500 at run time, so the type refuses it.
 */
export type RenderResult = RenderBody | Promise<RenderBody>;

/**
 * A rendered body, one of:
 *
 * | value | answer |
 * |---|---|
 * | `string`, `Uint8Array` | the whole body, with its Content-Length |
 * | a Node `Readable`, an `AsyncIterable` of strings or bytes, a web `ReadableStream` | streamed with backpressure |
 * | a Fetch `Response` | its status, headers and body (streamed) |
 * | `CACHED` (from `setETag`/`setLastModified`) | the 304 or 412 those decided, without a body |
 * | `NOT_DONE_YET` | nothing yet: the resource calls `write()`/`finish()` itself |
 *
 * A stream is read only as fast as the client takes it, and stopped when the client leaves. See
 * docs/resources.md.
 */
export type RenderBody =
  | string
  | Uint8Array
  | Readable
  | AsyncIterable<string | Uint8Array>
  | ReadableStream<Uint8Array>
  | Response
  | typeof CACHED
  | typeof NOT_DONE_YET;

/** A method handler (`GET`, `POST`, ...): the request in, a {@link RenderResult} out. */
export type Handler = (request: Request) => RenderResult;

/**
 * Handlers and flags given to `new Resource({...})`: a resource without a class of its own, whose
 * handlers get `request` typed from here.
 *
 * ```ts
 * root.putChild('hello', new Resource({ isLeaf: true, GET: (request) => `Hi from ${request.path}` }));
 * ```
 */
export type ResourceInit = Partial<Pick<Resource, HandlerName | 'isLeaf'>> & ThisType<Resource>;

/** The method handlers `Resource` declares (others, such as WebDAV's, dispatch the same way untyped). */
export type HandlerName = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** A child lookup may answer at once or after some work. */
export type ChildResult = Resource | Promise<Resource>;

/** Methods answered with 405 (with Allow) when a resource has no handler; any other method gets 501. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  // RFC 9110 §9.3
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  // RFC 5789
  'PATCH',
  // RFC 4918 (WebDAV)
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
]);

/** The order methods are listed in an Allow header. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const METHOD_NAME = /^[A-Z][A-Z0-9-]*$/;

const allowedCache = new WeakMap<object, string[]>();

/** Upper-case names of `holder`'s own properties whose values are functions (handlers). */
function addHandlerNames(holder: object, found: Set<string>): void {
  for (const name of Object.getOwnPropertyNames(holder)) {
    if (!METHOD_NAME.test(name)) continue;
    const desc = Object.getOwnPropertyDescriptor(holder, name);
    if (desc && typeof desc.value === 'function') found.add(name);
  }
}

function sortedMethods(found: Set<string>): string[] {
  if (found.has('GET')) found.add('HEAD');
  found.add('OPTIONS');
  const rank = (m: string) => {
    const i = METHOD_ORDER.indexOf(m);
    return i === -1 ? METHOD_ORDER.length : i;
  };
  return [...found].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * Handler names (upper-case methods) a resource answers, with HEAD and OPTIONS implied: those on its
 * prototype chain (cached per class) and those set on the instance itself (`POST = this.GET`).
 */
export function allowedMethods(resource: Resource): string[] {
  if (resource.allowedMethods) return [...resource.allowedMethods];
  const proto = Object.getPrototypeOf(resource) as object;
  let list = allowedCache.get(proto);
  if (!list) {
    const found = new Set<string>();
    for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
      addHandlerNames(p, found);
    }
    list = sortedMethods(found);
    allowedCache.set(proto, list);
  }
  const own = new Set<string>();
  addHandlerNames(resource, own);
  if (own.size === 0) return list;
  for (const m of list) own.add(m);
  return sortedMethods(own);
}

/** Thrown by `render` when the resource has no handler for the method: the Site answers 405 or 501. */
export class UnsupportedMethod extends HttpError {
  readonly allowed: string[];
  constructor(method: string, allowed: string[]) {
    const known = KNOWN_METHODS.has(method);
    super(known ? 405 : 501, known ? 'Method Not Allowed' : 'Not Implemented', {
      code: known ? 'METHOD_NOT_ALLOWED' : 'METHOD_NOT_IMPLEMENTED',
      headers: known ? { Allow: allowed.join(', ') } : {},
    });
    this.allowed = allowed;
  }
}

/**
 * A node of the resource tree, Twisted's model: children by path segment, `getChild` for dynamic
 * children, `isLeaf` to stop traversal, and `render` dispatching on the HTTP method to a method of the
 * same name (`GET`, `POST`, ...). HEAD falls back to GET (the body is dropped); OPTIONS is answered
 * with `Allow`; a method with no handler gets 405 with `Allow`, an unknown method 501.
 *
 * The handlers are declared here, so a subclass's handler is checked against {@link RenderResult}
 * (and, with `noImplicitOverride`, is written `override GET(...)`).
 *
 * ```ts
 * class Hello extends Resource {
 *   override isLeaf = true;
 *   override GET(request: Request) { return `Hello from ${request.prepath.join('/')}`; }
 * }
 * const root = new Resource({ GET: () => 'the root' });   // handlers given inline: `request` is typed
 * root.putChild('hello', new Hello());
 * ```
 */
export class Resource {
  /** When true, traversal stops here and the rest of the path stays in `postpath`. */
  isLeaf = false;
  /** Overrides the methods listed in Allow; default: the handlers the class defines. */
  declare allowedMethods?: readonly string[];
  // Made on first use: most resources (every File a request reaches, every leaf) never hold children.
  #children: Map<string, Resource> | null = null;

  /** Answers GET (and HEAD, without the body). */
  GET?(request: Request): RenderResult;
  /** Answers HEAD; without it HEAD runs `GET` and drops the body. */
  HEAD?(request: Request): RenderResult;
  /** Answers POST. */
  POST?(request: Request): RenderResult;
  /** Answers PUT. */
  PUT?(request: Request): RenderResult;
  /** Answers PATCH. */
  PATCH?(request: Request): RenderResult;
  /** Answers DELETE. */
  DELETE?(request: Request): RenderResult;
  /** Answers OPTIONS; without it OPTIONS is 204 with `Allow` listing the handlers. */
  OPTIONS?(request: Request): RenderResult;

  /**
   * A resource, optionally with handlers and `isLeaf` given inline (their `request` parameter is
   * typed from {@link ResourceInit}, `this` is the resource).
   */
  constructor(init?: ResourceInit) {
    if (init) Object.assign(this, init);
  }

  /** Children by decoded path segment (`''` is the trailing-slash child). */
  get children(): Map<string, Resource> {
    return (this.#children ??= new Map());
  }

  /** Adds a static child at `segment`. */
  putChild(segment: string, child: Resource): void {
    this.children.set(segment, child);
  }

  /** A dynamic child for `segment`; the default is a 404 page. Override to build children on demand. */
  getChild(_segment: string, _request: Request): ChildResult {
    return new NoResource();
  }

  /**
   * Looks in `children` first; then, for the final `''` of a path ending in `/`, answers with this
   * resource itself when it has a handler and keeps the default `getChild` and `render` (see
   * `getChildForRequest`); then asks `getChild`.
   */
  getChildWithDefault(segment: string, request: Request): ChildResult {
    const child = this.#children?.get(segment);
    if (child) return child;
    if (segment === '' && request.postpath.length === 0 && answersOwnSlash(this)) return this;
    return this.getChild(segment, request);
  }

  /** Dispatches on `request.method` to the handler method of the same name. */
  render(request: Request): RenderResult {
    const method = request.method;
    const self = this as unknown as Record<string, unknown>;
    // Only upper-case names dispatch, so a request cannot reach `constructor` or other members.
    if (KNOWN_METHODS.has(method) || METHOD_NAME.test(method)) {
      const handler = self[method];
      if (typeof handler === 'function') return (handler as Handler).call(this, request);
    }
    if (method === 'HEAD' && typeof self.GET === 'function') return (self.GET as Handler).call(this, request);
    const allowed = allowedMethods(this);
    if (method === 'OPTIONS') {
      request.setResponseCode(204);
      request.setHeader('Allow', allowed.join(', '));
      return '';
    }
    throw new UnsupportedMethod(method, allowed);
  }
}

/**
 * Whether `resource` answers its own trailing-slash path (`/` for the root, `/dir/` for a child) when
 * traversal reaches the final `''` segment and it has no `''` child: it keeps the default `getChild`
 * and `render` (a resource that overrides them decides what `''` means itself, as `File` does with
 * index files), and has a handler. Otherwise Twisted's rule applies: `''` is a child like any other,
 * and without one the answer is 404. Wrappers that pass traversal on to the resource they wrap
 * (`getChildWithDefault`) pass this rule on with it.
 */
function answersOwnSlash(resource: Resource): boolean {
  const base = Resource.prototype;
  if (resource.getChild !== base.getChild || resource.render !== base.render) return false;
  return allowedMethods(resource).some((m) => m !== 'OPTIONS' && m !== 'HEAD');
}

/**
 * Walks the tree from `resource`, moving one segment at a time from `postpath` to `prepath`, until a
 * leaf or the end of the path. Stays synchronous unless a `getChild` returns a promise.
 *
 * | path reached | resource | renders |
 * |---|---|---|
 * | `/` or `/dir/` | has a `''` child | that child (Twisted's rule) |
 * | `/` or `/dir/` | no `''` child, default `getChild` and `render`, a handler | the resource itself (and traversal stops there) |
 * | `/` or `/dir/` | no `''` child, no handler | 404 (`getChild('')`) |
 */
export function getChildForRequest(resource: Resource, request: Request): ChildResult {
  while (!resource.isLeaf && request.postpath.length) {
    const segment = request.postpath.shift()!;
    request.prepath.push(segment);
    const next = resource.getChildWithDefault(segment, request);
    if (next instanceof Resource) {
      resource = next;
      continue;
    }
    return Promise.resolve(next).then((child) => getChildForRequest(child, request));
  }
  return resource;
}

/**
 * A resource that answers every request, and every child path below it, with one error page
 * (escaped, `text/html; charset=utf-8`).
 *
 * ```ts
 * root.putChild('old', new ErrorPage(410, 'Gone', 'This page was removed.'));
 * ```
 */
export class ErrorPage extends Resource {
  readonly code: number;
  readonly brief: string;
  readonly detail: string;

  constructor(code: number, brief: string, detail: string) {
    super();
    this.code = code;
    this.brief = brief;
    this.detail = detail;
  }

  override getChild(): Resource {
    return this;
  }

  override render(request: Request): RenderResult {
    request.setResponseCode(this.code);
    request.setHeader('Content-Type', 'text/html; charset=utf-8');
    return errorPageHtml(this.code, this.brief, this.detail);
  }
}

/** 404 "No Such Resource". */
export class NoResource extends ErrorPage {
  constructor(detail = 'Sorry. No luck finding that resource.') {
    super(404, 'No Such Resource', detail);
  }
}

/** 403 "Forbidden Resource". */
export class ForbiddenResource extends ErrorPage {
  constructor(detail = 'Sorry, resource is forbidden.') {
    super(403, 'Forbidden Resource', detail);
  }
}
