// The signals a `trellis` process takes for itself, so that none of them opens a debugger.

/**
 * Takes SIGUSR1 away from Node before anything else runs. Node's default action for SIGUSR1 is to
 * start its inspector on 127.0.0.1:9229, where any local user could run code as the server's user;
 * logrotate sends exactly that signal to web servers. Any listener turns the default off, so
 * SECURITY.md §7.1 holds: no signal opens a debugger in a running server. For now the signal is
 * logged and otherwise ignored; it is where log files will be reopened. Trellis starts no child
 * Node processes or workers, so this process is the only one to guard.
 * Pinned by test/cli/signals.test.ts.
 */
export function takeInspectorSignal(): void {
  process.on('SIGUSR1', () => {
    process.stderr.write('trellis: SIGUSR1 received (no log files to reopen)\n');
  });
}
