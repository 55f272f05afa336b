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
  run FILE          serve a configuration module (.ts/.js) or a JSON configuration (--save-config)
  cgi [options]     answer one CGI request (run by a web server), or --relay it to SCGI/FastCGI
  NAME [options]    run the plugin NAME an installed package declares
  help              show this help
`;

const HELP_END = "\nRun 'trellis COMMAND --help' for the options of a command.\n";

/** The help text, with the plugins that installed packages declare. */
async function help(): Promise<string> {
  const { findDeclaredPlugins } = await import('./plugin.js');
  const declared = [...findDeclaredPlugins(process.cwd()).values()].filter(
    (p) => !['web', 'run', 'cgi', 'help', 'version'].includes(p.name),
  );
  if (!declared.length) return HELP + HELP_END;
  declared.sort((a, b) => (a.name < b.name ? -1 : 1));
  const width = Math.max(18, ...declared.map((p) => p.name.length + 12));
  const rows = declared.map((p) => `  ${`${p.name} [options]`.padEnd(width)}plugin of ${p.pkg}`);
  return `${HELP}\nPlugins:\n${rows.join('\n')}\n${HELP_END}`;
}

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
    logLine(
      `trellis: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`,
    );
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
    case 'run': {
      keepServing();
      const { runFile } = await import('./run.js');
      await runFile(rest);
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
      process.stdout.write(await help());
      return;
    case '--version':
    case 'version':
      process.stdout.write(`trellis ${VERSION}\n`);
      return;
    default: {
      if (!/^[a-z0-9][a-z0-9._-]*$/i.test(command))
        throw new CliError(`unknown command "${command}"; run 'trellis --help' for the commands`);
      const { runDeclaredPlugin } = await import('./run.js');
      keepServing();
      if (await runDeclaredPlugin(command, rest)) return;
      const guess = closestName(command, ['web', 'run', 'cgi', 'help', 'version']);
      if (guess)
        throw new CliError(
          `unknown command "${command}"; did you mean 'trellis ${guess}'? run 'trellis --help' for the commands`,
        );
      throw new CliError(
        `unknown command "${command}": no plugin of that name is built in or declared by an installed package; run 'trellis --help' for the commands`,
      );
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
