// Path safety for static files (SECURITY.md §1.1–§1.3): which decoded segments may name a file, which
// names are hidden, and whether a path's real location is allowed under the symlink policy.
import { lstatSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join, sep } from 'node:path';

/** How symlinks under a File root are treated (SECURITY.md §1.2). */
export type SymlinkPolicy = 'follow' | 'inside-root' | 'owner-match' | 'never';

/** Names hidden from requests (404) and listings: dotfiles and editor/backup leftovers (SECURITY.md §1.3). */
export interface HiddenPolicy {
  /** Exact names always allowed, even when a deny pattern matches. Default `['.well-known']`. */
  allow: readonly string[];
  /** Patterns of hidden names. Default: leading dot, `~` suffix, `.bak .orig .swp .swo .old`, `#name#`. */
  deny: readonly RegExp[];
}

const BACKUP_EXTENSIONS = new Set(['bak', 'orig', 'swp', 'swo', 'old']);
/** Their last letters, as lower-case character codes. */
const BACKUP_LAST_LETTERS = new Set([...BACKUP_EXTENSIONS].map((ext) => ext.charCodeAt(ext.length - 1)));

export const DEFAULT_HIDDEN: HiddenPolicy = {
  allow: ['.well-known'],
  deny: [/^\./, /~$/, /\.(bak|orig|swp|swo|old)$/i, /^#.*#$/],
};

/**
 * Whether a decoded path segment may name an entry of a directory. The Request has already
 * percent-decoded each segment exactly once, so `%2e%2e` arrives as `..` and `%2f` as `/`.
 *
 * | segment                    | result |
 * |----------------------------|--------|
 * | `a.txt`, `a b`, `ü`        | true   |
 * | `''`, `.`, `..`            | false  |
 * | contains `/`, `\` or NUL   | false  |
 *
 * Pinned by test/static/path-safety.test.ts and the traversal cases in test/static/file.test.ts.
 */
export function isSafeSegment(segment: string): boolean {
  if (segment === '' || segment === '.' || segment === '..') return false;
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === 47 /* / */ || c === 92 /* \ */ || c === 0) return false;
  }
  return true;
}

/** Whether `name` is hidden under `policy` (requests for it get 404; listings leave it out). */
export function isHiddenName(name: string, policy: HiddenPolicy = DEFAULT_HIDDEN): boolean {
  if (policy === DEFAULT_HIDDEN) {
    // The default policy without regular expressions: this runs for every path segment.
    const first = name.charCodeAt(0);
    if (first === 46 /* . */) return name !== '.well-known';
    if (name.endsWith('~') || (first === 35 /* # */ && name.length > 1 && name.endsWith('#'))) return true;
    // Only a name ending in the last letter of a backup extension needs its extension cut out.
    if (!BACKUP_LAST_LETTERS.has(name.charCodeAt(name.length - 1) | 0x20)) return false;
    const dot = name.lastIndexOf('.');
    return dot !== -1 && BACKUP_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
  }
  if (policy.allow.includes(name)) return false;
  return policy.deny.some((re) => re.test(name));
}

/** The outcome of a containment check. */
export type Containment =
  | { ok: true; real: string }
  /** Missing, or not allowed by the symlink policy (answered 404 so nothing is confirmed). */
  | { ok: false; status: 404 | 403 };

/** Maps a filesystem error to the status a client sees: permission problems 403, everything else 404. */
export function statusForFsError(err: unknown): 403 | 404 {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM' ? 403 : 404;
}

/** A File tree's root: its path as configured and its real path. */
type FileRoot = { path: string; real: string };

/** Whether the real path `real` is the root's real path or lies under it (`root + sep`, never a sibling prefix). */
function isInside(real: string, rootReal: string): boolean {
  return real === rootReal || real.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

/**
 * Whether `real`, the real path of `path` (which is `root.path` joined with safe segments `rel`),
 * passes `policy`: {@link checkContainment} for a real path already resolved.
 */
export function judge(real: string, root: FileRoot, rel: readonly string[], policy: SymlinkPolicy): Containment {
  switch (policy) {
    case 'follow':
      return { ok: true, real };
    case 'inside-root':
      return isInside(real, root.real) ? { ok: true, real } : { ok: false, status: 404 };
    case 'never':
      return real === join(root.real, ...rel) ? { ok: true, real } : { ok: false, status: 404 };
    case 'owner-match': {
      let current = root.path;
      try {
        for (const seg of rel) {
          current = join(current, seg);
          const link = lstatSync(current);
          if (link.isSymbolicLink() && statSync(current).uid !== link.uid) return { ok: false, status: 404 };
        }
      } catch (err) {
        return { ok: false, status: statusForFsError(err) };
      }
      return { ok: true, real };
    }
  }
}

/**
 * Checks that `path` (which is `root.path` joined with safe segments `rel`) may be served under
 * `policy`, resolving its real path:
 *
 * | policy        | allowed when                                                      |
 * |---------------|-------------------------------------------------------------------|
 * | `inside-root` | realpath is the root's realpath or inside it (default)            |
 * | `never`       | realpath equals root realpath + `rel` (no symlink below the root)   |
 * | `owner-match` | every symlink below the root has the same owner as its target     |
 * | `follow`      | always (Twisted's behaviour; a symlink may leave the root)        |
 *
 * This judges a name, not a file: a name swapped after the check may lead elsewhere. What is sent
 * from a file is judged by {@link checkOpened} on its descriptor; this check serves directories and
 * the paths handed to processors. Every fs error maps to 403/404 (SECURITY.md §1.1 rule 6). Pinned
 * by the symlink cases in test/static/file.test.ts.
 */
export function checkContainment(
  path: string,
  root: FileRoot,
  rel: readonly string[],
  policy: SymlinkPolicy,
): Containment {
  let real: string;
  try {
    real = realpathSync.native(path);
  } catch (err) {
    return { ok: false, status: statusForFsError(err) };
  }
  return judge(real, root, rel, policy);
}

/** Where Linux names the file behind each open descriptor of this process; null elsewhere. */
const FD_LINKS = process.platform === 'linux' ? '/proc/self/fd/' : null;
/** What Linux appends to the name of an open file that no longer has one. */
const DELETED = ' (deleted)';

/**
 * The real path of the file open as `fd` (opened from `path`, `opened` its fstat): the kernel's own
 * name for the descriptor on Linux, which no later rename or swap can change; elsewhere (or without
 * /proc) `realpath(path)` when its lstat is the opened file (device and inode), else null.
 */
function openedRealPath(fd: number, path: string, opened: Stats): string | null {
  if (FD_LINKS !== null) {
    let named: string | null = null;
    try {
      named = readlinkSync(FD_LINKS + fd);
    } catch {
      // No /proc: judge through the name below.
    }
    // A name ending in " (deleted)" may be a real one: those go through the name check below.
    if (named?.startsWith('/') && !named.endsWith(DELETED)) return named;
  }
  const real = realpathSync.native(path);
  const at = lstatSync(real);
  return at.dev === opened.dev && at.ino === opened.ino ? real : null;
}

/**
 * Checks the file open as descriptor `fd` (opened from `path`, which is `root.path` joined with
 * `rel`; `opened` is its fstat) under `policy`, as {@link checkContainment} does for a name, but on
 * the real path of what was opened (SECURITY.md §1.2: decide containment on the opened file).
 * A name swapped between any check and the open, a symlink for a hard link or a directory for a
 * link out of the root, is judged by where it led, so the swap cannot reach outside the root. On
 * Linux the real path is the kernel's name for the descriptor; elsewhere it is `realpath(path)`
 * whose `lstat` must be the opened file (device and inode). Every fs error maps to 403/404.
 * Pinned by test/static/symlink-race.test.ts and the symlink cases in test/static/file.test.ts.
 */
export function checkOpened(
  fd: number,
  opened: Stats,
  path: string,
  root: FileRoot,
  rel: readonly string[],
  policy: SymlinkPolicy,
): Containment {
  if (policy === 'follow') return { ok: true, real: path };
  let real: string | null;
  try {
    real = openedRealPath(fd, path, opened);
  } catch (err) {
    return { ok: false, status: statusForFsError(err) };
  }
  return real === null ? { ok: false, status: 404 } : judge(real, root, rel, policy);
}
