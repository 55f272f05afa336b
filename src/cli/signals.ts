// The signals a `trellis` process takes for itself, so that none of them opens a debugger.

const reopeners: Array<() => void> = [];

/**
 * Takes SIGUSR1 away from Node before anything else runs. Node's default action for SIGUSR1 is to
 * start its inspector on 127.0.0.1:9229, where any local user could run code as the server's user;
 * logrotate sends exactly that signal to web servers. Any listener turns the default off, so
 * SECURITY.md §7.1 holds: no signal opens a debugger in a running server, nor in its workers (each
 * worker runs this too). The signal reopens the log files ({@link onReopenLogs}).
 * Pinned by test/cli/signals.test.ts and test/cli/logs.test.ts.
 */
export function takeInspectorSignal(): void {
  process.on('SIGUSR1', () => {
    if (!reopeners.length) {
      process.stderr.write('trellis: SIGUSR1 received (no log files to reopen)\n');
      return;
    }
    for (const reopen of reopeners) {
      try {
        reopen();
      } catch (err) {
        process.stderr.write(`trellis: SIGUSR1: cannot reopen a log file: ${(err as Error).message}\n`);
      }
    }
    process.stderr.write('trellis: SIGUSR1 received, log files reopened\n');
  });
}

/** Adds work SIGUSR1 does: reopening a log file after rotation, or passing the signal to workers. */
export function onReopenLogs(reopen: () => void): void {
  reopeners.push(reopen);
}
