// A bounded in-memory cache of small files, compressed variants and per-file facts, keyed by path and
// validated against a fresh stat on every use (device, inode, size, mtime, ctime), so an edited or
// replaced file is never served stale.
import type { Stats } from 'node:fs';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** Options of {@link FileCache}. */
export interface FileCacheOptions {
  /** Total bytes held (bodies and compressed variants). Default 64 MiB. */
  maxBytes?: number;
  /** Largest file whose bytes are kept. Default 256 KiB. */
  maxFileSize?: number;
  /** Largest file whose compressed variants are kept. Default 8 MiB. */
  maxCompressSize?: number;
}

/** Most files tracked at once, whatever their size. */
const MAX_ENTRIES = 10_000;

/** Codings the cache can produce. */
export type CachedCoding = 'gzip' | 'br';

/**
 * What a File tree works out once per file version (type, validators, containment) and keeps beside
 * the bytes. Opaque to the cache; `owner` tells trees sharing one cache apart.
 */
export interface FileFacts {
  readonly owner: object;
}

/** What the cache holds for one file version. */
export interface HeldFile {
  readonly facts?: FileFacts;
  readonly body?: Buffer;
}

interface Entry {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  body?: Buffer;
  facts?: FileFacts;
  variants: Partial<Record<CachedCoding, Buffer | Promise<Buffer | null>>>;
  bytes: number;
  /** The value of the move counter when the entry last went to the end of the LRU order. */
  stamp: number;
}

/**
 * Small-file and compressed-variant cache shared by a File tree. Entries are dropped as soon as a stat
 * shows the file changed; the least recently used go first when `maxBytes` is reached.
 */
export class FileCache {
  readonly maxBytes: number;
  readonly maxFileSize: number;
  readonly maxCompressSize: number;
  #entries = new Map<string, Entry>();
  #bytes = 0;
  /** Counts moves to the end of the LRU order. */
  #moves = 0;

  constructor(options: FileCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxFileSize = options.maxFileSize ?? 256 * 1024;
    this.maxCompressSize = options.maxCompressSize ?? 8 * 1024 * 1024;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  #entry(path: string, st: Stats, create: boolean): Entry | undefined {
    const e = this.#entries.get(path);
    if (e) {
      if (
        e.ino === st.ino &&
        e.dev === st.dev &&
        e.size === st.size &&
        e.mtimeMs === st.mtimeMs &&
        e.ctimeMs === st.ctimeMs
      ) {
        // Refresh its place in the LRU order, unless it is still in the newer half (fewer moves since its
        // own than half the entries): a hot file is then not moved on every request.
        if (this.#moves - e.stamp >= this.#entries.size / 2) {
          this.#entries.delete(path);
          this.#entries.set(path, e);
          e.stamp = ++this.#moves;
        }
        return e;
      }
      this.#drop(path, e);
    }
    if (!create) return undefined;
    if (this.#entries.size >= MAX_ENTRIES) {
      const [oldest, victim] = this.#entries.entries().next().value!;
      this.#drop(oldest, victim);
    }
    const fresh: Entry = {
      dev: st.dev,
      ino: st.ino,
      size: st.size,
      mtimeMs: st.mtimeMs,
      ctimeMs: st.ctimeMs,
      variants: {},
      bytes: 0,
      stamp: ++this.#moves,
    };
    this.#entries.set(path, fresh);
    return fresh;
  }

  #drop(path: string, e: Entry): void {
    this.#entries.delete(path);
    this.#bytes -= e.bytes;
    e.bytes = 0;
  }

  #account(path: string, e: Entry, added: number): void {
    if (this.#entries.get(path) !== e) return;
    e.bytes += added;
    this.#bytes += added;
    for (const [key, victim] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#drop(key, victim);
    }
  }

  /**
   * The facts kept for the file version `st` describes, if any. Does not count as a use for the LRU
   * order (the body lookup that follows does).
   */
  facts(path: string, st: Stats): FileFacts | undefined {
    const e = this.#entries.get(path);
    if (!e) return undefined;
    if (
      e.ino === st.ino &&
      e.dev === st.dev &&
      e.size === st.size &&
      e.mtimeMs === st.mtimeMs &&
      e.ctimeMs === st.ctimeMs
    )
      return e.facts;
    this.#drop(path, e);
    return undefined;
  }

  /** Keeps `facts` for the file version `st` describes, until that version changes or is evicted. */
  keepFacts(path: string, st: Stats, facts: FileFacts): void {
    this.#entry(path, st, true)!.facts = facts;
  }

  /** The cached bytes of the file `st` describes, if held. */
  body(path: string, st: Stats): Buffer | undefined {
    return this.held(path, st)?.body;
  }

  /** Everything held for the file version `st` describes (its facts and bytes, in one lookup), if anything. */
  held(path: string, st: Stats): HeldFile | undefined {
    return this.#entries.size ? this.#entry(path, st, false) : undefined;
  }

  /** Reads the file with `read` and keeps it when small; null when it changed while being read. */
  async load(path: string, st: Stats, read: () => Promise<Buffer>): Promise<Buffer | null> {
    const data = await read();
    if (data.length !== st.size) return null;
    if (st.size <= this.maxFileSize) {
      const e = this.#entry(path, st, true)!;
      if (!e.body) {
        e.body = data;
        this.#account(path, e, data.length);
      }
    }
    return data;
  }

  /**
   * The file compressed with `coding`, computed once per file version (at gzip level 9 / brotli
   * quality 9, since it is reused) and kept. Null when the file changed meanwhile.
   */
  variant(path: string, st: Stats, coding: CachedCoding, read: () => Promise<Buffer>): Buffer | Promise<Buffer | null> {
    const e = this.#entry(path, st, true)!;
    const held = e.variants[coding];
    if (held) return held;
    const work = this.#compress(e, coding, st, read);
    e.variants[coding] = work;
    work.then(
      (out) => {
        if (e.variants[coding] !== work) return;
        if (out) {
          e.variants[coding] = out;
          this.#account(path, e, out.length);
        } else {
          delete e.variants[coding];
        }
      },
      () => {
        if (e.variants[coding] === work) delete e.variants[coding];
      },
    );
    return work;
  }

  async #compress(e: Entry, coding: CachedCoding, st: Stats, read: () => Promise<Buffer>): Promise<Buffer | null> {
    const raw = e.body ?? (await read());
    if (raw.length !== st.size) return null;
    return coding === 'gzip'
      ? gzipAsync(raw, { level: 9 })
      : brotliAsync(raw, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
        });
  }
}
