// The field rules of an HTTP/2 response head, shared by the stream channel and the WebSocket tunnel:
// which fields it never carries, and how a repeated field is kept.
import type { OutgoingHttpHeaders } from 'node:http2';

/**
 * Connection-specific fields, which an HTTP/2 response must not carry (RFC 9113 §8.2.2): dropped
 * from every response head (node:http2 would throw on them).
 */
export const H2_CONNECTION_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'http2-settings',
]);

/** Adds the field `key` (lower case) to `out`; a repeated field becomes a list, in order. */
export function addField(out: OutgoingHttpHeaders, key: string, value: string): void {
  const prev = out[key];
  if (prev === undefined) out[key] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else out[key] = [String(prev), value];
}
