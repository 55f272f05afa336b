// CGI test set-up: a folder of scripts copied from test/fixtures/cgi with safe permissions, served
// by a Site whose error log the test reads.
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { ROOT, serveSite, tempDir } from './server.js';

export const FIXTURES = join(ROOT, 'test/fixtures/cgi');

/** A temporary folder (mode 0755) with the named fixtures (mode 0755) and extra files. */
export function scriptFolder(fixtures: string[], files: Record<string, string | { text: string; mode: number }> = {}) {
  const dir = tempDir('trellis-cgi-');
  chmodSync(dir.path, 0o755);
  for (const name of fixtures) {
    copyFileSync(join(FIXTURES, name), join(dir.path, name));
    chmodSync(join(dir.path, name), 0o755);
  }
  for (const [name, content] of Object.entries(files)) {
    const { text, mode } = typeof content === 'string' ? { text: content, mode: 0o755 } : content;
    writeFileSync(join(dir.path, name), text);
    chmodSync(join(dir.path, name), mode);
  }
  return dir;
}

/** Serves `root` on a loopback port; `errors` collects the Site's error-log lines. */
export async function serveLogged(root: Resource) {
  const errors: string[] = [];
  const site = new Site(root, { logError: (message) => void errors.push(message) });
  const server = await serveSite(site);
  return { ...server, site, errors };
}

/** Resolves once `check` is true, polling; rejects after `ms`. */
export async function until(check: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
