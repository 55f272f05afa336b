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

/** The processor registered as `kind`, or undefined. */
export function processorKind(kind: string): Processor | undefined {
  return KINDS.get(kind);
}

/** The names of every registered processor kind, sorted. */
export function processorKinds(): string[] {
  return [...KINDS.keys()].sort();
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
