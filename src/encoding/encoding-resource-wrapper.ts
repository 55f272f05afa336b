// EncodingResourceWrapper: compresses what a resource renders, negotiated per request.
import { Resource, type ChildResult, type RenderResult } from '../resource.js';
import type { Request } from '../request.js';
import type { EncoderFactory } from './encoders.js';
import { negotiateEncoding } from './negotiate.js';

/** Adds `Accept-Encoding` to Vary unless it is there already. */
export function varyOnAcceptEncoding(request: Request): void {
  const vary = request.getResponseHeader('vary');
  if (!vary) request.setHeader('Vary', 'Accept-Encoding');
  else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) request.setHeader('Vary', `${vary}, Accept-Encoding`);
}

/**
 * Wraps a resource so its responses are compressed with the best coding the client accepts (q-values
 * honoured; factories listed first win ties). Always sends `Vary: Accept-Encoding`. Leaves alone tiny
 * bodies, already-encoded bodies, ranges and compressed media types. As in Twisted, only the wrapped
 * resource is encoded, not its children.
 *
 * ```ts
 * root.putChild('api', new EncodingResourceWrapper(api, [new BrotliEncoderFactory(), new GzipEncoderFactory()]));
 * ```
 */
export class EncodingResourceWrapper extends Resource {
  readonly original: Resource;
  readonly factories: readonly EncoderFactory[];
  readonly #codings: string[];

  constructor(original: Resource, factories: readonly EncoderFactory[]) {
    super();
    this.original = original;
    this.factories = factories;
    this.isLeaf = original.isLeaf;
    this.#codings = factories.map((f) => f.encoding);
  }

  override getChildWithDefault(segment: string, request: Request): ChildResult {
    return this.original.getChildWithDefault(segment, request);
  }

  override render(request: Request): RenderResult {
    varyOnAcceptEncoding(request);
    const coding = negotiateEncoding(request.getHeader('accept-encoding'), this.#codings);
    if (coding) {
      const encoder = this.factories.find((f) => f.encoding === coding)!.encoderForRequest(request);
      if (encoder) request.setEncoder(encoder);
    }
    return this.original.render(request);
  }
}
