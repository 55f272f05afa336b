// The response header fields a Request collects before sending them: kept as the flat name/value
// list channels write, looked up by lower-case name.

const KEYS = new Map<string, string>();

/** The lower-case form of a header name, the key every {@link ResponseHeaders} method takes. Memoised. */
export function headerKey(name: string): string {
  let key = KEYS.get(name);
  if (key === undefined) {
    key = name.toLowerCase();
    if (KEYS.size >= 1000) KEYS.clear();
    KEYS.set(name, key);
  }
  return key;
}

/**
 * Response header fields in the order each name was first set; the values of one name stay together
 * at that place. Names keep the case they were given; lookups take the lower-case `key`.
 *
 * | calls                                              | `flat()`                       |
 * |----------------------------------------------------|--------------------------------|
 * | set a=1, set b=2, set a=3                          | `a 3 b 2`                      |
 * | set a=1, set b=2, add a=3                          | `a 1 a 3 b 2`                  |
 * | set a=1, add a=2, set b=3, set a=[4]               | `a 4 b 3`                      |
 * | set a=1, set b=2, delete a, set a=5                | `b 2 a 5`                      |
 *
 * A Request holds one; names and values are checked there, not here.
 *
 * ```ts
 * const h = new ResponseHeaders();
 * h.set('content-type', 'Content-Type', 'text/plain');
 * h.flat(); // ['Content-Type', 'text/plain']
 * ```
 */
export class ResponseHeaders {
  /** The key of each field line. */
  #keys: string[] = [];
  /** Name and value of each field line, one after the other. */
  #lines: string[] = [];

  /** Replaces every value of the field with `value` (in its place when it was set before). */
  set(key: string, name: string, value: string): void {
    const i = this.#keys.indexOf(key);
    if (i === -1) {
      this.#append(key, name, value);
      return;
    }
    this.#lines[2 * i] = name;
    this.#lines[2 * i + 1] = value;
    this.#dropAfter(i, key);
  }

  /** Replaces every value of the field with `values`, one field line each (none removes it). */
  setAll(key: string, name: string, values: readonly string[]): void {
    if (values.length === 1) {
      this.set(key, name, values[0]!);
      return;
    }
    const i = this.#keys.indexOf(key);
    if (i === -1) {
      for (const v of values) this.#append(key, name, v);
      return;
    }
    this.delete(key);
    for (let n = 0; n < values.length; n++) this.#insert(i + n, key, name, values[n]!);
  }

  /** Adds a value to the field, after its earlier values. */
  add(key: string, name: string, value: string): void {
    const i = this.#keys.indexOf(key);
    if (i === -1) this.#append(key, name, value);
    else this.#insert(this.#endOf(i, key), key, name, value);
  }

  /** The field's values joined with `, `, or undefined. */
  get(key: string): string | undefined {
    const keys = this.#keys;
    const i = keys.indexOf(key);
    if (i === -1) return undefined;
    let value = this.#lines[2 * i + 1]!;
    for (let j = i + 1; keys[j] === key; j++) value += `, ${this.#lines[2 * j + 1]!}`;
    return value;
  }

  has(key: string): boolean {
    return this.#keys.includes(key);
  }

  /** Removes the field. */
  delete(key: string): void {
    const i = this.#keys.indexOf(key);
    if (i === -1) return;
    const count = this.#endOf(i, key) - i;
    this.#keys.splice(i, count);
    this.#lines.splice(2 * i, 2 * count);
  }

  /** Removes every field. */
  clear(): void {
    this.#keys = [];
    this.#lines = [];
  }

  /** The lower-case key of each field line: the list itself, to read at once and never change. */
  get lineKeys(): readonly string[] {
    return this.#keys;
  }

  /** `[name, value, name, value, ...]` of every field line: the list itself, to read at once and never change. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** A new `[name, value, name, value, ...]` list of every field line. */
  flat(): string[] {
    return this.#lines.slice();
  }

  /** Every field line as a `[name, value]` pair. */
  pairs(): Array<[string, string]> {
    const lines = this.#lines;
    const out: Array<[string, string]> = [];
    for (let i = 0; i < lines.length; i += 2) out.push([lines[i]!, lines[i + 1]!]);
    return out;
  }

  /** The index just past the lines of `key` that start at line `i`. */
  #endOf(i: number, key: string): number {
    let end = i + 1;
    while (this.#keys[end] === key) end++;
    return end;
  }

  /** Removes the lines of `key` that follow line `i` (the field's first). */
  #dropAfter(i: number, key: string): void {
    const extra = this.#endOf(i, key) - i - 1;
    if (extra === 0) return;
    this.#keys.splice(i + 1, extra);
    this.#lines.splice(2 * i + 2, 2 * extra);
  }

  #append(key: string, name: string, value: string): void {
    this.#keys.push(key);
    this.#lines.push(name, value);
  }

  #insert(at: number, key: string, name: string, value: string): void {
    this.#keys.splice(at, 0, key);
    this.#lines.splice(2 * at, 0, name, value);
  }
}
