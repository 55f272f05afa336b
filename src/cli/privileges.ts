// `--uid`/`--gid`: the user and group a server started as root becomes once its listeners are bound.
import { fchownSync } from 'node:fs';
import { getentEntry } from '../users/nss.js';
import { CliError } from './options.js';

/** The credentials to switch to: numeric ids, and the user's name for its supplementary groups. */
export interface Credentials {
  uid: number;
  gid: number;
  /** The user's name from the user database, or null for a uid it does not know. */
  user: string | null;
}

/**
 * Resolves `--uid` and `--gid` (names or numbers) before anything binds, so a typo fails at once.
 * A numeric uid the user database does not know is allowed (with `--gid`, or its gid defaults to the
 * same number); a name it does not know is an error. Without `--uid` only the group changes.
 */
export function resolveCredentials(uid: string | null, gid: string | null): Credentials | null {
  if (uid === null && gid === null) return null;
  let user: string | null = null;
  let userId = process.getuid!();
  let primaryGid: number | null = null;
  if (uid !== null) {
    const entry = getentEntry('passwd', uid);
    if (entry) {
      user = entry[0]!;
      userId = Number(entry[2]);
      primaryGid = Number(entry[3]);
    } else if (/^\d+$/.test(uid)) {
      userId = Number(uid);
    } else {
      throw new CliError(`--uid: no user named "${uid}" on this system; give an existing user name or a number`);
    }
  }
  let groupId: number;
  if (gid !== null) {
    const entry = getentEntry('group', gid);
    if (entry) groupId = Number(entry[2]);
    else if (/^\d+$/.test(gid)) groupId = Number(gid);
    else throw new CliError(`--gid: no group named "${gid}" on this system; give an existing group name or a number`);
  } else {
    groupId = primaryGid ?? (uid !== null && /^\d+$/.test(uid) ? Number(uid) : process.getgid!());
  }
  return { uid: userId, gid: groupId, user };
}

/** Whether this process already runs with `creds` (a worker started after the drop). */
export function runningAs(creds: Credentials): boolean {
  return process.getuid!() === creds.uid && process.getgid!() === creds.gid;
}

/**
 * Gives up root for good, in the only safe order: the group first (setgid), then the supplementary
 * groups (initgroups from the user database, or just the group for an unknown uid), then the user
 * (setuid, which also sets the saved set-user-ID, so root cannot be regained). Run after every
 * listener is bound, so ports below 1024 work. A process that is not root may only "switch" to what
 * it already is. Pinned by test/cli/privileges.test.ts, run as root with a user it creates.
 */
export function dropPrivileges(creds: Credentials): void {
  if (runningAs(creds) && process.geteuid!() === creds.uid) return;
  if (process.geteuid!() !== 0) {
    throw new CliError(
      `--uid/--gid: only root can switch to uid ${creds.uid} gid ${creds.gid}; start as root or leave the options out`,
      1,
    );
  }
  process.setgid!(creds.gid);
  // initgroups(3) is in Node on POSIX systems but missing from some @types/node releases.
  const posix = process as unknown as { initgroups(user: string, extraGroup: number): void };
  if (creds.user !== null) posix.initgroups(creds.user, creds.gid);
  else process.setgroups!([creds.gid]);
  process.setuid!(creds.uid);
  if (process.getuid!() !== creds.uid || process.geteuid!() !== creds.uid || process.getegid!() !== creds.gid) {
    throw new CliError(`--uid/--gid: the switch to uid ${creds.uid} gid ${creds.gid} did not take`, 1);
  }
}

/** Gives a file the server created as root (a log, opened before the drop) to the user it becomes. */
export function giveTo(fd: number, creds: Credentials | null): void {
  if (creds && process.geteuid!() === 0) fchownSync(fd, creds.uid, creds.gid);
}
