// The CGI-style response head (RFC 3875 §6) that FastCGI and SCGI responses start with: a `Status:`
// line, the header fields, a blank line. The front end turns it into its own HTTP status line.

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) a gateway response must not carry: the front end frames the
 * response itself (RFC 3875 §6.3.4 leaves framing to the server).
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/** Control characters other than HTAB, replaced in the reason phrase so it cannot split the head. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/g;

/**
 * The response head as bytes: `Status: CODE REASON`, each header, blank line; CRLF line ends.
 * Hop-by-hop headers are left out. Header values were checked when they were set (`assertHeader`).
 *
 * ```ts
 * formatCgiHead(404, 'Not Found', [['Content-Type', 'text/html']])
 * // "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n"
 * ```
 */
export function formatCgiHead(code: number, reason: string, headers: ReadonlyArray<readonly [string, string]>): Buffer {
  let head = `Status: ${code} ${reason.replace(CONTROL, ' ')}\r\n`;
  for (const [name, value] of headers) {
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    head += `${name}: ${value}\r\n`;
  }
  head += '\r\n';
  return Buffer.from(head, 'latin1');
}
