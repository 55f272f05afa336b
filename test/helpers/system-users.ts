// Real system users for the tests that run as root (privilege dropping, user directories, personal
// servers): the root check that skips (or fails under CI=true), and users made with `useradd` and
// removed, with their home and group, when the test ends.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { needPeer } from './peers.js';

/** A user a test created. */
export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * Whether the test runs as root and has `useradd` and the other `tools` it names: otherwise it is
 * skipped saying `why` it needs root, or fails under CI=true.
 */
export function canCreateUsers(t: TestContext, why: string, tools: string[] = []): boolean {
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') throw new Error(`this test must run as root under CI=true: ${why}`);
    t.skip(`needs root (${why})`);
    return false;
  }
  return ['useradd', ...tools].every((tool) => needPeer(t, tool) !== null);
}

/** Options of {@link createUser}. */
export interface CreateUserOptions {
  /** Create the home directory. Default true. */
  home?: boolean;
  /** A system account (`useradd --system`, an id below 1000). Default false. */
  system?: boolean;
}

/**
 * Creates a user with a random name, its own group, no login shell and the real name `Test NAME`;
 * removed with its home and group when the test ends.
 */
export function createUser(t: TestContext, options: CreateUserOptions = {}): SystemUser {
  const name = `tr${randomBytes(4).toString('hex')}`;
  const flags = [
    (options.home ?? true) ? '--create-home' : '--no-create-home',
    '--user-group',
    '--shell',
    '/usr/sbin/nologin',
  ];
  if (options.system) flags.push('--system');
  execFileSync('useradd', [...flags, '--comment', `Test ${name},,,`, name]);
  t.after(() => {
    try {
      execFileSync('userdel', ['--force', '--remove', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    try {
      // userdel keeps a user's group that another user is a member of.
      execFileSync('groupdel', [name], { stdio: 'ignore' });
    } catch {
      // removed with the user
    }
  });
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  const home = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':')[5] ?? '';
  return { name, uid: id('-u'), gid: id('-g'), home };
}
