// `trellis cgi`: answer the one CGI/1.1 request this process was started for, then exit; or, with
// `--relay`, hand it to a long-running Trellis over SCGI or FastCGI. Startup time is the whole cost
// of a CGI request, so everything is imported lazily and only what one request needs.
import { CliError } from './options.js';

const USAGE = `Usage: trellis cgi [web options]
       trellis cgi --relay scgi:ADDR|fastcgi:ADDR     (ADDR: unix:/path or tcp:HOST:PORT)

Answer one CGI/1.1 request (RFC 3875) from the environment and stdin, write the response with a
Status: line to stdout, and exit. Run it from a small shell script your web server executes as CGI.
With --relay, load no site: pass the request to a Trellis serving --scgi or --fastcgi, and relay
the answer.`;

/** The value of `--relay` in `args`, or null. */
function relayArg(args: readonly string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--relay') {
      if (i + 1 >= args.length) throw new CliError('option --relay needs a value (scgi:ADDR or fastcgi:ADDR)');
      return args[i + 1]!;
    }
    if (a.startsWith('--relay=')) return a.slice(8);
  }
  return null;
}

async function runRelayCommand(args: readonly string[], value: string): Promise<void> {
  const others = args.filter((a) => a !== '--relay' && a !== value && a !== `--relay=${value}`);
  if (others.length)
    throw new CliError(
      `--relay loads no site and takes no other options (got "${others[0]}"); give site options to the Trellis it relays to`,
    );
  const { parseRelayTarget, runRelay } = await import('../channels/cgi/relay.js');
  const target = parseRelayTarget(value);
  if (typeof target === 'string') throw new CliError(target);
  process.on('SIGTERM', () => process.exit(1));
  await new Promise<void>((resolve) => {
    runRelay(target, {
      env: process.env,
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      exit: (code) => {
        process.exitCode = code;
        resolve();
        // Nothing else is pending once the answer is out; do not wait for stdin to close.
        process.exit(code);
      },
    });
  });
}

/** Runs `trellis cgi ARGS`. */
export async function runCgi(args: readonly string[]): Promise<void> {
  const relay = relayArg(args);
  if (relay !== null) return runRelayCommand(args, relay);

  const [{ parseOptions, formatHelp }, { defaultWebConfig, WEB_OPTIONS }] = await Promise.all([
    import('./options.js'),
    import('./web-config.js'),
  ]);
  const config = defaultWebConfig();
  const specs = [
    ...WEB_OPTIONS,
    {
      name: 'relay',
      value: 'scgi:ADDR|fastcgi:ADDR',
      help: 'hand the request to a Trellis serving --scgi or --fastcgi at ADDR (unix:/path or tcp:HOST:PORT)',
      apply: () => {},
    },
  ];
  const parsed = parseOptions('cgi', args, specs, config);
  if (parsed.help) {
    process.stdout.write(formatHelp(USAGE, specs));
    return;
  }
  if (parsed.version) {
    const { VERSION } = await import('../version.js');
    process.stdout.write(`trellis ${VERSION}\n`);
    return;
  }
  if (parsed.positional.length)
    throw new CliError(
      `unexpected argument "${parsed.positional[0]}"; options start with -- (run 'trellis cgi --help')`,
    );
  if (config.watch || config.open) throw new CliError('--watch and --open only apply to trellis web');
  if (config.logfile === '-')
    throw new CliError('--logfile - would mix the access log into the CGI response; give a file name');
  if (!process.env.REQUEST_METHOD) {
    throw new CliError(
      'no CGI request: REQUEST_METHOD is not set; run trellis cgi from a web server as a CGI program (see docs/deploy/cgi.md)',
    );
  }

  const [{ buildRoot }, { Site }, { serveCgi }] = await Promise.all([
    import('./root.js'),
    import('../site.js'),
    import('../channels/cgi/serve.js'),
  ]);
  const root = await buildRoot(config, process.cwd());
  const accessLog = config.logfile ? (await import('../access-log.js')).openAccessLog(config.logfile) : null;
  const cors = config.cors ? { origins: config.cors, credentials: config.corsCredentials } : null;
  const site = new Site(root, {
    displayTracebacks: config.displayTracebacks,
    accessLog,
    headers: config.addHeaders,
    cors,
  });
  // lighttpd sends SIGTERM when the client goes away; stdout breaking says the same.
  const gone = new AbortController();
  process.once('SIGTERM', () => gone.abort());
  const { completed } = await serveCgi(site, {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    mount: config.mount,
    signal: gone.signal,
  });
  await accessLog?.close();
  const flushed = () => process.exit(completed ? 0 : 1);
  if (completed) process.stdout.write('', flushed);
  else flushed();
}
