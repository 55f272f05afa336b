// The system's user and group databases as the C library sees them (NSS, through `getent`), so an
// account from LDAP or sssd counts as one in /etc/passwd or /etc/group does.
import { execFileSync } from 'node:child_process';

/** One entry of the user or group database (its `:`-separated fields), or null when there is none. */
export function getentEntry(database: 'passwd' | 'group', key: string): string[] | null {
  try {
    const line = execFileSync('getent', [database, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return line.split('\n')[0]?.split(':') ?? null;
  } catch {
    return null;
  }
}

/** The id of group `name`: a number as given, else the group database's; null when there is no such group. */
export function groupId(name: string): number | null {
  if (/^\d+$/.test(name)) return Number(name);
  const gid = getentEntry('group', name)?.[2];
  return gid !== undefined && /^\d+$/.test(gid) ? Number(gid) : null;
}
