// A small resource tree for the proxy tests: `/where` reports how the request sees itself, `/dir`
// redirects to its slash with an absolute URL built from prePathURL (as web2's File did).
import { Resource, type RenderResult } from '../../src/resource.js';
import type { Request } from '../../src/request.js';
import { redirectTo } from '../../src/util/redirect.js';

/** How `request` sees itself: its prePathURL, client, scheme, Host and path split. */
export function whereOf(request: Request): Record<string, unknown> {
  return {
    prePathURL: request.prePathURL(),
    client: request.getClientIP(),
    secure: request.isSecure(),
    host: request.getHeader('host') ?? null,
    prepath: request.prepath,
    postpath: request.postpath,
  };
}

export class Where extends Resource {
  override isLeaf = true;
  override GET(request: Request): RenderResult {
    request.setHeader('Content-Type', 'application/json');
    return JSON.stringify(whereOf(request));
  }
}

/** A directory-like resource: without the slash it redirects to `prePathURL()/`. */
export class Dir extends Resource {
  constructor() {
    super();
    this.putChild('', new Where());
  }
  override GET(request: Request): RenderResult {
    return redirectTo(`${request.prePathURL()}/`, request, 301);
  }
}

export function tree(): Resource {
  const root = new Resource();
  root.putChild('where', new Where());
  root.putChild('dir', new Dir());
  root.putChild('', new Where());
  return root;
}
