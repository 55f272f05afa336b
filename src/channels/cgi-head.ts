// The CGI-style response head (RFC 3875 §6) that FastCGI and SCGI responses start with: a `Status:`
// line, the header fields, a blank line. The front end turns it into its own HTTP status line.
import { cgiStatusLine, fieldSet, writeHead } from '../http/head-writer.js';

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) a gateway response must not carry: the front end frames the
 * response itself (RFC 3875 §6.3.4 leaves framing to the server).
 */
const HOP_BY_HOP = fieldSet([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
]);

/**
 * The response head as latin1 text, from a flat `[name, value, name, value, ...]` list (what
 * `ResponseSink.writeHead` receives): `Status: CODE REASON`, each header, blank line; CRLF line
 * ends. Hop-by-hop headers are left out. Header values were checked when they were set
 * (`assertHeader`); the shared head writer (src/http/head-writer.ts) makes the reason safe.
 *
 * ```ts
 * formatCgiHeadText(404, 'Not Found', ['Content-Type', 'text/html'])
 * // "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n"
 * ```
 */
export function formatCgiHeadText(code: number, reason: string, flat: readonly string[]): string {
  return writeHead(cgiStatusLine(code, reason), flat, HOP_BY_HOP);
}
