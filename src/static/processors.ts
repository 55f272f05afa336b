// Processors: what a File does with a file of a given extension instead of sending its bytes
// (Twisted's `File.processors`). Kinds are named so the command line can pick them (`--processor .asis=asis`).
import type { Resource } from '../resource.js';

/** Builds the resource that answers for the file at `path` (an absolute path inside the File root). */
export type Processor = (path: string, context: ProcessorContext) => Resource;

/** What a processor learns about where the file sits. */
export interface ProcessorContext {
  /** The root directory of the File tree. */
  root: string;
}

const KINDS = new Map<string, Processor>();

/**
 * Makes a processor available to `--processor .ext=KIND` (and config files) under `kind`. Other
 * parts of Trellis register theirs (`script`, `cgi`, `php`) when they load.
 */
export function registerProcessorKind(kind: string, processor: Processor): void {
  KINDS.set(kind, processor);
}

const FAMILIES = new Map<string, (argument: string) => Processor>();

/**
 * Makes the kinds `family:ARGUMENT` available (`--processor .php=fastcgi:tcp:127.0.0.1:9000`):
 * `make(ARGUMENT)` builds the processor, and throws a TypeError whose message says what is wrong
 * with the argument.
 */
export function registerProcessorFamily(family: string, make: (argument: string) => Processor): void {
  FAMILIES.set(family, make);
}

/**
 * The processor registered as `kind`, or made by the family `kind` names (`family:ARGUMENT`), or
 * undefined. A family's TypeError for a bad argument is thrown.
 */
export function processorKind(kind: string): Processor | undefined {
  const known = KINDS.get(kind);
  if (known) return known;
  const colon = kind.indexOf(':');
  const family = colon === -1 ? undefined : FAMILIES.get(kind.slice(0, colon));
  return family?.(kind.slice(colon + 1));
}

/** The names of every registered processor kind, and of each family as `family:…`, sorted. */
export function processorKinds(): string[] {
  return [...KINDS.keys(), ...[...FAMILIES.keys()].map((f) => `${f}:…`)].sort();
}

/**
 * The processor for the file `name`: its two last extensions first (`.rpy.ts`), then its last one
 * (`.php`), so a compound extension can mark a kind of file whose last extension says its language.
 *
 * | name            | keys tried            |
 * |-----------------|-----------------------|
 * | `page.rpy.ts`   | `.rpy.ts`, then `.ts` |
 * | `index.php`     | `.php`                |
 * | `.hidden`       | none                  |
 */
export function processorFor(processors: Readonly<Record<string, Processor>>, name: string): Processor | undefined {
  const last = name.lastIndexOf('.');
  if (last <= 0) return undefined;
  const before = name.lastIndexOf('.', last - 1);
  if (before > 0) {
    const compound = processors[name.slice(before).toLowerCase()];
    if (compound) return compound;
  }
  return processors[name.slice(last).toLowerCase()];
}

/** Normalises an extension to lower case with a leading dot (`HTML` → `.html`). */
export function normalizeExt(ext: string): string {
  const lower = ext.toLowerCase();
  return lower.startsWith('.') ? lower : `.${lower}`;
}
