// A cgi-bin (Twisted's `twcgi.CGIDirectory`): every file in the folder runs as a CGI script, none
// is ever sent as a file.
import { realpathSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Request } from '../request.js';
import { NoResource, Resource, type ChildResult, type RenderResult } from '../resource.js';
import { isHiddenName, isSafeSegment } from '../static/path-safety.js';
import { CGIScript, type CGIScriptOptions } from './cgi-script.js';

const NO_LISTING = 'CGI directories do not support directory listing.';

/**
 * Serves a folder of CGI programs: `/cgi-bin/name/extra?q` runs `DIR/name` with PATH_INFO `/extra`;
 * subfolders are CGIDirectories too. It fails closed (SECURITY.md §2.2): nothing in it is ever sent
 * as a file, so a file that may not run (not executable, or writable by others) is a 403, never its
 * source; hidden names, names that are no safe segment and paths whose real location leaves the
 * folder are 404; the folder itself lists nothing (404, as in Twisted). Options are those of
 * {@link CGIScript} and reach every script. Pinned by test/cgi/cgi-directory.test.ts.
 *
 * ```ts
 * root.putChild('cgi-bin', new CGIDirectory('/srv/cgi-bin', { timeout: 30_000 }));
 * ```
 */
export class CGIDirectory extends Resource {
  /** Absolute path of the folder. */
  readonly path: string;
  readonly options: Readonly<CGIScriptOptions>;
  readonly #root: string;

  constructor(path: string, options: CGIScriptOptions = {}, root: string | null = null) {
    super();
    this.path = resolve(path);
    this.options = options;
    this.#root = root ?? this.path;
  }

  override getChild(segment: string, _request: Request): ChildResult {
    if (!isSafeSegment(segment) || isHiddenName(segment)) return new NoResource(NO_LISTING);
    const path = join(this.path, segment);
    let real: string;
    let realRoot: string;
    try {
      real = realpathSync.native(path);
      realRoot = realpathSync.native(this.#root);
    } catch {
      return new NoResource();
    }
    if (real !== realRoot && !real.startsWith(realRoot + sep)) return new NoResource();
    let directory: boolean;
    try {
      directory = statSync(real).isDirectory();
    } catch {
      return new NoResource();
    }
    if (directory) return new CGIDirectory(path, this.options, this.#root);
    return new CGIScript(path, this.options);
  }

  override render(_request: Request): RenderResult {
    return new NoResource(NO_LISTING).render(_request);
  }
}
