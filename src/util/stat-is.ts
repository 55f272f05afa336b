// Whether a path is a file, a directory or a socket, as a yes or no: a path that is missing or
// cannot be stat'ed is none of them.
import { statSync, type Stats } from 'node:fs';

/**
 * Whether `path` can be stat'ed (links followed) and passes `test`; a missing or unreadable path
 * does not.
 *
 * ```ts
 * statIs('/home/alice/public_html', (st) => st.isDirectory());
 * ```
 */
export function statIs(path: string, test: (st: Stats) => boolean): boolean {
  try {
    return test(statSync(path));
  } catch {
    return false;
  }
}
