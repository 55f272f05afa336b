// The names user directories and personal servers go by, apart so the command reads them without
// loading the resources.
import { join } from 'node:path';

/** The directory of a user's home that is published (Twisted's `userDirName`). */
export const USER_DIR_NAME = 'public_html';
/** The socket a personal server listens on, in its user's home directory (Twisted's `.twistd-web-pb`). */
export const PERSONAL_SOCKET_NAME = '.trellis-web.sock';
/** The suffix of a user's name that reaches their personal server: `/~alice.trellis/` (Twisted's `.twistd`). */
export const PERSONAL_SUFFIX = '.trellis';

/**
 * Whether `name` can be a login or group name (or a numeric id) as the system tools accept one: a
 * letter, digit or `_`, then up to 31 of those, `.` and `-`. Users and groups named otherwise are
 * never looked up, and no such name reaches a socket's group or a path.
 *
 * | name                   | result |
 * |------------------------|--------|
 * | `alice`, `www-data`, `1000` | true |
 * | `-x`, `a b`, `../x`, the empty string | false |
 */
export function isAccountName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(name);
}

/** The personal server socket of a home directory. */
export function personalSocketPath(home: string): string {
  return join(home, PERSONAL_SOCKET_NAME);
}
