// Resource scripts (Twisted's `.rpy`, in TypeScript or JavaScript): a module whose `resource` export
// answers for its URL, imported once per version of the file and reloaded when the file changes.
import { statSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Request } from '../request.js';
import { NoResource, Resource, type ChildResult, type RenderResult } from '../resource.js';
import { Registry } from './registry.js';

/**
 * The extensions of resource scripts: a compound extension whose last part says the language, so
 * editors and `tsc` read the file as TypeScript or JavaScript while `File` runs it instead of serving
 * it (plain `.ts` and `.js` stay static files that browsers fetch).
 */
export const SCRIPT_EXTENSIONS: readonly string[] = ['.rpy.ts', '.rpy.js'];

/** Whether `name` ends with a resource-script extension (any case). */
export function isScriptName(name: string): boolean {
  const lower = name.toLowerCase();
  return SCRIPT_EXTENSIONS.some((ext) => lower.length > ext.length && lower.endsWith(ext));
}

/** What a script's `resource` function receives. */
export interface ScriptContext {
  /** The site's registry: components kept across reloads and shared by every script. */
  registry: Registry;
  /** The absolute path of the script. */
  path: string;
}

/**
 * Imports the module at `path` for the given `version` of the file; a new version must give a fresh
 * module instance. The `trellis` command passes one that can load TypeScript.
 */
export type ScriptLoader = (path: string, version: string) => Promise<Record<string, unknown>>;

/**
 * The default {@link ScriptLoader}: a dynamic `import()` of the file URL with the version as its
 * query, so each version is a new module. TypeScript needs a loader registered in the process
 * (`node --import tsx`), or Node's own type stripping.
 */
export const importScript: ScriptLoader = (path, version) =>
  import(`${pathToFileURL(path).href}?version=${encodeURIComponent(version)}`) as Promise<Record<string, unknown>>;

/** Options of {@link ResourceScript} and `ResourceScriptDirectory`. */
export interface ResourceScriptOptions {
  /** The registry scripts share. Default: one registry per process (`defaultRegistry`). */
  registry?: Registry;
  /** How a script module is imported. Default: {@link importScript}. */
  loader?: ScriptLoader;
}

/** A script version: loading, ready or failed. Kept per registry and path. */
interface Loaded {
  version: string;
  /** When the file was last stat'ed for this entry (Date.now()), and the change count then. */
  checkedAt: number;
  changes: number;
  /** Whether the folder was watched when the entry was checked (else every request stats). */
  watched: boolean;
  resource: Resource | null;
  error: Error | null;
  pending: Promise<Resource> | null;
}

const caches = new WeakMap<Registry, Map<string, Loaded>>();

/** What a loaded entry gives a request: its resource, its error thrown, or the promise of its load. */
function use(entry: Loaded): Resource | Promise<Resource> {
  if (entry.resource) return entry.resource;
  if (entry.error) throw entry.error;
  return entry.pending!;
}

/** The registry used when none is given: one per process, like the site of `trellis web`. */
export const defaultRegistry = new Registry();

/**
 * Longest time a loaded script is used without a stat of its file. A stat per request costs more
 * than the rest of a small script's request, so changes are watched for (inotify on Linux) and
 * the stat is repeated only after a change event, or after this long in case an event was missed.
 */
const RECHECK_MS = 1000;

/** Change events seen per script path (from the watch on its folder). */
const changeCounts = new Map<string, number>();
/** Folders watched: true, or false when a watch could not be set up (then every request stats). */
const watchedFolders = new Map<string, boolean>();

/** Watches the folder of `path` for changes, once per folder; false when that is not possible. */
function watchFolder(path: string): boolean {
  const dir = dirname(path);
  const known = watchedFolders.get(dir);
  if (known !== undefined) return known;
  let ok = true;
  try {
    const watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (name) {
        const file = join(dir, name.toString());
        changeCounts.set(file, (changeCounts.get(file) ?? 0) + 1);
        return;
      }
      for (const file of changeCounts.keys())
        if (dirname(file) === dir) changeCounts.set(file, changeCounts.get(file)! + 1);
    });
    watcher.on('error', () => watchedFolders.set(dir, false));
  } catch {
    ok = false;
  }
  watchedFolders.set(dir, ok);
  if (!changeCounts.has(path)) changeCounts.set(path, 0);
  return ok;
}

/** Whether the file of `entry` must be stat'ed again before the entry is used. */
function mustCheck(path: string, entry: Loaded, now: number): boolean {
  if (!entry.watched || now - entry.checkedAt >= RECHECK_MS) return true;
  return (changeCounts.get(path) ?? 0) !== entry.changes;
}

/** The version of the file at `path` (changes with any edit or replacement), or null when it is gone. */
function versionOf(path: string): string | null {
  // A plain stat (mtimeMs keeps microseconds) costs less than a bigint one: this runs per request.
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st?.isFile()) return null;
  return `${st.mtimeMs}-${st.size}-${st.ino}`;
}

/** An error from loading or running a script, naming the script; the original stack follows. */
function scriptError(path: string, what: string, cause: unknown): Error {
  const inner = cause instanceof Error ? cause : new Error(String(cause));
  const err = new Error(`resource script ${path} ${what}: ${inner.message.split('\n')[0]}`, { cause: inner });
  err.stack = `${err.message}\n${inner.stack ?? ''}`;
  return err;
}

/**
 * What a script module's `resource` export makes: a Resource as is, a function called with the
 * context (its result, or what its promise gives, must be a Resource).
 */
async function resourceOf(mod: Record<string, unknown>, context: ScriptContext): Promise<Resource> {
  if (!('resource' in mod)) {
    const names = Object.keys(mod).join(', ') || 'none';
    throw new Error(`exports no "resource" (exports: ${names}); export a Resource, or a function returning one`);
  }
  let value = mod.resource;
  if (typeof value === 'function' && !(value.prototype instanceof Resource))
    value = await (value as (c: ScriptContext) => unknown)(context);
  else if (typeof value === 'function') value = new (value as new () => Resource)();
  if (value instanceof Resource) return value;
  if (typeof (value as { render?: unknown } | null)?.render === 'function') {
    throw new Error(
      '"resource" is a Resource from another copy of Trellis: import Resource from \'trellis\' as the server resolves it',
    );
  }
  throw new Error(
    `"resource" is ${value === null ? 'null' : typeof value}, not a Resource: export a Resource from 'trellis', or a function returning one`,
  );
}

/**
 * A resource script: the module at `path` exports `resource` (a Resource, a Resource class, or a
 * function `({ registry, path }) => Resource`, possibly async), and that resource answers for the
 * script's URL and every path below it. The module is imported once per version of the file and
 * kept; an edit is picked up by the next request, without a restart, while the registry's
 * components survive. A script that fails to load, throws, or exports no resource fails the request
 * with a 500 (the details in the page only with `displayTracebacks`, always in the error log); the
 * next version of the file is tried afresh. A script that disappeared is 404.
 *
 * ```ts
 * // counter.rpy.ts
 * import { Resource, type ScriptContext } from 'trellis';
 * export function resource({ registry }: ScriptContext) {
 *   const hits = registry.component('hits', () => ({ n: 0 }));
 *   return new (class extends Resource { GET() { return `visitor ${++hits.n}`; } })();
 * }
 * ```
 *
 * Each version stays in Node's module cache: editing a script a thousand times keeps a thousand
 * small modules. Pinned by test/script/resource-script.test.ts.
 */
export class ResourceScript extends Resource {
  /** Absolute path of the script. */
  readonly path: string;
  readonly registry: Registry;
  readonly #loader: ScriptLoader;
  #entry: Loaded | null = null;

  constructor(path: string, options: ResourceScriptOptions = {}) {
    super();
    this.path = path;
    this.registry = options.registry ?? defaultRegistry;
    this.#loader = options.loader ?? importScript;
  }

  /** The script's resource for the file as it is now: at once when that version is loaded, else once it is. */
  load(): Resource | Promise<Resource> {
    const now = Date.now();
    // The entry this instance used last (a long-lived instance, such as a root, skips the lookups).
    const last = this.#entry;
    if (last && !mustCheck(this.path, last, now)) return use(last);
    let cache = caches.get(this.registry);
    if (!cache) caches.set(this.registry, (cache = new Map()));
    const known = cache.get(this.path);
    if (known && known !== last && !mustCheck(this.path, known, now)) return use((this.#entry = known));
    // The count is read before the stat: a change during the stat is seen at the next request.
    const watched = watchFolder(this.path);
    const changes = changeCounts.get(this.path) ?? 0;
    const version = versionOf(this.path);
    if (version === null) {
      cache.delete(this.path);
      this.#entry = null;
      return new NoResource();
    }
    if (known && known.version === version) {
      known.checkedAt = now;
      known.changes = changes;
      known.watched = watched;
      return use((this.#entry = known));
    }
    const entry: Loaded = { version, checkedAt: now, changes, watched, resource: null, error: null, pending: null };
    cache.set(this.path, entry);
    this.#entry = entry;
    const context: ScriptContext = { registry: this.registry, path: this.path };
    entry.pending = this.#loader(this.path, version).then(
      (mod) =>
        resourceOf(mod, context).then(
          (resource) => (entry.resource = resource),
          (err: unknown) => {
            throw (entry.error = scriptError(this.path, 'failed', err));
          },
        ),
      (err: unknown) => {
        throw (entry.error = scriptError(this.path, 'did not load', err));
      },
    );
    // Requests that joined a load that failed get the rejection; nobody else waits on it.
    entry.pending.catch(() => {});
    return entry.pending;
  }

  /**
   * Traversal continues in the script's resource: the segment just taken is handed back, so the
   * script's resource sees it (and, when it is a leaf, keeps it in `postpath`).
   */
  override getChildWithDefault(segment: string, request: Request): ChildResult {
    request.prepath.pop();
    request.postpath.unshift(segment);
    return this.load();
  }

  override render(request: Request): RenderResult {
    const loaded = this.load();
    if (loaded instanceof Resource) return loaded.render(request);
    return loaded.then((resource) => resource.render(request));
  }
}
