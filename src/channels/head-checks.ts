// The request-head checks Node's own HTTP parsers (node:http, node:http2) do not make but Trellis does:
// pure, from the request line parts and raw header pairs to a refusal or null.
import { isHost } from '../http/syntax.js';
import type { SiteLimits } from '../site.js';
import type { Refusal } from './boundary.js';

/**
 * The checks Node's HTTP parser does not make (SECURITY.md §3.1, default limits). Pure: the request
 * line parts and raw header pairs in, a refusal or null out.
 *
 * | input                                   | result |
 * |-----------------------------------------|--------|
 * | target longer than `maxUriLength`       | 414    |
 * | more than `maxHeaderCount` fields       | 431    |
 * | header bytes over `maxHeaderBytes`      | 431    |
 * | two Host fields                         | 400    |
 * | Host not a host[:port]                  | 400    |
 * | Transfer-Encoding on HTTP/1.0           | 400    |
 * | Transfer-Encoding other than `chunked`  | 400    |
 */
export function checkRequestHead(
  uri: string,
  httpVersion: string,
  rawHeaders: readonly string[],
  limits: Pick<SiteLimits, 'maxUriLength' | 'maxHeaderCount' | 'maxHeaderBytes'>,
): Refusal | null {
  if (uri.length > limits.maxUriLength)
    return { status: 414, detail: `The request URI is longer than ${limits.maxUriLength} bytes.` };
  if (rawHeaders.length / 2 > limits.maxHeaderCount) {
    return { status: 431, detail: `The request has more than ${limits.maxHeaderCount} header fields.` };
  }
  let bytes = 0;
  let hosts = 0;
  let host: string | undefined;
  let te: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    bytes += name.length + value.length + 4;
    const lower = name.length === 4 || name.length === 17 ? name.toLowerCase() : '';
    if (lower === 'host') {
      hosts++;
      host = value;
    } else if (lower === 'transfer-encoding') {
      te = te === undefined ? value : `${te}, ${value}`;
    }
  }
  if (bytes > limits.maxHeaderBytes)
    return { status: 431, detail: `The request headers are larger than ${limits.maxHeaderBytes} bytes.` };
  if (hosts > 1) return { status: 400, detail: 'The request has more than one Host header.' };
  if (host !== undefined && host !== '' && !isHost(host))
    return { status: 400, detail: 'The Host header is not a valid host.' };
  if (te !== undefined) {
    if (httpVersion === '1.0') return { status: 400, detail: 'Transfer-Encoding is not allowed in HTTP/1.0 requests.' };
    if (te.trim().toLowerCase() !== 'chunked')
      return { status: 400, detail: 'Only "Transfer-Encoding: chunked" is accepted.' };
  }
  return null;
}
