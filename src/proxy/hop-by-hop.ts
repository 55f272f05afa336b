// Hop-by-hop header stripping for both directions of a proxy (SECURITY.md §6.5, RFC 9110 §7.6.1).
import { listHas } from '../http/syntax.js';

/** Fields that describe one connection, never forwarded (RFC 9110 §7.6.1, RFC 9112 §9.6, SECURITY.md §4.4). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

/** Names `Connection` may never remove: framing, routing and our own forwarding fields (SECURITY.md §6.5). */
export const PROTECTED: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'forwarded',
]);

/** Options of {@link stripHopByHop}. */
export interface StripOptions {
  /** Keep `Upgrade` and `Connection: upgrade` (a WebSocket route). Default false. */
  keepUpgrade?: boolean;
  /** Further names (lower case) to drop. */
  drop?: ReadonlySet<string>;
}

/**
 * Removes hop-by-hop fields and every field named in `Connection` (except the protected ones) from
 * `pairs`, keeping order and duplicates. `TE: trailers` survives as `TE: trailers`.
 *
 * | input                                   | output             |
 * |-----------------------------------------|--------------------|
 * | `Connection: x-a`, `X-A: 1`, `X-B: 2`   | `X-B: 2`           |
 * | `Connection: host`, `Host: h`           | `Host: h`          |
 * | `TE: gzip, trailers`                    | `TE: trailers`     |
 * | `Upgrade: h2c`, `HTTP2-Settings: x`     | (nothing)          |
 */
export function stripHopByHop(
  pairs: ReadonlyArray<readonly [string, string]>,
  options: StripOptions = {},
): Array<[string, string]> {
  const listed = new Set<string>();
  for (const [name, value] of pairs) {
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase();
      if (t && !PROTECTED.has(t)) listed.add(t);
    }
  }
  const keepUpgrade = options.keepUpgrade ?? false;
  if (keepUpgrade) listed.delete('upgrade');
  const out: Array<[string, string]> = [];
  let trailers = false;
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    if (options.drop?.has(key)) continue;
    if (key === 'te') {
      if (listHas(value, 'trailers')) trailers = true;
      continue;
    }
    if (keepUpgrade && key === 'upgrade') {
      out.push([name, value]);
      continue;
    }
    if (HOP_BY_HOP.has(key) || listed.has(key)) continue;
    out.push([name, value]);
  }
  if (trailers) out.push(['TE', 'trailers']);
  if (keepUpgrade && pairs.some(([n]) => n.toLowerCase() === 'upgrade')) out.push(['Connection', 'Upgrade']);
  return out;
}

/**
 * The lower-case names listed in the `Connection` fields of a flat `[name, value, ...]` list, except
 * the protected ones and `close`/`keep-alive`; null when there are none (the usual case).
 */
export function connectionListed(flat: readonly string[]): Set<string> | null {
  let listed: Set<string> | null = null;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const token of flat[i + 1]!.split(',')) {
      const t = token.trim().toLowerCase();
      if (t && t !== 'close' && t !== 'keep-alive' && !PROTECTED.has(t)) (listed ??= new Set()).add(t);
    }
  }
  return listed;
}
