// Real peers (nginx, apache2, curl, chromium, ...) that tests drive. A missing peer makes the test
// skip with the command that installs it; under CI=true a missing peer fails the test instead.
import { accessSync, constants } from 'node:fs';
import type { TestContext } from 'node:test';

/** Debian package that provides each peer binary. */
const PACKAGES: Record<string, string> = {
  curl: 'curl',
  nghttp: 'nghttp2-client',
  openssl: 'openssl',
  nginx: 'nginx',
  lighttpd: 'lighttpd',
  apache2: 'apache2',
  haproxy: 'haproxy',
  'php-cgi': 'php-cgi',
  python3: 'python3',
  perl: 'perl',
  'cgi-fcgi': 'libfcgi-bin',
  'redis-server': 'redis-server',
  chromium: 'chromium',
  wrk: 'wrk',
  logrotate: 'logrotate',
  'systemd-socket-activate': 'systemd',
  useradd: 'passwd',
};

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of a peer binary, or null when it is not installed. */
export function findPeer(name: string): string | null {
  for (const dir of SEARCH) {
    const candidate = `${dir}/${name}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/**
 * Returns the peer's path, or skips the test (with the install command) when it is missing.
 * Under CI=true a missing peer throws, so CI proves the real-peer tests ran.
 */
export function needPeer(t: TestContext, name: string): string | null {
  const found = findPeer(name);
  if (found) return found;
  const pkg = PACKAGES[name] ?? name;
  const reason = `${name} not installed: apt-get install ${pkg}`;
  if (process.env.CI === 'true') throw new Error(`${reason} (required under CI=true)`);
  t.skip(reason);
  return null;
}
