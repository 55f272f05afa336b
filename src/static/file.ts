// The static File resource (Twisted's twisted.web.static.File): serves a directory tree with MIME
// types, index files, listings, ranges, conditional requests, precompressed and compressed variants,
// processors, and the path-safety rules of SECURITY.md §1.
import { close, readdirSync, readFile as readFileCb, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, resolve } from 'node:path';
import { negotiateEncoding } from '../encoding/negotiate.js';
import { shouldCompress, MIN_COMPRESS_BYTES } from '../encoding/compressible.js';
import { BrotliEncoderFactory, GzipEncoderFactory } from '../encoding/encoders.js';
import { varyOnAcceptEncoding } from '../encoding/encoding-resource-wrapper.js';
import { evaluateIfRange, evaluatePreconditions } from '../http/conditional.js';
import { assertHeader } from '../http/headers.js';
import { reasonPhrase } from '../http/status.js';
import { errorPageHtml } from '../pages.js';
import { NOT_DONE_YET, encodePathSegment, splitPath, type Request } from '../request.js';
import { setTrustedHeader } from '../request-internals.js';
import {
  ErrorPage,
  ForbiddenResource,
  NoResource,
  Resource,
  type ChildResult,
  type RenderResult,
} from '../resource.js';
import { redirectTo } from '../util/redirect.js';
import { FileCache, type CachedCoding, type FileFacts, type HeldFile } from './file-cache.js';
import { DirectoryLister, ListingCache } from './listing.js';
import { CONTENT_ENCODINGS, extensionOf, typeForName, type FileType } from './mime.js';
import { planMultipart } from './multipart-byteranges.js';
import {
  checkContainment,
  checkOpened,
  DEFAULT_HIDDEN,
  isHiddenName,
  isSafeSegment,
  judge,
  statusForFsError,
  type Containment,
  type HiddenPolicy,
  type SymlinkPolicy,
} from './path-safety.js';
import {
  isProgramName,
  normalizeExt,
  processorFor,
  PROGRAM_EXTENSIONS,
  RefusedProgram,
  refuseProgram,
  type Processor,
} from './processors.js';
import { contentRange, parseRange, unsatisfiedRange } from './range.js';
import { checkOpenedFile, openChecked, streamPieces, type BodyPiece, type OpenedCheck } from './send-file.js';
import './asis.js';

/** Index names tried in order for a directory request ending in `/` (Twisted's, minus scripts until processors add them). */
export const DEFAULT_INDEX_NAMES: readonly string[] = ['index.html', 'index.htm', 'index'];

/** Codings offered for precompressed siblings and compressed variants, in server preference order. */
const CODINGS: readonly CachedCoding[] = ['br', 'gzip'];
const SIBLING_SUFFIX: Record<CachedCoding, string> = { br: '.br', gzip: '.gz' };
const STREAM_ENCODERS = { br: new BrotliEncoderFactory(), gzip: new GzipEncoderFactory() };

/** Options of {@link File}; children inherit them. */
export interface FileOptions {
  /** Content-Type for unknown extensions. Default `application/octet-stream` (with nosniff). */
  defaultType?: string;
  /** Names tried for a directory's index, in order. Default `index.html`, `index.htm`, `index`, then `index<ext>` for each processor. */
  indexNames?: readonly string[];
  /** Extensions tried when a name does not exist (`.html` lets `/page` find `page.html`); `*` means any. Default none. */
  ignoredExts?: readonly string[];
  /** Extension (with dot) → processor building the resource for such files. Default `{}`. */
  processors?: Readonly<Record<string, Processor>>;
  /**
   * Extensions of programs, never sent as files: without a processor they answer 403 and log a
   * line (SECURITY.md §2.2). Default `PROGRAM_EXTENSIONS` (`.cgi`, `.php`, `.pl`, `.rpy`, ...).
   */
  programExtensions?: Iterable<string>;
  /** Extra or overriding MIME mappings, extension → type (`.md` → `text/markdown`). */
  contentTypes?: Readonly<Record<string, string>>;
  /** Whether directories without an index get a listing (else 403). Default true. */
  listing?: boolean;
  /** `Cache-Control` sent with files. Default none. */
  cacheControl?: string | null;
  /** Symlink policy (SECURITY.md §1.2). Default `inside-root`. */
  symlinks?: SymlinkPolicy;
  /** Hidden names: dotfiles and backups are 404 and unlisted, `.well-known` allowed. */
  hidden?: HiddenPolicy;
  /** Serve `name.br` / `name.gz` siblings to clients that accept them. Default true. */
  precompressed?: boolean;
  /** Compress compressible types on the fly (cached per file version up to 8 MiB). Default true. */
  compress?: boolean;
  /** The small-file and compressed-variant cache; null turns it off. Default: a 64 MiB cache per File tree. */
  cache?: FileCache | null;
}

/** State shared by every File of one tree. */
interface Tree {
  root: { path: string; real: string };
  contentTypes: Map<string, string>;
  symlinks: SymlinkPolicy;
  hidden: HiddenPolicy;
  precompressed: boolean;
  compress: boolean;
  cache: FileCache | null;
  programs: ReadonlySet<string>;
  /** `isProgramName` verdicts by file name under `programs`; cleared past 1000 entries. */
  programNames: Map<string, boolean>;
  /** Rendered directory listings, made on the first listing (none when `cache` is null). */
  listings?: ListingCache;
  /** Content types by default type and extension key (`.txt`, `.txt.gz`, ''); cleared past 1000 entries. */
  types: Map<string, TypeInfo>;
  /** Bumped whenever `types` is cleared, so facts holding an older type are refreshed. */
  typesVersion: number;
  /** The last `cacheControl` value checked as a header value (files share one, so it is checked once). */
  checkedCacheControl: string | null;
}

/**
 * Facts about one version of one file, worked out on its first request and kept in the cache entry,
 * which the stat of every request (shared by one turn's requests, {@link statQuiet}) validates
 * (device, inode, size, mtime, ctime): any change to the file, or a different file at the path,
 * drops them.
 */
interface Prepared extends FileFacts {
  owner: Tree;
  /**
   * Whether the symlink policy passed for this version, judged for a file on a descriptor opened
   * for the check that was this very file (device and inode of the stat the facts are kept under),
   * so the verdict is about the file, never about whatever the name led to at another moment. Kept
   * only under `inside-root` and `follow`: a name swapped to lead elsewhere reaches another inode,
   * whose stat misses. `never` and `owner-match` judge the links themselves, so they are checked on
   * every request. Every descriptor a body is read from is judged again when opened.
   */
  contained: boolean;
  defaultType: string;
  typesVersion: number;
  type: TypeInfo;
  baseTag: string;
  etag: string;
  /** Last-Modified in whole-second milliseconds, and as an HTTP-date. */
  lastModified: number;
  lastModifiedText: string;
}

/** A file type plus whether that type is worth compressing (decided once per type). */
interface TypeInfo extends FileType {
  compressible: boolean;
}

/** The part of a name its type depends on: the extension, and the inner one before `.gz`/`.bz2`. */
function typeKey(name: string): string {
  const ext = extensionOf(name);
  return CONTENT_ENCODINGS[ext] === undefined ? ext : extensionOf(name.slice(0, -ext.length)) + ext;
}

const dates = new Map<number, string>();

/** An HTTP-date for a whole-second time, memoised (files share few distinct mtimes). */
function httpDate(ms: number): string {
  let text = dates.get(ms);
  if (text === undefined) {
    text = new Date(ms).toUTCString();
    if (dates.size >= 1000) dates.clear();
    dates.set(ms, text);
  }
  return text;
}

/** Whether `name` is a program in `tree` ({@link isProgramName}), remembered per name. */
function isProgram(tree: Tree, name: string): boolean {
  let verdict = tree.programNames.get(name);
  if (verdict === undefined) {
    verdict = isProgramName(name, tree.programs);
    if (tree.programNames.size >= 1000) tree.programNames.clear();
    tree.programNames.set(name, verdict);
  }
  return verdict;
}

/** `dir/name` for a name that passed `isSafeSegment`: plain concatenation, no normalisation needed. */
function childPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Whether `record` has an enumerable key; stops at the first, without listing them. */
function hasKeys(record: object): boolean {
  for (const _ in record) return true;
  return false;
}

type StatResult = Stats | 403 | 404;

const QUIET = { throwIfNoEntry: false } as const;

function statNow(path: string): StatResult {
  try {
    return statSync(path, QUIET) ?? 404;
  } catch (err) {
    return statusForFsError(err);
  }
}

/** Most paths whose stats (and, apart, real paths) one turn keeps (a turn asking for more resolves the rest afresh). */
const TURN_STATS_MAX = 256;
/** The stats taken in the current turn of the event loop, by path; emptied when the turn ends. */
const turnStats = new Map<string, StatResult>();
/** A real path resolved in the current turn, with the identity (device, inode) of the stat it was resolved for. */
interface TurnRealPath {
  real: string | 403 | 404;
  dev: number;
  ino: number;
}
/** The real paths resolved in the current turn of the event loop, by path; emptied when the turn ends. */
const turnRealPaths = new Map<string, TurnRealPath>();
/** Whether the end of this turn is set to empty the maps. */
let turnForgetting = false;

function forgetTurn(): void {
  turnForgetting = false;
  // Clearing allocates a new table: a map the turn left empty is left alone.
  if (turnStats.size !== 0) turnStats.clear();
  if (turnRealPaths.size !== 0) turnRealPaths.clear();
}

function forgetAtTurnEnd(): void {
  if (turnForgetting) return;
  turnForgetting = true;
  setImmediate(forgetTurn);
}

/**
 * The stat of `path` (403/404 when it cannot be had), taken once per turn of the event loop: every
 * request answered in one turn (the HTTP/2 streams, pipelined requests and connections one poll of
 * the loop reads) shares the first stat of the path, and the next turn stats again. A change to the
 * file is thus seen by every request the server reads from the turn after the change on; within a
 * turn the requests are answered as of its first look at the file, as if they had all arrived at
 * that moment. The stat is most of a small cached file's CPU. A process that edits a file itself
 * and serves it in the same turn sees the edit from the next turn. Pinned by
 * test/static/stat-count.test.ts (one stat for a turn's requests; an edit, a removal and a new file
 * each seen from the next turn, and by the next request over a socket).
 */
function statQuiet(path: string): StatResult {
  let st = turnStats.get(path);
  if (st !== undefined) return st;
  st = statNow(path);
  forgetAtTurnEnd();
  if (turnStats.size < TURN_STATS_MAX) turnStats.set(path, st);
  return st;
}

/**
 * The real path of `path` (403/404 when it cannot be had), whose stat this turn is `st`, resolved
 * once per turn by the rule of {@link statQuiet}: the requests of one turn that reach a processed
 * file share one `realpath`, as they share its stat, and the next turn resolves it again, so a
 * symlink swapped between turns is judged by where it leads from the next turn on. A real path is
 * kept with the device and inode of the stat it was resolved for and used only for a stat of the
 * same file: a path whose stat changed identity within the turn is resolved afresh. What it leads
 * to is judged by the symlink policy on every request (SECURITY.md §1.2). Pinned by
 * test/static/realpath-turn.test.ts.
 */
function realPathQuiet(path: string, st: Stats): string | 403 | 404 {
  const known = turnRealPaths.get(path);
  if (known !== undefined && known.dev === st.dev && known.ino === st.ino) return known.real;
  let real: string | 403 | 404;
  try {
    real = realpathSync.native(path);
  } catch (err) {
    real = statusForFsError(err);
  }
  forgetAtTurnEnd();
  if (turnRealPaths.size < TURN_STATS_MAX) turnRealPaths.set(path, { real, dev: st.dev, ino: st.ino });
  return real;
}

function readFd(fd: number): Promise<Buffer> {
  return new Promise((resolveRead, reject) => readFileCb(fd, (err, data) => (err ? reject(err) : resolveRead(data))));
}

/** Reads a whole file through a checked descriptor (the same identity and containment rules as streaming). */
async function readChecked(path: string, st: Stats, allowed: OpenedCheck): Promise<Buffer> {
  const fd = await openChecked(path, st, allowed);
  try {
    return await readFd(fd);
  } finally {
    close(fd, () => {});
  }
}

/** Answers `status` with its error page. */
function statusPage(request: Request, status: number, detail: string): string {
  request.setEncoder(null);
  request.setResponseCode(status);
  request.setHeader('Content-Type', 'text/html; charset=utf-8');
  return errorPageHtml(status, reasonPhrase(status), detail);
}

const NOT_FOUND_DETAIL = 'File not found.';

/**
 * What a child File inherits, handed from `createSimilarFile` to the constructor: the directory File
 * (whose tree and settings it shares), its name there and the stat taken while looking it up. Module
 * variables rather than an object, as a child is made for every request.
 */
let seedParent: File | null = null;
let seedName = '';
let seedStat: Stats | undefined;

/** The representation chosen for a response. */
interface Representation {
  /** Path whose bytes are sent (the file, or its precompressed sibling). */
  path: string;
  st: Stats;
  etag: string;
  /** Content-Encoding to send, or null. */
  coding: string | null;
  /** Bytes already in hand (cached small file or compressed variant). */
  body?: Buffer | Promise<Buffer | null>;
  /** Compress while streaming with the core encoder of this coding. */
  streamCoding?: CachedCoding;
}

/**
 * Serves files and directories under `path`, Twisted's `static.File` with today's defaults.
 *
 * Security rules enforced here (SECURITY.md §1), pinned by test/static/file.test.ts:
 * - every decoded segment must pass `isSafeSegment` (no `..`, `.`, NUL, `/` or `\`), else 404;
 * - hidden names (dotfiles except `.well-known`, backups) are 404 and left out of listings;
 * - the real path must satisfy the symlink policy (default: stay inside the root's real path),
 *   judged for files on what was opened (`checkOpened`: the descriptor's own real path), both when
 *   a file version is first seen and on every descriptor a body is read from, which must also be
 *   the file the stat described; under `inside-root` and `follow` the verdict is kept per file
 *   version (device, inode, size, mtime, ctime, checked by the stat of every request), so a name
 *   swapped to another file misses it; `never` and `owner-match` check every request (the
 *   "swapped" and "'never' checks the links" symlink tests, and test/static/symlink-race.test.ts);
 * - every fs error is a 403 (permissions) or 404, never a 500; only regular files are sent;
 * - every file response carries `X-Content-Type-Options: nosniff`.
 *
 * Only GET (and HEAD) are defined, so other methods get 405 with `Allow`.
 *
 * ```ts
 * const root = new File('/var/www/htdocs', { cacheControl: 'max-age=3600', ignoredExts: ['.html'] });
 * root.putChild('api', new Api());
 * new Site(root);
 * ```
 */
export class File extends Resource {
  /** Absolute path of this file or directory. */
  readonly path: string;
  defaultType: string;
  indexNames: string[];
  ignoredExts: string[];
  processors: Record<string, Processor>;
  listing: boolean;
  cacheControl: string | null;
  readonly #tree: Tree;
  /** The directory File this one was found in (null for a tree's root), and its name there. */
  readonly #parent: File | null;
  readonly #name: string;
  /** A stat taken by the parent while looking this child up, used once. */
  #stat: Stats | undefined;

  constructor(path: string, options: FileOptions = {}) {
    super();
    const p = seedParent;
    seedParent = null;
    if (p) {
      this.path = path;
      this.defaultType = p.defaultType;
      this.indexNames = p.indexNames;
      this.ignoredExts = p.ignoredExts;
      this.processors = p.processors;
      this.listing = p.listing;
      this.cacheControl = p.cacheControl;
      this.#tree = p.#tree;
      this.#parent = p;
      this.#name = seedName;
      this.#stat = seedStat;
      seedStat = undefined;
      return;
    }
    this.path = resolve(path);
    this.defaultType = options.defaultType ?? 'application/octet-stream';
    this.ignoredExts = [...(options.ignoredExts ?? [])];
    this.processors = {};
    for (const [ext, p] of Object.entries(options.processors ?? {})) this.processors[normalizeExt(ext)] = p;
    // As Twisted's index.rpy: each processed extension adds an index name after the static ones.
    this.indexNames = [
      ...(options.indexNames ?? [...DEFAULT_INDEX_NAMES, ...Object.keys(this.processors).map((ext) => `index${ext}`)]),
    ];
    this.listing = options.listing ?? true;
    this.cacheControl = options.cacheControl ?? null;
    let real = this.path;
    try {
      real = realpathSync.native(this.path);
    } catch {
      // A missing root answers 404 until it appears.
    }
    this.#tree = {
      root: { path: this.path, real },
      contentTypes: new Map(Object.entries(options.contentTypes ?? {}).map(([ext, type]) => [normalizeExt(ext), type])),
      symlinks: options.symlinks ?? 'inside-root',
      hidden: options.hidden ?? DEFAULT_HIDDEN,
      precompressed: options.precompressed ?? true,
      compress: options.compress ?? true,
      cache: options.cache === undefined ? new FileCache() : options.cache,
      programs:
        options.programExtensions === undefined
          ? PROGRAM_EXTENSIONS
          : new Set([...options.programExtensions].map(normalizeExt)),
      programNames: new Map(),
      types: new Map(),
      typesVersion: 0,
      checkedCacheControl: null,
    };
    this.#parent = null;
    this.#name = '';
  }

  /** Segments from the root to this file (worked out when a containment check needs them, not per child). */
  #rel(): string[] {
    const rel: string[] = [];
    for (let f: File | null = this; f.#parent; f = f.#parent) rel.unshift(f.#name);
    return rel;
  }

  /** Adds an extension tried when a name is missing (Twisted's `ignoreExt`); `*` means any. */
  ignoreExt(ext: string): void {
    this.ignoredExts.push(ext);
  }

  /** Maps an extension to a content type for the whole tree: `setContentType('.md', 'text/markdown')`. */
  setContentType(ext: string, type: string): void {
    this.#tree.contentTypes.set(normalizeExt(ext), type);
    this.#tree.types.clear();
    this.#tree.typesVersion++;
  }

  /** The Content-Type this tree sends for a file name. */
  typeFor(name: string): string {
    return this.#fileType(name).type;
  }

  #fileType(name: string): TypeInfo {
    const tk = typeKey(name);
    const key = `${this.defaultType}\0${tk}`;
    const types = this.#tree.types;
    let ft = types.get(key);
    if (!ft) {
      const t = typeForName(`x${tk}`, { overrides: this.#tree.contentTypes, defaultType: this.defaultType });
      const compressible = shouldCompress({
        status: 200,
        contentType: t.type,
        contentEncoding: undefined,
        cacheControl: undefined,
        contentRange: undefined,
        length: null,
      });
      ft = { ...t, compressible };
      if (types.size >= 1000) types.clear();
      types.set(key, ft);
    }
    return ft;
  }

  /** A child File for `name` in this directory, sharing the tree and this File's settings. */
  createSimilarFile(name: string, st?: Stats): File {
    seedParent = this;
    seedName = name;
    seedStat = st;
    return new File(childPath(this.path, name));
  }

  #containment(path: string, rel: readonly string[]) {
    return checkContainment(path, this.#tree.root, rel, this.#tree.symlinks);
  }

  /** Whether `real`, the real path of this directory's entry `name`, passes the symlink policy. */
  #judge(real: string, name: string): Containment {
    const symlinks = this.#tree.symlinks;
    // Only `never` and `owner-match` look at the segments below the root.
    const rel = symlinks === 'never' || symlinks === 'owner-match' ? [...this.#rel(), name] : [];
    return judge(real, this.#tree.root, rel, symlinks);
  }

  /** Segments from the root to `path`: this file's, or those of a sibling (a precompressed `.gz`/`.br`). */
  #relOf(path: string): string[] {
    const rel = this.#rel();
    if (path !== this.path) rel.splice(-1, 1, basename(path));
    return rel;
  }

  /** The symlink policy applied to a descriptor opened from `path` (this file or a sibling). */
  #openedCheck(path: string): OpenedCheck {
    return (fd, opened) => {
      const c = checkOpened(fd, opened, path, this.#tree.root, this.#relOf(path), this.#tree.symlinks);
      return c.ok ? null : c.status;
    };
  }

  /** The last segment of `path`: a child's name in its directory (a plain name, as traversal gives), else worked out. */
  #baseName(): string {
    const name = this.#name;
    return this.#parent !== null && name !== '' && !name.includes('/') ? name : basename(this.path);
  }

  #ownStat(): StatResult {
    const st = this.#stat;
    this.#stat = undefined;
    return st ?? statQuiet(this.path);
  }

  /** The file `name` in this directory after the ignored-extension search, or null. */
  #findSibling(name: string): { name: string; st: Stats } | null {
    for (const ext of this.ignoredExts) {
      if (ext === '') continue;
      if (ext === '*') {
        let entries: string[];
        try {
          entries = readdirSync(this.path).sort();
        } catch {
          return null;
        }
        for (const entry of entries) {
          if (!entry.startsWith(`${name}.`) || isHiddenName(entry, this.#tree.hidden) || this.#executes(entry))
            continue;
          const st = statQuiet(childPath(this.path, entry));
          if (typeof st !== 'number') return { name: entry, st };
        }
        continue;
      }
      const candidate = name + (ext.startsWith('.') ? ext : `.${ext}`);
      if (this.#executes(candidate)) continue;
      const st = statQuiet(childPath(this.path, candidate));
      if (typeof st !== 'number') return { name: candidate, st };
    }
    return null;
  }

  /**
   * Whether `name` is a program or has a processor: the ignored-extension search never leads to one
   * (SECURITY.md §2.1), so `/page` cannot run `page.php`.
   */
  #executes(name: string): boolean {
    return (
      isProgram(this.#tree, name) || (hasKeys(this.processors) && processorFor(this.processors, name) !== undefined)
    );
  }

  /** The resource for the entry `name` (already stat'ed): a processor's, or a child File. */
  #childFor(name: string, st: Stats): Resource {
    const processor = hasKeys(this.processors) ? processorFor(this.processors, name) : undefined;
    if (processor && st.isFile()) {
      const path = childPath(this.path, name);
      const real = realPathQuiet(path, st);
      const c = typeof real === 'number' ? { ok: false as const, status: real } : this.#judge(real, name);
      if (!c.ok) return c.status === 403 ? new ForbiddenResource() : new NoResource(NOT_FOUND_DETAIL);
      return processor(path, { root: this.#tree.root.path });
    }
    if (st.isFile() && isProgram(this.#tree, name)) return new RefusedProgram(childPath(this.path, name));
    return this.createSimilarFile(name, st);
  }

  override getChild(segment: string, request: Request): ChildResult {
    if (segment !== '') return this.#namedChild(segment);
    // Without a stat from the parent (a tree's root), the index is looked for before this File is
    // stat'ed: `dir/index.html` found is one stat, not two. When this is no directory, every index
    // stat fails (ENOTDIR) and the stat below decides, as it does for a miss.
    const indexFirst = this.#stat === undefined && request.postpath.length === 0;
    if (indexFirst) {
      const index = this.#index();
      if (index) return index;
    }
    const own = this.#ownStat();
    if (typeof own === 'number') return own === 403 ? new ForbiddenResource() : new NoResource(NOT_FOUND_DETAIL);
    if (!own.isDirectory()) {
      // `--path FILE`: the root file answers at `/`.
      if (this.#parent === null && own.isFile() && request.postpath.length === 0) {
        this.#stat = own;
        return this;
      }
      return new NoResource(NOT_FOUND_DETAIL);
    }
    // The trailing-slash child: an index file, else the listing. `a//b` (empty segment inside) is 404.
    if (request.postpath.length) return new NoResource(NOT_FOUND_DETAIL);
    const index = indexFirst ? null : this.#index();
    if (index) return index;
    if (!this.listing) return new ForbiddenResource('Directory listing is turned off.');
    const rel = this.#rel();
    const c = this.#containment(this.path, rel);
    if (!c.ok)
      return new ErrorPage(c.status, reasonPhrase(c.status), c.status === 403 ? 'Forbidden.' : NOT_FOUND_DETAIL);
    return new DirectoryLister({
      path: this.path,
      hidden: this.#tree.hidden,
      typeFor: (name) => this.typeFor(name),
      allowed: (full) => this.#tree.symlinks === 'follow' || this.#containment(full, [...rel, basename(full)]).ok,
      stat: own,
      cache: this.#tree.cache ? (this.#tree.listings ??= new ListingCache()) : null,
    });
  }

  /** The resource for the first index name that is a regular file here, or null. */
  #index(): Resource | null {
    for (const name of this.indexNames) {
      const st = statQuiet(childPath(this.path, name));
      if (typeof st !== 'number' && st.isFile()) return this.#childFor(name, st);
    }
    return null;
  }

  /**
   * The child for a non-empty segment. No stat of this directory first: when it is not one, the
   * child's stat fails with ENOTDIR, which is a 404 like any other miss.
   */
  #namedChild(segment: string): Resource {
    if (!isSafeSegment(segment) || isHiddenName(segment, this.#tree.hidden)) return new NoResource(NOT_FOUND_DETAIL);
    const st = statQuiet(childPath(this.path, segment));
    if (st === 403) return new ForbiddenResource();
    if (st === 404) {
      const found = this.#findSibling(segment);
      return found ? this.#childFor(found.name, found.st) : new NoResource(NOT_FOUND_DETAIL);
    }
    return this.#childFor(segment, st);
  }

  override GET(request: Request): RenderResult {
    const st = this.#ownStat();
    if (typeof st === 'number') return statusPage(request, st, st === 403 ? 'Forbidden.' : NOT_FOUND_DETAIL);
    const held = this.#tree.cache?.held(this.path, st);
    const facts = this.#facts(st, held);
    if (typeof facts === 'number') return statusPage(request, facts, facts === 403 ? 'Forbidden.' : NOT_FOUND_DETAIL);
    if (st.isDirectory()) {
      // A directory without its trailing slash: relative redirect (`./name/`), query kept. The name is
      // the last segment of the URL the client asked for: a rewrite (`/~name` → `users/name`) may have
      // renamed the one traversal saw.
      const last = splitPath(request.path.slice(1))?.at(-1) || (request.prepath.at(-1) ?? '');
      const target = `./${last === '' ? '' : `${encodePathSegment(last)}/`}${request.queryString ? `?${request.queryString}` : ''}`;
      return redirectTo(target, request);
    }
    if (!st.isFile()) return statusPage(request, 404, NOT_FOUND_DETAIL);
    // A program reached as a file (the `--path FILE` root): never its source (SECURITY.md §2.2).
    if (isProgram(this.#tree, this.#baseName())) return refuseProgram(request, this.path);
    return this.#serve(request, st, facts, held?.body);
  }

  /**
   * The facts for the version of this file that `st` describes, from the cache when held; 403/404
   * when the symlink policy refuses the path (checked here unless the kept facts already passed it).
   */
  #facts(st: Stats, held: HeldFile | undefined): Prepared | 403 | 404 {
    const tree = this.#tree;
    let facts = held?.facts as Prepared | undefined;
    if (facts?.owner !== tree) facts = undefined;
    if (!facts?.contained) {
      if (st.isFile()) {
        const refused = checkOpenedFile(this.path, st, this.#openedCheck(this.path));
        if (refused !== null) return refused;
      } else {
        const c = this.#containment(this.path, this.#rel());
        if (!c.ok) return c.status;
      }
    }
    if (!facts) {
      const baseTag = `${st.ino.toString(36)}-${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}`;
      const lastModified = Math.floor(st.mtimeMs / 1000) * 1000;
      const type = this.#fileType(this.#baseName());
      // Checked once per version, so every response can set it without checking again.
      assertHeader('Content-Type', type.type);
      facts = {
        owner: tree,
        contained: tree.symlinks === 'inside-root' || tree.symlinks === 'follow',
        defaultType: this.defaultType,
        typesVersion: tree.typesVersion,
        type,
        baseTag,
        etag: `"${baseTag}"`,
        lastModified,
        lastModifiedText: httpDate(lastModified),
      };
      tree.cache?.keepFacts(this.path, st, facts);
    } else if (facts.defaultType !== this.defaultType || facts.typesVersion !== tree.typesVersion) {
      const type = this.#fileType(this.#baseName());
      assertHeader('Content-Type', type.type);
      facts.type = type;
      facts.defaultType = this.defaultType;
      facts.typesVersion = tree.typesVersion;
    }
    return facts;
  }

  /** Headers, negotiation, preconditions, ranges, then the body (`body`: this version's bytes, when the cache holds them). */
  #serve(request: Request, st: Stats, facts: Prepared, body: Buffer | undefined): RenderResult {
    const tree = this.#tree;
    const ft = facts.type;
    const { baseTag, lastModified } = facts;
    // Every value below was checked once (types when first looked up, the rest built here).
    setTrustedHeader(request, 'Content-Type', ft.type, 'content-type');
    setTrustedHeader(request, 'X-Content-Type-Options', 'nosniff', 'x-content-type-options');
    setTrustedHeader(request, 'Accept-Ranges', 'bytes', 'accept-ranges');
    setTrustedHeader(request, 'Last-Modified', facts.lastModifiedText, 'last-modified');
    const cacheControl = this.cacheControl;
    if (cacheControl) {
      if (cacheControl !== tree.checkedCacheControl) {
        assertHeader('Cache-Control', cacheControl);
        tree.checkedCacheControl = cacheControl;
      }
      setTrustedHeader(request, 'Cache-Control', cacheControl, 'cache-control');
    }

    const rangeHeader = request.getHeader('range');
    let rep: Representation = body
      ? { path: this.path, st, etag: facts.etag, coding: ft.encoding, body }
      : { path: this.path, st, etag: facts.etag, coding: ft.encoding };
    if (ft.encoding) {
      request.setHeader('Content-Encoding', ft.encoding);
    } else {
      const chosen = this.#negotiate(request, st, ft, baseTag, rangeHeader !== undefined);
      if (chosen) rep = chosen;
    }
    if (rep.coding) request.setHeader('Content-Encoding', rep.coding);
    if (rep.coding || rangeHeader !== undefined) request.setEncoder(null);
    setTrustedHeader(request, 'ETag', rep.etag, 'etag');

    const h = request.requestHeaders;
    const ifMatch = h.get('if-match');
    const ifNoneMatch = h.get('if-none-match');
    const ifModifiedSince = h.get('if-modified-since');
    const ifUnmodifiedSince = h.get('if-unmodified-since');
    const conditional =
      ifMatch !== undefined ||
      ifNoneMatch !== undefined ||
      ifModifiedSince !== undefined ||
      ifUnmodifiedSince !== undefined;
    const pre = conditional
      ? evaluatePreconditions(
          { method: request.method, ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince },
          { etag: rep.etag, lastModified },
        )
      : 200;
    if (pre !== 200) {
      request.setEncoder(null);
      request.setResponseCode(pre);
      return '';
    }

    const size = rep.st.size;
    let pieces: BodyPiece[] | null = null;
    if (
      rangeHeader !== undefined &&
      rep.coding === ft.encoding &&
      evaluateIfRange(h.get('if-range'), { etag: rep.etag, lastModified })
    ) {
      const decision = parseRange(rangeHeader, size);
      if (decision.kind === 'unsatisfiable') {
        request.setResponseCode(416);
        request.setHeader('Content-Range', unsatisfiedRange(size));
        return '';
      }
      if (decision.kind === 'partial') {
        request.setResponseCode(206);
        if (decision.ranges.length === 1) {
          const r = decision.ranges[0]!;
          request.setHeader('Content-Range', contentRange(r, size));
          pieces = [r];
        } else {
          const plan = planMultipart(decision.ranges, size, ft.type);
          request.setHeader('Content-Type', plan.contentType);
          pieces = [];
          for (const part of plan.parts) pieces.push(part.head, part.range);
          pieces.push(plan.tail);
        }
      }
    }
    return this.#send(request, rep, pieces);
  }

  /**
   * Picks a precompressed sibling or a compressed variant the client accepts, or null for identity.
   * Adds `Vary: Accept-Encoding` whenever the answer could have differed.
   */
  #negotiate(request: Request, st: Stats, ft: TypeInfo, baseTag: string, ranged: boolean): Representation | null {
    const tree = this.#tree;
    const compressible =
      tree.compress &&
      ft.compressible &&
      st.size >= MIN_COMPRESS_BYTES &&
      (this.cacheControl === null || !/(^|,)\s*no-transform\s*(,|$)/i.test(this.cacheControl));
    if (compressible) varyOnAcceptEncoding(request);
    const ae = request.getHeader('accept-encoding');
    if (ae === undefined || ranged || (request.method !== 'GET' && request.method !== 'HEAD')) return null;
    const accepted = CODINGS.filter((c) => negotiateEncoding(ae, [c]) === c);
    if (!accepted.length) return null;
    if (tree.precompressed) {
      const siblings = new Map<string, { path: string; st: Stats }>();
      for (const coding of accepted) {
        const path = this.path + SIBLING_SUFFIX[coding];
        const sst = statQuiet(path);
        if (typeof sst === 'number' || !sst.isFile()) continue;
        if (checkOpenedFile(path, sst, this.#openedCheck(path)) !== null) continue;
        siblings.set(coding, { path, st: sst });
      }
      if (siblings.size) {
        varyOnAcceptEncoding(request);
        const coding = negotiateEncoding(ae, [...siblings.keys()])! as CachedCoding;
        const s = siblings.get(coding)!;
        const tag = `${s.st.ino.toString(36)}-${s.st.size.toString(36)}-${Math.floor(s.st.mtimeMs).toString(36)}`;
        const rep: Representation = { path: s.path, st: s.st, etag: `"${tag}-${coding}"`, coding };
        const cached = tree.cache?.body(s.path, s.st);
        if (cached) rep.body = cached;
        return rep;
      }
    }
    if (!compressible || st.size < MIN_COMPRESS_BYTES) return null;
    const coding = negotiateEncoding(ae, accepted) as CachedCoding | null;
    if (!coding) return null;
    const etag = `"${baseTag}-${coding}"`;
    const cache = tree.cache;
    if (cache && st.size <= cache.maxCompressSize) {
      const allowed = this.#openedCheck(this.path);
      const variant = cache.variant(this.path, st, coding, () => readChecked(this.path, st, allowed));
      return { path: this.path, st, etag, coding, body: variant };
    }
    // Too large to keep: compressed while streaming, so its length is unknown; HEAD describes identity.
    if (request.method === 'HEAD') return null;
    return { path: this.path, st, etag: `W/${etag}`, coding: null, streamCoding: coding };
  }

  #send(request: Request, rep: Representation, pieces: BodyPiece[] | null): RenderResult {
    const cache = this.#tree.cache;
    let body = rep.body;
    if (body === undefined && cache && rep.st.size <= cache.maxFileSize && !rep.streamCoding) {
      const allowed = this.#openedCheck(rep.path);
      body = cache.body(rep.path, rep.st) ?? cache.load(rep.path, rep.st, () => readChecked(rep.path, rep.st, allowed));
    }
    if (body !== undefined) {
      if (Buffer.isBuffer(body)) return sliceBody(request, body, pieces);
      return body.then(
        (data) => (data ? sliceBody(request, data, pieces) : statusPage(request, 404, NOT_FOUND_DETAIL)),
        (err: unknown) => statusPage(request, statusForFsError(err), NOT_FOUND_DETAIL),
      );
    }
    return this.#stream(request, rep, pieces);
  }

  async #stream(
    request: Request,
    rep: Representation,
    pieces: BodyPiece[] | null,
  ): Promise<string | typeof NOT_DONE_YET> {
    const parts: BodyPiece[] = pieces ?? (rep.st.size ? [{ start: 0, end: rep.st.size - 1 }] : []);
    const length = parts.reduce((n, p) => n + (Buffer.isBuffer(p) ? p.length : p.end - p.start + 1), 0);
    if (rep.streamCoding) {
      request.setEncoder(STREAM_ENCODERS[rep.streamCoding].encoderForRequest());
    }
    request.setHeader('Content-Length', length);
    if (request.method === 'HEAD') {
      request.finish();
      return NOT_DONE_YET;
    }
    let fd: number;
    try {
      fd = await openChecked(rep.path, rep.st, this.#openedCheck(rep.path));
    } catch (err) {
      request.removeResponseHeader('Content-Length');
      return statusPage(request, statusForFsError(err), NOT_FOUND_DETAIL);
    }
    void streamPieces(request, fd, parts);
    return NOT_DONE_YET;
  }
}

/** Sends a body already in memory: whole, one range, or the multipart pieces. */
function sliceBody(_request: Request, data: Buffer, pieces: BodyPiece[] | null): Buffer {
  if (!pieces) return data;
  const out: Buffer[] = [];
  for (const p of pieces) out.push(Buffer.isBuffer(p) ? p : data.subarray(p.start, p.end + 1));
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}
