// Accept-Encoding negotiation (RFC 9110 §12.5.3) with q-values, on top of the `negotiator` library.
import { createRequire } from 'node:module';

type NegotiatorClass = typeof import('negotiator');
let NegotiatorLib: NegotiatorClass | null = null;
/** `negotiator`, loaded on first use: a CommonJS import costs every start-up (`trellis cgi`) a parse. */
function negotiatorClass(): NegotiatorClass {
  NegotiatorLib ??= createRequire(import.meta.url)('negotiator') as NegotiatorClass;
  return NegotiatorLib;
}

interface PreferringNegotiator {
  encodings(available: string[], options: { preferred: string[] }): string[];
}

/**
 * The coding to use among `available` (server preference order for ties), or null for identity.
 *
 * | Accept-Encoding         | available     | result |
 * |-------------------------|---------------|--------|
 * | `gzip, br`              | br, gzip      | br     |
 * | `gzip;q=1, br;q=0.5`    | br, gzip      | gzip   |
 * | `gzip;q=0`              | gzip          | null   |
 * | `*`                     | br, gzip      | br     |
 * | absent                  | br, gzip      | null   |
 */
export function negotiateEncoding(acceptEncoding: string | undefined, available: readonly string[]): string | null {
  if (acceptEncoding === undefined || acceptEncoding.trim() === '') return null;
  // negotiator 1.x takes a server preference for ties; its published types predate that argument.
  const Negotiator = negotiatorClass();
  const negotiator = new Negotiator({
    headers: { 'accept-encoding': acceptEncoding },
  }) as unknown as PreferringNegotiator;
  const chosen = negotiator.encodings([...available], { preferred: [...available] });
  const first = chosen.find((c) => c !== 'identity');
  return first && available.includes(first) ? first : null;
}
