// A folder of resource scripts (Twisted's `ResourceScriptDirectory`): each script answers for its
// name, each subfolder is another such folder, and nothing in it is ever served as a file.
import { realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Request } from '../request.js';
import { ErrorPage, NoResource, Resource, type ChildResult, type RenderResult } from '../resource.js';
import { checkContainment, isHiddenName, isSafeSegment } from '../static/path-safety.js';
import {
  defaultRegistry,
  isScriptName,
  ResourceScript,
  SCRIPT_EXTENSIONS,
  type ResourceScriptOptions,
} from './resource-script.js';

/** Options of {@link ResourceScriptDirectory}. */
export interface ResourceScriptDirectoryOptions extends ResourceScriptOptions {
  /** Script names tried for `DIR/`, in order. Default `index.rpy.ts`, `index.rpy.js`. */
  indexNames?: readonly string[];
}

/** The index names of a script folder: `index` with each script extension. */
export const SCRIPT_INDEX_NAMES: readonly string[] = SCRIPT_EXTENSIONS.map((ext) => `index${ext}`);

/**
 * Serves a folder of resource scripts: `/name.rpy.ts` (or `/name`, when `name.rpy.ts` or
 * `name.rpy.js` exists) runs that script, a subfolder is another ResourceScriptDirectory, `DIR/`
 * runs the index script. Anything else is 404: the folder's other files, hidden names (`.env`,
 * backups), names with `/`, `\`, NUL or dot-segments, and symlinks leading out of the folder tree
 * (the path-safety rules of `File`, src/static/path-safety.ts). `DIR` itself, without the slash,
 * redirects to `DIR/` when an index script exists, else is 404: a script folder is never listed.
 *
 * ```ts
 * root.putChild('app', new ResourceScriptDirectory('/srv/app-scripts', { registry }));
 * ```
 *
 * Pinned by test/script/resource-script.test.ts.
 */
export class ResourceScriptDirectory extends Resource {
  /** Absolute path of the folder. */
  readonly path: string;
  readonly #options: ResourceScriptDirectoryOptions & { indexNames: readonly string[] };
  readonly #root: { path: string; real: string };
  readonly #rel: readonly string[];

  constructor(
    path: string,
    options: ResourceScriptDirectoryOptions = {},
    within?: { root: { path: string; real: string }; rel: readonly string[] },
  ) {
    super();
    this.path = path;
    this.#options = {
      ...options,
      registry: options.registry ?? defaultRegistry,
      indexNames: options.indexNames ?? SCRIPT_INDEX_NAMES,
    };
    if (within) {
      this.#root = within.root;
      this.#rel = within.rel;
      return;
    }
    let real = path;
    try {
      real = realpathSync.native(path);
    } catch {
      // A missing folder answers 404 until it appears.
    }
    this.#root = { path, real };
    this.#rel = [];
  }

  override getChild(segment: string, _request: Request): ChildResult {
    if (segment === '') return this.#index() ?? new NoResource('This folder has no index script.');
    if (!isSafeSegment(segment) || isHiddenName(segment)) return new NoResource();
    const direct = this.#entry(segment);
    if (direct) return direct;
    for (const ext of SCRIPT_EXTENSIONS) {
      const found = this.#entry(segment + ext);
      if (found instanceof ResourceScript) return found;
    }
    return new NoResource();
  }

  override render(request: Request): RenderResult {
    if (this.#index()) {
      request.redirect(`${request.prePathURL()}/`);
      return '';
    }
    return new ErrorPage(404, 'No Such Resource', 'Resource script folders are not listed.').render(request);
  }

  #index(): ResourceScript | null {
    for (const name of this.#options.indexNames) {
      const found = this.#entry(name);
      if (found instanceof ResourceScript) return found;
    }
    return null;
  }

  /** The script or subfolder called `name`, when it exists and stays inside the folder tree. */
  #entry(name: string): ResourceScript | ResourceScriptDirectory | null {
    const path = join(this.path, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st || !(st.isDirectory() || (st.isFile() && isScriptName(name)))) return null;
    const rel = [...this.#rel, name];
    if (!checkContainment(path, this.#root, rel, 'inside-root').ok) return null;
    if (st.isDirectory()) return new ResourceScriptDirectory(path, this.#options, { root: this.#root, rel });
    return new ResourceScript(path, this.#options);
  }
}
