// Accept-Encoding negotiation (RFC 9110 §12.5.3) with q-values, on top of the `negotiator` library.
import Negotiator from 'negotiator';

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
  const chosen = new Negotiator({ headers: { 'accept-encoding': acceptEncoding } }).encodings([...available]);
  const first = chosen.find((c) => c !== 'identity');
  return first && available.includes(first) ? first : null;
}
