// Watching a site's source files: one debounced notice per burst of changes to whoever loads them
// (`trellis web --watch` reloads the --class module; a loader of resource scripts subscribes alike).
import { watch, type FSWatcher } from 'node:fs';

/** Files whose changes matter: modules and what they commonly read (not editors' temporary files). */
const WATCHED = /\.(m?[jt]sx?|c[jt]s|json|rpy)$/;
/** Directories never watched into. */
const IGNORED = /(^|[/\\])(node_modules|\.git|dist)([/\\]|$)/;

/**
 * Watches directory trees and calls its listeners once per burst of changes (`debounceMs` after the
 * last), with the changed paths relative to the tree. Listeners subscribe with `onChange`; trees are
 * added with `add`. Recursive watching needs Linux, macOS or Windows (Node 20+).
 *
 * ```ts
 * const watcher = new SourceWatcher();
 * watcher.add('/srv/site');
 * watcher.onChange((paths) => reload(paths));
 * ```
 */
export class SourceWatcher {
  readonly #watchers: FSWatcher[] = [];
  readonly #listeners: Array<(paths: string[]) => void> = [];
  readonly #pending = new Set<string>();
  readonly #debounceMs: number;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: { debounceMs?: number } = {}) {
    this.#debounceMs = options.debounceMs ?? 100;
  }

  /** Watches `dir` and everything below it. */
  add(dir: string): void {
    const watcher = watch(dir, { recursive: true, persistent: false }, (_event, name) => {
      if (!name) return;
      const path = name.toString();
      if (!WATCHED.test(path) || IGNORED.test(path)) return;
      this.#pending.add(path);
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#flush(), this.#debounceMs);
    });
    watcher.on('error', () => {});
    this.#watchers.push(watcher);
  }

  /** Calls `listener` with the changed paths after each burst of changes. */
  onChange(listener: (paths: string[]) => void): void {
    this.#listeners.push(listener);
  }

  #flush(): void {
    this.#timer = null;
    const paths = [...this.#pending];
    this.#pending.clear();
    for (const listener of this.#listeners) listener(paths);
  }

  /** Stops watching. */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
  }
}
