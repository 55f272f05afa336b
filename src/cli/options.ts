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
  /** The value is optional and only taken as `--name=value`; a bare `--name` applies `''`. */
  optionalValue?: boolean;
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
    if (!spec) {
      const guess = long
        ? closestName(
            name,
            specs.map((s) => s.name),
          )
        : null;
      const hint = guess ? `did you mean --${guess}? ` : '';
      throw new CliError(
        `unknown option ${long ? '--' : '-'}${rawName}; ${hint}run 'trellis ${command} --help' for the list`,
      );
    }
    if (spec.optionalValue) {
      spec.apply(config, eq === -1 ? '' : body.slice(eq + 1));
      continue;
    }
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

/** Edit distance between two short strings (insertions, deletions, substitutions, transpositions). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/**
 * The known name a mistyped one most likely meant, or null when none is close: within a third of
 * its length in edits (at least one), or a name that starts with what was typed.
 *
 * | typed       | known                 | result    |
 * |-------------|-----------------------|-----------|
 * | `prot`      | `port`, `path`        | `port`    |
 * | `lsten`     | `listen`              | `listen`  |
 * | `cor`       | `cors`                | `cors`    |
 * | `frobnicate`| `port`                | null      |
 */
export function closestName(typed: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = editDistance(typed, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  if (best !== null && bestDistance <= Math.max(1, Math.floor(typed.length / 3))) return best;
  const prefixed = known.filter((name) => typed.length >= 2 && name.startsWith(typed));
  return prefixed.length === 1 ? prefixed[0]! : null;
}

/** Help text is wrapped to this many columns, so it reads in an 80- to 100-column terminal. */
export const HELP_COLUMNS = 99;

/** Splits `text` into lines of at most `width` columns at spaces (a longer word stays whole). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * The help text for a command: usage, one entry per option (help wrapped under its column), then the
 * examples, each a comment line and a command line. Every line fits {@link HELP_COLUMNS}.
 */
export function formatHelp<C>(
  usage: string,
  specs: ReadonlyArray<OptionSpec<C>>,
  examples: ReadonlyArray<readonly [string, string]> = [],
): string {
  const rows: Array<readonly [string, string]> = specs.map((s) => {
    const value = s.value ? (s.optionalValue ? `[=${s.value}]` : ` ${s.value}`) : '';
    return [`${s.short ? `-${s.short}, ` : '    '}--${s.name}${value}`, s.help] as const;
  });
  rows.push(['    --help', 'show this help'], ['    --version', 'show the version']);
  const width = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2);
  const indent = ' '.repeat(2 + width);
  const out: string[] = [];
  for (const line of usage.split('\n')) out.push(...(line ? wrapText(line, HELP_COLUMNS) : ['']));
  out.push('', 'Options:');
  for (const [left, help] of rows) {
    const wrapped = wrapText(help, HELP_COLUMNS - indent.length);
    if (left.length + 2 > width) out.push(`  ${left}`);
    else out.push(`  ${left.padEnd(width)}${wrapped.shift() ?? ''}`);
    for (const rest of wrapped) out.push(indent + rest);
  }
  if (examples.length) {
    out.push('', 'Examples:');
    for (const [what, command] of examples)
      out.push(...wrapText(`# ${what}`, HELP_COLUMNS - 2).map((l) => `  ${l}`), `  ${command}`);
  }
  return `${out.join('\n')}\n`;
}
