// Trailer fields (RFC 9110 §6.5): which fields may travel after the body, checked the same way for
// the trailers a resource sends and the ones a client sends.
import { hasControlChars, isToken } from './syntax.js';

/**
 * Fields that never go in a trailer section (RFC 9110 §6.5.1): a recipient needs them before the
 * body, or they change how the message is framed, routed, authenticated, cached or interpreted.
 * Every `Content-*` field is refused too, but `Content-Digest` (RFC 9530 §2 lets it follow the body).
 */
const FORBIDDEN = new Set([
  // framing and the connection (RFC 9110 §6.5.1, RFC 9112 §6, §9.6)
  'transfer-encoding',
  'content-length',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  // routing
  'host',
  // request modifiers: controls and conditionals (RFC 9110 §10.1, §13)
  'cache-control',
  'expect',
  'max-forwards',
  'pragma',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  // authentication and state
  'authorization',
  'proxy-authorization',
  'www-authenticate',
  'proxy-authenticate',
  'authentication-info',
  'proxy-authentication-info',
  'cookie',
  'set-cookie',
  // response control data (RFC 9110 §15) and caching
  'age',
  'date',
  'expires',
  'location',
  'retry-after',
  'vary',
  'warning',
  'alt-svc',
]);

/** Whether the field `name` (any case) may not be sent or shown as a trailer. */
export function isForbiddenTrailer(name: string): boolean {
  const key = name.toLowerCase();
  if (FORBIDDEN.has(key) || key.charCodeAt(0) === 58 /* ':' pseudo-field */) return true;
  return key.startsWith('content-') && key !== 'content-digest';
}

/**
 * Checks a trailer field a resource sends. Throws a TypeError saying what is wrong: a name that is
 * not a token, a value with a control character (CR, LF, NUL), or a field that may not be a trailer
 * (see {@link isForbiddenTrailer}).
 */
export function assertTrailer(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`Invalid trailer name ${JSON.stringify(name)}`);
  if (hasControlChars(value)) {
    throw new TypeError(`Invalid value for trailer ${name}: control characters (CR, LF, NUL) are not allowed`);
  }
  if (isForbiddenTrailer(name)) {
    throw new TypeError(`${name} cannot be sent as a trailer (RFC 9110 §6.5.1): set it as a header before the body`);
  }
}

/** The `[name, value]` pairs of `pairs` that may be shown as request trailers (the forbidden ones are dropped). */
export function allowedTrailers(pairs: Array<[string, string]>): Array<[string, string]> {
  return pairs.filter(([name]) => !isForbiddenTrailer(name));
}
