// The configuration of `trellis web` (and the same keys in config files), and the option table that
// fills it from the command line.
import { parseEndpoint, EndpointError, type Endpoint } from '../channels/endpoint.js';
import { CliError, type OptionSpec } from './options.js';

/** Which resource serves `/`: the last root option given wins, as in twistd. */
export type RootChoice =
  | { kind: 'welcome' }
  | { kind: 'class'; spec: string };

/** Everything `trellis web` can be told. */
export interface WebConfig {
  root: RootChoice;
  /** HTTP(S) listeners, in the order given. Default: tcp:8080. */
  listen: Endpoint[];
  /** `--https PORT`: an ssl listener using `certificate`/`privkey`. */
  https: number[];
  certificate: string;
  privkey: string;
  /** Headers added to every response (`--add-header "Name: value"`). */
  addHeaders: Array<[string, string]>;
  /** Access log file; `-` for stdout; null for none. */
  logfile: string | null;
  displayTracebacks: boolean;
}

/** A fresh configuration with the defaults. */
export function defaultWebConfig(): WebConfig {
  return {
    root: { kind: 'welcome' },
    listen: [],
    https: [],
    certificate: 'server.pem',
    privkey: 'server.pem',
    addHeaders: [],
    logfile: null,
    displayTracebacks: false,
  };
}

function endpoint(text: string): Endpoint {
  try {
    return parseEndpoint(text);
  } catch (err) {
    if (err instanceof EndpointError) throw new CliError(err.message);
    throw err;
  }
}

function port(text: string, option: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new CliError(`--${option} needs a port number from 0 to 65535, not "${text}"`);
  return Number(text);
}

/** The options of `trellis web`. */
export const WEB_OPTIONS: Array<OptionSpec<WebConfig>> = [
  {
    name: 'port',
    short: 'p',
    value: 'N|EP',
    help: 'HTTP port (or endpoint string); same as --listen',
    apply: (c, v) => void c.listen.push(/^\d+$/.test(v) ? { type: 'tcp', port: port(v, 'port') } : endpoint(v)),
  },
  {
    name: 'listen',
    value: 'EP',
    help: 'listen on an endpoint: tcp:8080, tcp:8080:interface=127.0.0.1, ssl:8443:privateKey=K:certKey=C, unix:/path:mode=660 (repeatable; default tcp:8080)',
    apply: (c, v) => void c.listen.push(endpoint(v)),
  },
  { name: 'https', value: 'PORT', help: 'HTTPS port (HTTP/2 and HTTP/1.1) using --certificate and --privkey', apply: (c, v) => void c.https.push(port(v, 'https')) },
  { name: 'certificate', short: 'c', value: 'FILE', help: 'TLS certificate, PEM (default server.pem)', apply: (c, v) => void (c.certificate = v) },
  { name: 'privkey', short: 'k', value: 'FILE', help: 'TLS private key, PEM (default server.pem)', apply: (c, v) => void (c.privkey = v) },
  {
    name: 'class',
    value: 'MODULE#export',
    help: 'serve a Resource class (or instance) exported by a .ts/.js module as the root',
    apply: (c, v) => void (c.root = { kind: 'class', spec: v }),
  },
  {
    name: 'add-header',
    value: '"Name: value"',
    help: 'add a header to every response, error pages included (repeatable)',
    apply: (c, v) => {
      const colon = v.indexOf(':');
      const name = colon === -1 ? '' : v.slice(0, colon).trim();
      const value = colon === -1 ? '' : v.slice(colon + 1).trim();
      if (!name || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) || /[\r\n\0]/.test(value)) {
        throw new CliError(`--add-header needs "Name: value" with a valid header name, not "${v}"`);
      }
      c.addHeaders.push([name, value]);
    },
  },
  { name: 'logfile', short: 'l', value: 'FILE', help: "access log in the combined format ('-' for stdout)", apply: (c, v) => void (c.logfile = v) },
  { name: 'display-tracebacks', help: 'show error stacks in 500 pages (never on a public site)', apply: (c) => void (c.displayTracebacks = true) },
  { name: 'notracebacks', short: 'n', help: 'do not show error stacks (the default)', apply: (c) => void (c.displayTracebacks = false) },
];
