// Data: a resource serving fixed bytes with a fixed type.
import { Resource, type RenderResult } from './resource.js';
import type { Request } from './request.js';

/**
 * Serves the same bytes to every GET (and HEAD).
 *
 * ```ts
 * root.putChild('robots.txt', new Data('User-agent: *\nDisallow:\n', 'text/plain; charset=utf-8'));
 * ```
 */
export class Data extends Resource {
  override isLeaf = true;
  readonly data: Buffer;
  readonly type: string;

  constructor(data: string | Uint8Array, type: string) {
    super();
    this.data = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
    this.type = type;
  }

  override GET(request: Request): RenderResult {
    request.setHeader('Content-Type', this.type);
    return this.data;
  }
}
