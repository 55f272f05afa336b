// Request header collections that keep the raw order and duplicates visible, and outgoing header checks.
import { hasControlChars, isContentLength, isToken } from './syntax.js';

/** Up to this many fields, lookups walk the list instead of building an index. */
const SCAN_LIMIT = 32;

/** Whether two header names are equal ignoring ASCII case, without building lower-case copies. */
function sameIgnoringCase(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 65 /* A */ && x <= 90 /* Z */) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x !== y) return false;
  }
  return true;
}

/** A flat `[name, value, name, value, ...]` field list as `[name, value]` pairs. */
export function fieldPairs(flat: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}

/**
 * Request headers as received: `raw` keeps every field in order (duplicates visible); `get` joins
 * duplicates with `, ` (`; ` for Cookie, RFC 9110 §5.3 and RFC 6265 §5.4).
 */
export class RequestHeaders {
  readonly raw: Array<[string, string]>;
  #index: Map<string, string[]> | null = null;

  constructor(raw: Array<[string, string]> = []) {
    this.raw = raw;
  }

  /** Builds the collection from Node's flat `rawHeaders` array. */
  static fromFlat(flat: readonly string[]): RequestHeaders {
    return new RequestHeaders(fieldPairs(flat));
  }

  #map(): Map<string, string[]> {
    if (this.#index) return this.#index;
    const index = new Map<string, string[]>();
    for (const [name, value] of this.raw) {
      const key = name.toLowerCase();
      const list = index.get(key);
      if (list) list.push(value);
      else index.set(key, [value]);
    }
    this.#index = index;
    return index;
  }

  /** The field's value, duplicates joined; undefined when absent. Names are case-insensitive. */
  get(name: string): string | undefined {
    let values: string[] | undefined;
    if (this.raw.length <= SCAN_LIMIT) {
      // The usual case, one line or none, without building a list.
      let first: string | undefined;
      for (const [n, value] of this.raw) {
        if (!sameIgnoringCase(n, name)) continue;
        if (first === undefined) first = value;
        else (values ??= [first]).push(value);
      }
      if (values === undefined) return first;
    } else {
      values = this.#map().get(name.toLowerCase());
    }
    if (!values) return undefined;
    if (values.length === 1) return values[0];
    return values.join(sameIgnoringCase(name, 'cookie') ? '; ' : ', ');
  }

  /** Every value of the field, in order. */
  getAll(name: string): string[] {
    return (this.raw.length <= SCAN_LIMIT ? this.#scan(name) : this.#map().get(name.toLowerCase())) ?? [];
  }

  has(name: string): boolean {
    if (this.raw.length > SCAN_LIMIT) return this.#map().has(name.toLowerCase());
    for (const [n] of this.raw) if (sameIgnoringCase(n, name)) return true;
    return false;
  }

  /**
   * The values of the field `name` found by walking `raw`: for a few fields that is cheaper than
   * building the index, which lower-cases every name.
   */
  #scan(name: string): string[] | undefined {
    let values: string[] | undefined;
    for (const [n, value] of this.raw) {
      if (!sameIgnoringCase(n, name)) continue;
      if (values) values.push(value);
      else values = [value];
    }
    return values;
  }

  /** Replaces every occurrence of the field with one value (used by `setHost` and rewriters). */
  set(name: string, value: string): void {
    const key = name.toLowerCase();
    const kept = this.raw.filter(([n]) => n.toLowerCase() !== key);
    kept.push([name, value]);
    this.raw.splice(0, this.raw.length, ...kept);
    this.#index = null;
  }

  /** Adds one occurrence of the field after the others (a channel filling in trailers). */
  append(name: string, value: string): void {
    this.raw.push([name, value]);
    this.#index = null;
  }

  /** Removes every occurrence of the field. */
  delete(name: string): void {
    const key = name.toLowerCase();
    const kept = this.raw.filter(([n]) => n.toLowerCase() !== key);
    this.raw.splice(0, this.raw.length, ...kept);
    this.#index = null;
  }

  /** Field names in lower case, without duplicates. */
  names(): string[] {
    return [...this.#map().keys()];
  }
}

/**
 * Checks an outgoing header before it is stored, so response splitting cannot happen
 * (SECURITY.md §6.7). Throws a TypeError naming the header when the name or value is invalid.
 * The framing fields are the channel's to get right, so code may not set them wrong:
 *
 * | field               | accepted                                   |
 * |---------------------|--------------------------------------------|
 * | `Content-Length`    | one value of 1 to 15 digits (`0x10`, `abc`, `-1`, `16, 16` refused) |
 * | `Transfer-Encoding` | never: every channel frames the body itself |
 *
 * A second Content-Length field is refused where fields are added (`Request.addHeader`). Thrown
 * while rendering, the TypeError becomes a 500 before the head is sent; pinned by
 * test/response-framing.test.ts over HTTP/1.1, HTTP/2, FastCGI and SCGI.
 */
export function assertHeader(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`Invalid header name ${JSON.stringify(name)}`);
  if (hasControlChars(value)) {
    throw new TypeError(`Invalid value for header ${name}: control characters (CR, LF, NUL) are not allowed`);
  }
  if (name.length === 14 || name.length === 17) assertFramingField(name, value);
}

/** The framing rules of {@link assertHeader}; `name` is 14 or 17 characters long. */
function assertFramingField(name: string, value: string): void {
  const key = name.toLowerCase();
  if (key === 'content-length' && !isContentLength(value)) {
    throw new TypeError(`Invalid value for header ${name}: ${JSON.stringify(value)} is not a length in digits`);
  }
  if (key === 'transfer-encoding') {
    throw new TypeError(`Header ${name} cannot be set: the channel frames the body itself`);
  }
}
