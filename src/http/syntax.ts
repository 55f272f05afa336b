// The HTTP/1 grammar every parser and writer in Trellis shares (RFC 9110, RFC 9112, SECURITY.md §6.3):
// tokens, field values, control characters, the Host value, Content-Length and the reason phrase, as
// byte tables for the byte scanners and as string tests for everything else.

function byteClass(member: (c: number) => boolean): Uint8Array {
  return new Uint8Array(256).map((_, c) => (member(c) ? 1 : 0));
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** 1 for each tchar byte (RFC 9110 §5.6.2: ALPHA, DIGIT and ``!#$%&'*+-.^_`|~``), 0 for every other byte. */
export const TCHAR: Uint8Array = byteClass((c) => isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/**
 * Field value bytes (RFC 9110 §5.5): 1 for VCHAR and obs-text, 2 for OWS (SP, HTAB), 0 for the
 * controls (NUL to US except HTAB, and DEL) that no field value may hold.
 */
export const FIELD_VALUE: Uint8Array = new Uint8Array(256).map((_, c) =>
  c === 0x20 || c === 0x09 ? 2 : c > 0x20 && c !== 0x7f ? 1 : 0,
);

/** Host name bytes (SECURITY.md §6.3): letters, digits, `.` and `-`. */
const HOST_NAME = byteClass((c) => isAlnum(c) || c === 0x2e || c === 0x2d);
/** Bracketed IPv6 literal bytes (SECURITY.md §6.3): hex digits, `:` and `.`. */
const HOST_IP6 = byteClass(
  (c) => (c >= 0x30 && c <= 0x3a) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c === 0x2e,
);

/** RFC 9110 §5.6.2 token, as a string: the shape of a method and of a header field name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Controls a field value may not hold: every CTL (RFC 5234 B.1) but HTAB. */
const FIELD_CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** Every CTL of RFC 5234 B.1, HTAB included: NUL to US, and DEL. */
const CTL = /[\u0000-\u001f\u007f]/;
/** What a written reason phrase may not hold: anything but SP, HTAB and VCHAR (obs-text and non-latin1 too). */
const NOT_REASON = /[^\t\u0020-\u007e]/;
const NOT_REASONS = new RegExp(NOT_REASON.source, 'g');
/** RFC 9110 §8.6: Content-Length = 1*DIGIT; at most 15 digits, so it stays a safe integer. */
const CONTENT_LENGTH = /^[0-9]{1,15}$/;

/** Most decimal digits of a Content-Length: 15 keeps every length a safe integer. */
export const MAX_CONTENT_LENGTH_DIGITS = 15;

/** Whether `text` is a token (RFC 9110 §5.6.2): a valid method or header field name. */
export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

/** Whether a field value (or a value from a gateway or forwarded header) holds CR, LF, NUL or another control but HTAB. */
export function hasControlChars(value: string): boolean {
  return FIELD_CONTROL.test(value);
}

/** Whether `text` holds any CTL, HTAB included (cookie parts, command-line values, paths). */
export function hasCtl(text: string): boolean {
  return CTL.test(text);
}

/** `value` without the OWS (SP and HTAB, RFC 9110 §5.6.3) around it; obs-text such as NBSP (0xa0) stays. */
export function trimOws(value: string, start = 0): string {
  let s = start;
  let e = value.length;
  while (s < e && FIELD_VALUE[value.charCodeAt(s)] === 2) s++;
  while (e > s && FIELD_VALUE[value.charCodeAt(e - 1)] === 2) e--;
  return s === 0 && e === value.length ? value : value.slice(s, e);
}

/**
 * Whether the comma-separated list `value` (RFC 9110 §5.6.1) has the element `token`, any case; the
 * OWS around elements and any parameters after `;` are passed over. The one test for a token in
 * `Connection`, `TE`, `Upgrade` and `Trailer`.
 *
 * | value                     | token      | result |
 * |---------------------------|------------|--------|
 * | `keep-alive, Close`       | `close`    | true   |
 * | `deflate;q=0.5, trailers` | `trailers` | true   |
 * | `x-close`, `closed`       | `close`    | false  |
 */
export function listHas(value: string, token: string): boolean {
  const want = token.toLowerCase();
  for (const element of value.split(',')) {
    const semi = element.indexOf(';');
    if (trimOws(semi === -1 ? element : element.slice(0, semi)).toLowerCase() === want) return true;
  }
  return false;
}

/** Whether `value` is a valid Content-Length: 1 to 15 ASCII digits, nothing else (no sign, space or list). */
export function isContentLength(value: string): boolean {
  return CONTENT_LENGTH.test(value);
}

/** The length `value` declares, or null when it is not 1 to 15 ASCII digits (see {@link isContentLength}). */
export function parseContentLength(value: string | undefined): number | null {
  return value !== undefined && CONTENT_LENGTH.test(value) ? Number(value) : null;
}

/**
 * A reason phrase safe to write in a status line: every byte but SP, HTAB and VCHAR becomes a space,
 * so code cannot split the head (SECURITY.md §6.7) and the phrase stays ASCII.
 */
export function safeReason(reason: string): string {
  return NOT_REASON.test(reason) ? reason.replace(NOT_REASONS, ' ') : reason;
}

/**
 * Whether `buf[i..end)` is an accepted Host value (SECURITY.md §6.3): empty, a name or IPv4 address
 * of letters, digits, `.` and `-`, or a bracketed IPv6 literal of hex digits, `:` and `.`, either
 * with an optional `:port` of 1 to 5 digits. Pinned by test/http/syntax.test.ts.
 */
export function isHostBytes(buf: Uint8Array, i: number, end: number): boolean {
  if (i === end) return true;
  if (buf[i] === 0x5b /* [ */) {
    const from = ++i;
    while (i < end && HOST_IP6[buf[i]!] === 1) i++;
    if (i === from || i === end || buf[i] !== 0x5d /* ] */) return false;
    i++;
  } else {
    const from = i;
    while (i < end && HOST_NAME[buf[i]!] === 1) i++;
    if (i === from) return false;
  }
  if (i === end) return true;
  if (buf[i] !== 0x3a /* : */) return false;
  const digits = ++i;
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
  return i === end && i - digits >= 1 && i - digits <= 5;
}

/** The last value {@link isHost} accepted: a server's requests name the same few hosts. */
let lastHost = '';

/** {@link isHostBytes} on a string: the empty string is accepted, characters above 0xff never are. */
export function isHost(value: string): boolean {
  if (value === lastHost) return true;
  const bytes = new Uint8Array(value.length);
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (c > 0xff) return false;
    bytes[k] = c;
  }
  if (!isHostBytes(bytes, 0, bytes.length)) return false;
  lastHost = value;
  return true;
}

/** `host` as it appears in a Host field or URL: an IPv6 address in brackets (RFC 3986 §3.2.2). */
export function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** `host` without the brackets of an IPv6 literal (`[::1]` → `::1`), as sockets and DNS take it; the inverse of {@link bracket}. */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Splits an authority `host:port` whose port is required (a CONNECT target, RFC 9112 §3.2.3), the
 * host as {@link isHost} accepts it and never empty; null when it is not one.
 */
export function splitAuthority(value: string): { host: string; port: number } | null {
  const colon = value.lastIndexOf(':');
  if (colon <= 0 || !isHost(value)) return null;
  const host = value.slice(0, colon);
  const port = value.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(port) || (host.startsWith('[') ? !host.endsWith(']') : host.includes(':'))) return null;
  return { host, port: Number(port) };
}
