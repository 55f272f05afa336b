// The CGI-style response head (RFC 3875 §6) that FastCGI and SCGI responses start with: a `Status:`
// line, the header fields, a blank line. The front end turns it into its own HTTP status line.
import { safeReason } from '../http/syntax.js';

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) a gateway response must not carry: the front end frames the
 * response itself (RFC 3875 §6.3.4 leaves framing to the server).
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/** Whether `name` is a hop-by-hop field; the length test spares lower-casing every other name. */
function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
    case 7:
    case 10:
    case 16:
    case 17:
      return HOP_BY_HOP.has(name.toLowerCase());
    default:
      return false;
  }
}


function statusLine(code: number, reason: string): string {
  return `Status: ${code} ${safeReason(reason)}\r\n`;
}

/**
 * The response head as latin1 text, from a flat `[name, value, name, value, ...]` list (what
 * `ResponseSink.writeHeadFlat` receives): `Status: CODE REASON`, each header, blank line; CRLF line
 * ends. Hop-by-hop headers are left out. Header values were checked when they were set
 * (`assertHeader`).
 *
 * ```ts
 * formatCgiHeadText(404, 'Not Found', ['Content-Type', 'text/html'])
 * // "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n"
 * ```
 */
export function formatCgiHeadText(code: number, reason: string, flat: readonly string[]): string {
  let head = statusLine(code, reason);
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (isHopByHop(name)) continue;
    head += `${name}: ${flat[i + 1]!}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * The response head as bytes, from `[name, value]` pairs; the same lines as {@link formatCgiHeadText}.
 *
 * ```ts
 * formatCgiHead(404, 'Not Found', [['Content-Type', 'text/html']])
 * // "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n"
 * ```
 */
export function formatCgiHead(code: number, reason: string, headers: ReadonlyArray<readonly [string, string]>): Buffer {
  let head = statusLine(code, reason);
  for (const [name, value] of headers) {
    if (isHopByHop(name)) continue;
    head += `${name}: ${value}\r\n`;
  }
  head += '\r\n';
  return Buffer.from(head, 'latin1');
}
