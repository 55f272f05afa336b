// Header fields as CGI/1.1 protocol meta-variables (RFC 3875 §4.1.18) and back: the one rule both
// directions follow, Trellis running a script (header → `HTTP_*`) and Trellis run by a gateway
// (`HTTP_*` → header).

/**
 * `HTTP_*` variables never made from a header nor turned into one: `HTTP_PROXY` is the httpoxy
 * vector (SECURITY.md §2.4, CVE-2016-5385); `HTTP_CONTENT_*` would contradict the authoritative
 * CONTENT_* variables (§2.3).
 */
export const DROPPED_HTTP_VARIABLES: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'HTTP_CONTENT_LENGTH',
  'HTTP_CONTENT_TYPE',
]);

/** Header names that may become a variable: letters, digits and `-` only (SECURITY.md §2.3). */
const VARIABLE_HEADER = /^[A-Za-z0-9-]+$/;

/** `HTTP_ACCEPT_LANGUAGE` → `Accept-Language`. */
export function headerNameFromVariable(variable: string): string {
  return variable
    .slice(5)
    .toLowerCase()
    .split('_')
    .map((word) => (word ? word[0]!.toUpperCase() + word.slice(1) : word))
    .join('-');
}

/** Header names already mapped by {@link variableForHeader}, at most {@link MAX_REMEMBERED_NAMES}. */
const variables = new Map<string, string | null>();
const MAX_REMEMBERED_NAMES = 512;

/**
 * The meta-variable a request header becomes in a script's environment, or null when it is dropped.
 *
 * | header                                   | variable |
 * |------------------------------------------|----------|
 * | `Accept-Language`                        | `HTTP_ACCEPT_LANGUAGE` |
 * | `X_Forwarded_For` (any `_`), `X.Y`       | null: `_` would collide with `-` (SECURITY.md §2.3) |
 * | `Proxy`                                  | null: httpoxy (§2.4) |
 * | `Content-Length`, `Content-Type`         | null: they are CONTENT_LENGTH and CONTENT_TYPE |
 * | `Transfer-Encoding`                      | null: the server removed the coding (RFC 3875 §4.1.18) |
 */
export function variableForHeader(name: string): string | null {
  const known = variables.get(name);
  if (known !== undefined) return known;
  let variable: string | null = null;
  if (VARIABLE_HEADER.test(name)) {
    variable = `HTTP_${name.toUpperCase().replace(/-/g, '_')}`;
    if (DROPPED_HTTP_VARIABLES.has(variable) || variable === 'HTTP_TRANSFER_ENCODING') variable = null;
  }
  // Clients repeat the same few names: remember short ones, within a bound hostile names cannot pass.
  if (name.length <= 64) {
    if (variables.size >= MAX_REMEMBERED_NAMES) variables.clear();
    variables.set(name, variable);
  }
  return variable;
}
