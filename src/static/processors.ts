// Processors: what a File does with a file of a given extension instead of sending its bytes
// (Twisted's `File.processors`). Kinds are named so the command line can pick them (`--processor .asis=asis`),
// and the extensions of programs are listed here, the one list of files never sent as source.
import { basename } from 'node:path';
import { errorPageHtml } from '../pages.js';
import type { Request } from '../request.js';
import { Resource, type RenderResult } from '../resource.js';
import { CONTENT_ENCODINGS, extensionOf } from './mime.js';

/** Builds the resource that answers for the file at `path` (an absolute path inside the File root). */
export type Processor = (path: string, context: ProcessorContext) => Resource;

/** What a processor learns about where the file sits. */
export interface ProcessorContext {
  /** The root directory of the File tree. */
  root: string;
}

/** What the command line tells every processor that runs programs (`--cgi-*`); each unset by default. */
export interface ProcessorSettings {
  /** Longest run time of one program, ms (`--cgi-timeout`). */
  timeout?: number;
  /** Programs running at once, every kind together (`--cgi-max-processes`). */
  maxProcesses?: number;
  /** Names of the server's environment variables handed to programs (`--cgi-pass-env`). */
  passEnv?: readonly string[];
}

/**
 * Builds the processor of a parameterised kind from the text after its name's `:` (`''` when there
 * is none) and the settings: `cgi:/usr/bin/perl` gives `/usr/bin/perl` to the `cgi` family. Throws an
 * Error whose message says what is wrong (an interpreter that does not exist) and what to do.
 */
export type ProcessorFamily = (argument: string, settings: ProcessorSettings) => Processor;

const KINDS = new Map<string, Processor>();
const FAMILIES = new Map<string, ProcessorFamily>();

/**
 * Makes a processor available to `--processor .ext=KIND` (and config files) under `kind`. Other
 * parts of Trellis register theirs (`script`, `cgi`, `php`) when they load.
 */
export function registerProcessorKind(kind: string, processor: Processor): void {
  KINDS.set(kind, processor);
}

/**
 * Makes a parameterised kind available: `name` and `name:ARGUMENT` (`cgi`, `cgi:/usr/bin/perl`,
 * `php`, `php:/opt/php/bin/php-cgi`). A kind registered exactly with {@link registerProcessorKind}
 * wins over a family.
 */
export function registerProcessorFamily(name: string, family: ProcessorFamily): void {
  FAMILIES.set(name, family);
}

/**
 * The processor registered as `kind` (exactly, or as a family's `name[:argument]`), or undefined.
 * A family may throw when its argument is wrong (see {@link ProcessorFamily}).
 */
export function processorKind(kind: string, settings: ProcessorSettings = {}): Processor | undefined {
  const exact = KINDS.get(kind);
  if (exact) return exact;
  const colon = kind.indexOf(':');
  const family = FAMILIES.get(colon === -1 ? kind : kind.slice(0, colon));
  return family?.(colon === -1 ? '' : kind.slice(colon + 1), settings);
}

/** The names of every registered processor kind, sorted; families as `name[:ARG]`. */
export function processorKinds(): string[] {
  return [...KINDS.keys(), ...[...FAMILIES.keys()].map((name) => `${name}[:ARG]`)].sort();
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

/**
 * Extensions of files that are programs on a web server: CGI and FastCGI programs, PHP pages,
 * perl scripts, Twisted's and Trellis's resource scripts (`.rpy`, `.rpy.ts`, `.rpy.js`). A File never sends one as it is (SECURITY.md §2.2):
 * it runs through its processor, or, with none (processors off or missing), answers 403 and logs
 * a line, so moving a Twisted or PHP tree under Trellis exposes no code and no credentials.
 */
export const PROGRAM_EXTENSIONS: ReadonlySet<string> = new Set([
  '.cgi',
  '.fcgi',
  '.pl',
  '.php',
  '.phtml',
  '.php3',
  '.php4',
  '.php5',
  '.php7',
  '.php8',
  '.phar',
  '.rpy',
  '.epy',
  '.rpy.ts',
  '.rpy.js',
]);

/** The last extension of `name` and, when it has one, its last two (`.rpy.ts`), lower-cased; as {@link processorFor} tries them. */
function extensionsOf(name: string): string[] {
  const last = extensionOf(name);
  if (!last) return [];
  const before = name.lastIndexOf('.', name.length - last.length - 1);
  return before > 0 ? [last, name.slice(before).toLowerCase()] : [last];
}

/**
 * Whether the file `name` is a program by its extension or its last two (`.rpy.ts`), also under a compression suffix
 * (`index.php.gz`), case-insensitively (`x.PHP`), and with trailing dots or spaces (`x.php.`, the
 * spelling other file systems take for `x.php`; SECURITY.md §2.1).
 */
export function isProgramName(name: string, extensions: ReadonlySet<string> = PROGRAM_EXTENSIONS): boolean {
  const last = name.charCodeAt(name.length - 1);
  if (last === 46 /* . */ || last === 32 /* space */) name = name.replace(/[. ]+$/, '');
  const ext = extensionOf(name);
  const has = (file: string) => extensionsOf(file).some((e) => extensions.has(e));
  if (has(name)) return true;
  return CONTENT_ENCODINGS[ext] !== undefined && has(name.slice(0, -ext.length));
}

/**
 * The 403 for a program file that no processor runs, with an error-log line saying how to run it
 * (SECURITY.md §2.2). Pinned by test/static/program-files.test.ts.
 */
export function refuseProgram(request: Request, path: string): RenderResult {
  request.site?.logError(
    `Refused to send ${path} as a file: it is a program (${extensionOf(basename(path))}); ` +
      'map a processor to run it (--processor), or rename it',
  );
  request.setEncoder(null);
  request.setResponseCode(403);
  request.setHeader('Content-Type', 'text/html; charset=utf-8');
  return errorPageHtml(403, 'Forbidden', 'This file is a program; it is not served as a file.');
}

/** A resource answering {@link refuseProgram} for `path`. */
export class RefusedProgram extends Resource {
  override isLeaf = true;
  readonly path: string;

  constructor(path: string) {
    super();
    this.path = path;
  }

  override render(request: Request): RenderResult {
    return refuseProgram(request, this.path);
  }
}
