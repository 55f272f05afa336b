// How a serving command runs as a process (the `twistd` options): pidfile, daemon, user and group,
// umask, working directory, the error log, the log format and the number of worker processes.
import { CliError, type OptionSpec } from './options.js';

/** The log line format: `text` (combined access log, plain error log) or `json` (one object per line). */
export type LogFormat = 'text' | 'json';

/** Everything about the process rather than the site; defaults from {@link defaultProcessConfig}. */
export interface ProcessConfig {
  /** `--pidfile F`: the file holding the server's pid while it runs; null for none. */
  pidfile: string | null;
  /** `--daemon`: detach from the terminal once every listener is bound. */
  daemon: boolean;
  /** `--uid USER`: the user (name or number) to run as once the listeners are bound; null keeps it. */
  uid: string | null;
  /** `--gid GROUP`: the group (name or number); default the user's primary group when `uid` is set. */
  gid: string | null;
  /** `--umask MODE`: octal file creation mask; null keeps the inherited one. */
  umask: number | null;
  /** `--chdir DIR`: the working directory, entered before anything else (relative paths start there). */
  chdir: string | null;
  /** `--errorlog FILE`: start-up messages, errors and tracebacks go here instead of stderr. */
  errorlog: string | null;
  /** `--log-format text|json`: for the access log and the error log. Default `text`. */
  logFormat: LogFormat;
  /** `--workers N`: serve from N worker processes sharing the listeners; 0 serves from this process. */
  workers: number;
}

/** A fresh process configuration with the defaults. */
export function defaultProcessConfig(): ProcessConfig {
  return {
    pidfile: null,
    daemon: false,
    uid: null,
    gid: null,
    umask: null,
    chdir: null,
    errorlog: null,
    logFormat: 'text',
    workers: 0,
  };
}

/** A user or group option: a name (as `useradd` allows) or a number. */
function principal(value: string, option: string): string {
  if (!/^(\d{1,10}|[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)$/.test(value)) {
    throw new CliError(`--${option} needs a ${option === 'uid' ? 'user' : 'group'} name or number, not "${value}"`);
  }
  return value;
}

/** The process options of every serving command, stored under `config.process`. */
export function processOptions<C extends { process: ProcessConfig }>(): Array<OptionSpec<C>> {
  return [
    {
      name: 'pidfile',
      value: 'FILE',
      help: 'write the server pid to FILE; refuse to start while a running server holds it',
      apply: (c, v) => {
        if (!v) throw new CliError('--pidfile needs a file name');
        c.process.pidfile = v;
      },
    },
    {
      name: 'daemon',
      help: 'detach once every listener is bound (exit status says whether it started)',
      apply: (c) => void (c.process.daemon = true),
    },
    {
      name: 'uid',
      short: 'u',
      value: 'USER',
      help: 'run as USER (name or number) after binding the listeners (start as root)',
      apply: (c, v) => void (c.process.uid = principal(v, 'uid')),
    },
    {
      name: 'gid',
      short: 'g',
      value: 'GROUP',
      help: "run as GROUP (name or number); default USER's primary group",
      apply: (c, v) => void (c.process.gid = principal(v, 'gid')),
    },
    {
      name: 'umask',
      value: 'MODE',
      help: 'file creation mask, octal (e.g. 027)',
      apply: (c, v) => {
        if (!/^[0-7]{1,4}$/.test(v)) throw new CliError(`--umask needs an octal mode like 027, not "${v}"`);
        c.process.umask = parseInt(v, 8);
      },
    },
    {
      name: 'chdir',
      value: 'DIR',
      help: 'change to DIR first (relative paths in other options then start there)',
      apply: (c, v) => {
        if (!v) throw new CliError('--chdir needs a directory');
        c.process.chdir = v;
      },
    },
    {
      name: 'errorlog',
      value: 'FILE',
      help: 'write start-up messages, errors and tracebacks to FILE (mode 0640; reopened on SIGUSR1)',
      apply: (c, v) => {
        if (!v) throw new CliError('--errorlog needs a file name');
        c.process.errorlog = v;
      },
    },
    {
      name: 'log-format',
      value: 'text|json',
      help: 'access and error log lines: text (combined format) or json (one object per line)',
      apply: (c, v) => {
        if (v !== 'text' && v !== 'json') throw new CliError(`--log-format needs text or json, not "${v}"`);
        c.process.logFormat = v;
      },
    },
    {
      name: 'workers',
      value: 'N',
      help: 'serve from N worker processes sharing the listeners (a dead worker is replaced; SIGHUP restarts them one by one)',
      apply: (c, v) => {
        if (!/^\d{1,3}$/.test(v) || Number(v) < 1 || Number(v) > 256)
          throw new CliError(`--workers needs a number from 1 to 256, not "${v}"`);
        c.process.workers = Number(v);
      },
    },
  ];
}
