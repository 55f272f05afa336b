// The file checks before a script runs: what may be executed (SECURITY.md §2.1), and where
// PATH_INFO lands in the document root (PATH_TRANSLATED, §2.5).
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/** Group- and other-write permission bits. */
const WRITABLE_BY_OTHERS = 0o022;

/**
 * Why the script at `path` must not run, or null when it may (SECURITY.md §2.1):
 *
 * | file                                                     | verdict |
 * |----------------------------------------------------------|---------|
 * | missing, or not a regular file                           | `missing` |
 * | writable by group or others, or in a folder that is      | `writable` |
 * | not executable by the server (only when `executable`)    | `not-executable` |
 *
 * A folder with the sticky bit (`/tmp`) still counts as writable by others.
 */
export function scriptRefusal(path: string, executable: boolean): 'missing' | 'writable' | 'not-executable' | null {
  let st;
  let dir;
  try {
    st = statSync(path);
    dir = statSync(dirname(path));
  } catch {
    return 'missing';
  }
  if (!st.isFile()) return 'missing';
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0 || (dir.mode & WRITABLE_BY_OTHERS) !== 0) return 'writable';
  if (executable) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      return 'not-executable';
    }
  }
  return null;
}

/**
 * PATH_TRANSLATED for the decoded PATH_INFO segments under `root`, or null when it would not lie
 * inside the root (SECURITY.md §2.5): the segments were checked (no dot-segment, `/`, `\` or
 * control), and the real path of the deepest part that exists must stay inside the root's real
 * path, so a symlink cannot lead it out.
 */
export function translatePathInfo(root: string, segments: readonly string[]): string | null {
  if (!segments.length) return null;
  const full = join(root, ...segments);
  let realRoot;
  try {
    realRoot = realpathSync.native(root);
  } catch {
    return null;
  }
  for (let n = segments.length; n >= 0; n--) {
    let real;
    try {
      real = realpathSync.native(join(root, ...segments.slice(0, n)));
    } catch {
      continue;
    }
    return real === realRoot || real.startsWith(realRoot + sep) ? full : null;
  }
  return null;
}
