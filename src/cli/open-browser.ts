// `trellis web --open`: shows the site in the user's browser, and does nothing harmful where there is
// none (a server, a container, CI, a test).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where the command was found on PATH, or null. */
function onPath(command: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The command that opens `url`, or a reason not to open one:
 *
 * | situation                                    | result                                  |
 * |----------------------------------------------|-----------------------------------------|
 * | `CI` set (not `false`), or under `node --test` | reason: not under CI or tests           |
 * | `BROWSER` set                                | that command with the URL               |
 * | macOS / Windows                              | `open URL` / `cmd /c start "" URL`      |
 * | elsewhere, `xdg-open` on PATH and a display  | `xdg-open URL`                          |
 * | otherwise                                    | reason: no browser found                |
 */
export function browserCommand(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): { command: string; args: string[] } | { reason: string } {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  if (ci || env.NODE_TEST_CONTEXT) return { reason: 'not opening a browser under CI or tests' };
  if (env.BROWSER) return { command: env.BROWSER, args: [url] };
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url] };
  const opener = onPath('xdg-open', env);
  if (opener && (env.DISPLAY || env.WAYLAND_DISPLAY)) return { command: opener, args: [url] };
  return { reason: 'no browser found (set BROWSER to the command that opens one)' };
}

/**
 * Opens `url` in a browser, detached, once the current start-up lines are out (the browser is started
 * on the next turn of the event loop); returns a line saying what happens. Never throws.
 */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const how = browserCommand(url, env);
  if ('reason' in how) return `--open: ${how.reason}; visit ${url}`;
  setImmediate(() => {
    try {
      const child = spawn(how.command, how.args, { stdio: 'ignore', detached: true, env });
      child.on('error', () => process.stderr.write(`trellis: --open: could not run ${how.command}; visit ${url}\n`));
      child.unref();
    } catch {
      process.stderr.write(`trellis: --open: could not run ${how.command}; visit ${url}\n`);
    }
  });
  return `Opening ${url} in a browser`;
}
