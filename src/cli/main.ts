#!/usr/bin/env node
// The `trellis` command: dispatches to a subcommand, loading only what that subcommand needs.
import { VERSION } from '../version.js';
import { CliError, closestName } from './options.js';
import { daemonFailed } from './daemon.js';
import { takeInspectorSignal } from './signals.js';

takeInspectorSignal();
// Stack traces name src/ files and lines (the bundle ships its source maps), for Trellis's own frames
// and for the chunks loaded from here on.
process.setSourceMapsEnabled(true);

const HELP = `Usage: trellis COMMAND [options]

Commands:
  web [options]     serve a site (files, resources, apps) over HTTP, HTTPS, HTTP/2
  cgi [options]     answer one CGI request (run by a web server), or --relay it to SCGI/FastCGI
  help              show this help

Run 'trellis COMMAND --help' for the options of a command.
`;

/**
 * Writes a line to stderr unless it is gone. A server whose stderr or stdout was a pipe that closed
 * (the terminal, `| head`, a log collector restarting) keeps serving without its messages: a write
 * error on either stream is dropped, never reported on that same stream (which would fail again and
 * spin; test/cli/broken-pipe.test.ts).
 */
function logLine(text: string): void {
  if (process.stderr.writable && !process.stderr.destroyed) process.stderr.write(text);
}

function keepServing(): void {
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  // One failing request must not take the server down for everyone else: log and go on.
  process.on('unhandledRejection', (reason) => {
    logLine(`trellis: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
  });
  process.on('uncaughtException', (err) => {
    logLine(`trellis: uncaught exception: ${err.stack ?? err.message}\n`);
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'web': {
      keepServing();
      const { runWeb } = await import('./web.js');
      await runWeb(rest);
      return;
    }
    case 'cgi': {
      const { runCgi } = await import('./cgi.js');
      await runCgi(rest);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    case '--version':
    case 'version':
      process.stdout.write(`trellis ${VERSION}\n`);
      return;
    default: {
      const guess = closestName(command, ['web', 'cgi', 'help', 'version']);
      throw new CliError(`unknown command "${command}"; ${guess ? `did you mean 'trellis ${guess}'? ` : ''}run 'trellis --help' for the commands`);
    }
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // A daemon's starting command prints the one-line reason (src/cli/daemon.ts).
  daemonFailed(err instanceof Error ? err.message : String(err));
  if (err instanceof CliError) {
    process.stderr.write(`trellis: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`trellis: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
