// A small, table-driven command-line parser: `--name value`, `--name=value`, repeatable options,
// `_` and `-` alike in names, and one-line errors that say what to do.

/** A usage or configuration error: printed as one line, exit status 2. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** One option of a command. */
export interface OptionSpec<C> {
  /** Long name without dashes, e.g. `path`. */
  name: string;
  /** Single-letter alias, e.g. `p`. */
  short?: string;
  /** Placeholder for the value in help (`DIR`); absent for flags. */
  value?: string;
  help: string;
  /** The option may be given more than once (saved as an array by `--save-config`). Default false. */
  repeatable?: boolean;
  /** Stores the option into the config; throws CliError for a bad value. */
  apply(config: C, value: string): void;
}

/**
 * Parses `args` against `specs` into `config`. Positional arguments are returned. `--help` and
 * `--version` are left to the caller through the returned flags.
 */
export function parseOptions<C>(
  command: string,
  args: readonly string[],
  specs: ReadonlyArray<OptionSpec<C>>,
  config: C,
): { positional: string[]; help: boolean; version: boolean } {
  const byName = new Map<string, OptionSpec<C>>();
  for (const spec of specs) {
    byName.set(spec.name, spec);
    if (spec.short) byName.set(spec.short, spec);
  }
  const positional: string[] = [];
  let help = false;
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const body = long ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const rawName = eq === -1 ? body : body.slice(0, eq);
    const name = rawName.replace(/_/g, '-');
    if (name === 'help' || name === 'h') {
      help = true;
      continue;
    }
    if (name === 'version') {
      version = true;
      continue;
    }
    const spec = byName.get(name);
    if (!spec) throw new CliError(`unknown option ${long ? '--' : '-'}${rawName}; run 'trellis ${command} --help' for the list`);
    if (spec.value === undefined) {
      if (eq !== -1) throw new CliError(`option --${spec.name} takes no value`);
      spec.apply(config, '');
      continue;
    }
    let value: string;
    if (eq !== -1) value = body.slice(eq + 1);
    else if (i + 1 < args.length) value = args[++i]!;
    else throw new CliError(`option --${spec.name} needs a value (${spec.value})`);
    spec.apply(config, value);
  }
  return { positional, help, version };
}

/** The help text for a command: usage line, then one line per option. */
export function formatHelp<C>(usage: string, specs: ReadonlyArray<OptionSpec<C>>): string {
  const rows = specs.map((s) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.value ? ` ${s.value}` : ''}`;
    return [left, s.help] as const;
  });
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`);
  return `${usage}\n\nOptions:\n${lines.join('\n')}\n      --help${' '.repeat(Math.max(2, width - 6))}show this help\n      --version${' '.repeat(Math.max(2, width - 9))}show the version\n`;
}
