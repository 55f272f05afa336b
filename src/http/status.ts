// Reason phrases for status codes (RFC 9110 §15), with Node's table as the source.
import { STATUS_CODES } from 'node:http';

/** The standard reason phrase for `code`, or `Unknown Status`. */
export function reasonPhrase(code: number): string {
  return STATUS_CODES[code] ?? 'Unknown Status';
}

/** Statuses whose responses never carry a body (RFC 9110 §6.4.1). */
export function bodyless(code: number): boolean {
  return code === 204 || code === 304 || (code >= 100 && code < 200);
}
