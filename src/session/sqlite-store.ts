// Sessions in one SQLite file that every process on the machine shares (`--workers`, restarts):
// Node's own node:sqlite where the running Node has it, better-sqlite3 where it does not.
import { closeSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import {
  Session,
  type SessionLimits,
  type SessionStore,
  SESSION_ABSOLUTE_MS,
  SESSION_CAP,
  SESSION_IDLE_MS,
  newSessionId,
} from './session.js';

/** Options of {@link SqliteSessionStore}: the limits (idle 15 min, absolute 12 h, cap 100 000) and more. */
export interface SqliteSessionStoreOptions extends SessionLimits {
  /** How long a write waits for another process's lock before the request answers 503. Default 5000 ms. */
  busyTimeout?: number;
  /** Interval of the sweep that deletes expired rows. Default 60 s. */
  sweepInterval?: number;
  /** `node:sqlite` or `better-sqlite3`; default the first that loads. */
  driver?: 'node:sqlite' | 'better-sqlite3';
}

/** The part of node:sqlite's and better-sqlite3's APIs the store uses (they agree on it). */
interface Statement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): unknown;
}
interface Database {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

/** Opens `file` with node:sqlite or better-sqlite3; a one-line error naming what to install when neither loads. */
export async function openSqlite(
  file: string,
  driver?: 'node:sqlite' | 'better-sqlite3',
): Promise<{ db: Database; driver: string }> {
  if (driver !== 'better-sqlite3') {
    try {
      const mod = await importNodeSqlite();
      return { db: new mod.DatabaseSync(file), driver: 'node:sqlite' };
    } catch (err) {
      if (driver === 'node:sqlite')
        throw new Error(`node:sqlite is not available in Node ${process.versions.node} (${(err as Error).message})`);
    }
  }
  let Better: new (path: string) => Database;
  try {
    // createRequire: better-sqlite3 is CommonJS and an optional peer dependency.
    Better = createRequire(import.meta.url)('better-sqlite3') as typeof Better;
  } catch {
    throw new Error(
      `SQLite sessions need Node 22.13 or later (node:sqlite) or the better-sqlite3 package: npm install better-sqlite3`,
    );
  }
  try {
    return { db: new Better(file), driver: 'better-sqlite3' };
  } catch (err) {
    // The native part is loaded on first use: built for another Node, it cannot load in this one.
    if ((err as NodeJS.ErrnoException).code === 'ERR_DLOPEN_FAILED') {
      throw new Error(
        `better-sqlite3 was built for another Node version than ${process.version}: npm rebuild better-sqlite3`,
      );
    }
    throw err;
  }
}

/**
 * Imports node:sqlite without the ExperimentalWarning some Node lines print for it (a server's
 * error output should not say its session store is experimental once per start).
 */
async function importNodeSqlite(): Promise<{ DatabaseSync: new (path: string) => Database }> {
  const emitWarning = process.emitWarning;
  process.emitWarning = function quietSqlite(this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/SQLite is an experimental feature/.test(text)) return;
    return (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    const sqliteModule = 'node:sqlite';
    return (await import(sqliteModule)) as { DatabaseSync: new (path: string) => Database };
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Creates `file` (and its directory, 0700) if missing, and makes it 0600 either way. */
function prepareFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fd = openSync(file, 'a', 0o600);
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

interface Row {
  created_at: number;
  last_used: number;
  data: string;
}

/** The writes waiting for the next transaction, and the promise of the rows each one changed. */
interface Batch {
  statements: Statement[];
  params: unknown[][];
  done: Promise<number[]>;
  resolve: (changes: number[]) => void;
  reject: (err: unknown) => void;
}

const ignore = (): void => {};

/** A row as this process last read or wrote it. */
interface Cached {
  createdAt: number;
  lastUsed: number;
  json: string;
}

/** Rows kept in this process's read cache at most. */
const CACHE_ROWS = 10_000;

/**
 * Sessions in a SQLite file, shared by every process that opens it: the default for `--workers` above
 * 1, so a visitor keeps their session whichever worker answers and across restarts. The file is created
 * `0600` (SQLite gives its `-wal` and `-shm` files the same mode) in WAL mode, so readers never wait for
 * a writer. Loads are plain reads, served from a cache of rows while no other process has written to
 * the file since (SQLite's `data_version`, checked once per turn of the event loop); the writes of one turn of the event loop (write-backs, last uses,
 * new sessions) share one transaction, which is what makes a write cheap: each caller's promise
 * settles once that transaction committed. The absolute lifetime and the cap (least recently used
 * first) hold across processes.
 *
 * ```ts
 * const store = await SqliteSessionStore.open('/var/lib/trellis/sessions.sqlite');
 * new Site(root, { sessionStore: store });
 * ```
 */
export class SqliteSessionStore implements SessionStore {
  readonly file: string;
  readonly driver: string;
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  readonly maxSessions: number;
  #db: Database;
  #now: () => number;
  #timer: NodeJS.Timeout | null;
  #closed = false;
  #load: Statement;
  #insert: Statement;
  #update: Statement;
  #destroy: Statement;
  #count: Statement;
  #evict: Statement;
  #sweep: Statement;
  #touch: Statement;
  #updateData: Statement;
  #begin: Statement;
  #commit: Statement;
  #batch: Batch | null = null;
  #dataVersion: Statement;
  #version = -1;
  #versionChecked = false;
  #flushLater = (): void => this.#flush();
  #versionLater = (): void => {
    this.#versionChecked = false;
  };
  #cache = new Map<string, Cached>();

  /** Opens (creating if needed) the store in `file`. */
  static async open(file: string, options: SqliteSessionStoreOptions = {}): Promise<SqliteSessionStore> {
    prepareFile(file);
    const { db, driver } = await openSqlite(file, options.driver);
    return new SqliteSessionStore(file, db, driver, options);
  }

  private constructor(file: string, db: Database, driver: string, options: SqliteSessionStoreOptions) {
    this.file = file;
    this.driver = driver;
    this.#db = db;
    this.idleTimeout = options.idleTimeout ?? SESSION_IDLE_MS;
    this.absoluteTimeout = options.absoluteTimeout ?? SESSION_ABSOLUTE_MS;
    this.maxSessions = options.maxSessions ?? SESSION_CAP;
    this.#now = options.now ?? Date.now;
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeout ?? 5000))}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA wal_autocheckpoint = 10000');
    db.exec(`CREATE TABLE IF NOT EXISTS trellis_sessions (
      id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, last_used INTEGER NOT NULL, data TEXT NOT NULL
    ) WITHOUT ROWID`);
    db.exec('CREATE INDEX IF NOT EXISTS trellis_sessions_last_used ON trellis_sessions (last_used)');
    this.#load = db.prepare(
      'SELECT created_at, last_used, data FROM trellis_sessions WHERE id = ? AND last_used > ? AND created_at > ?',
    );
    this.#dataVersion = db.prepare('PRAGMA data_version');
    this.#touch = db.prepare('UPDATE trellis_sessions SET last_used = ? WHERE id = ? AND last_used < ?');
    this.#insert = db.prepare(
      'INSERT OR REPLACE INTO trellis_sessions (id, created_at, last_used, data) VALUES (?, ?, ?, ?)',
    );
    this.#update = db.prepare('UPDATE trellis_sessions SET last_used = ?, data = ? WHERE id = ?');
    this.#updateData = db.prepare('UPDATE trellis_sessions SET data = ? WHERE id = ?');
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#destroy = db.prepare('DELETE FROM trellis_sessions WHERE id = ?');
    this.#count = db.prepare('SELECT count(*) AS n FROM trellis_sessions WHERE last_used > ? AND created_at > ?');
    this.#evict = db.prepare(
      'DELETE FROM trellis_sessions WHERE id IN (SELECT id FROM trellis_sessions ORDER BY last_used LIMIT ?)',
    );
    this.#sweep = db.prepare('DELETE FROM trellis_sessions WHERE last_used <= ? OR created_at <= ?');
    this.#timer = setInterval(() => {
      try {
        this.sweep();
      } catch {
        // The next request that needs the file reports it (503).
      }
    }, options.sweepInterval ?? 60_000);
    this.#timer.unref();
  }

  /**
   * Queues a write for the transaction that runs at the end of this turn of the event loop. Every write
   * of a turn shares that transaction's one promise: it gives the rows each write changed, by the
   * number this returns.
   */
  #write(statement: Statement, params: unknown[]): number {
    let batch = this.#batch;
    if (!batch) {
      let resolve: Batch['resolve'] = ignore;
      let reject: Batch['reject'] = ignore;
      const done = new Promise<number[]>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A write nobody waits for (a last use) must not make a failed transaction an unhandled rejection.
      done.catch(ignore);
      batch = { statements: [], params: [], done, resolve, reject };
      this.#batch = batch;
      setImmediate(this.#flushLater);
    }
    batch.params.push(params);
    return batch.statements.push(statement) - 1;
  }

  /** Queues a write and waits for its transaction: the number of rows it changed. */
  async #writeNow(statement: Statement, params: unknown[]): Promise<number> {
    const index = this.#write(statement, params);
    const changes = await (this.#batch as Batch).done;
    return changes[index] ?? 0;
  }

  #flush(): void {
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = null;
    const { statements, params } = batch;
    const changes: number[] = new Array(statements.length);
    try {
      this.#begin.run();
      try {
        for (let i = 0; i < statements.length; i++) {
          changes[i] = Number((statements[i] as Statement).run(...(params[i] as unknown[])).changes);
        }
        this.#commit.run();
      } catch (err) {
        this.#db.exec('ROLLBACK');
        throw err;
      }
    } catch (err) {
      // Last uses in the cache that the file does not have: forget them all.
      this.#cache.clear();
      batch.reject(err);
      return;
    }
    batch.resolve(changes);
  }

  /**
   * Empties the read cache when another process committed since it was last checked (SQLite's
   * data_version), at most once per turn of the event loop: rows this process wrote itself it keeps
   * up to date as it writes them.
   */
  #checkVersion(): void {
    if (this.#versionChecked) return;
    this.#versionChecked = true;
    setImmediate(this.#versionLater);
    const version = Number((this.#dataVersion.get() as { data_version: number }).data_version);
    if (version !== this.#version) {
      this.#cache.clear();
      this.#version = version;
    }
  }

  #remember(uid: string, row: Cached): void {
    this.#cache.delete(uid);
    this.#cache.set(uid, row);
    if (this.#cache.size > CACHE_ROWS) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }

  async load(uid: string): Promise<Session | undefined> {
    const now = this.#now();
    this.#checkVersion();
    let row = this.#cache.get(uid);
    if (!row) {
      const found = this.#load.get(uid, now - this.idleTimeout, now - this.absoluteTimeout) as Row | undefined;
      if (!found) return undefined;
      row = { createdAt: Number(found.created_at), lastUsed: Number(found.last_used), json: found.data };
      this.#remember(uid, row);
    } else if (now - row.lastUsed >= this.idleTimeout || now - row.createdAt >= this.absoluteTimeout) {
      this.#cache.delete(uid);
      return undefined;
    }
    // The last use moves in the next transaction (a write-back moves it too); within a hundredth of
    // the idle timeout (a second at most) it is left as it is, so a burst of reads writes once.
    if (now - row.lastUsed >= this.#touchStep) {
      row.lastUsed = now;
      // A failed transaction empties the cache, this row's last use with it.
      this.#write(this.#touch, [now, uid, now]);
    }
    return new Session({ uid, createdAt: row.createdAt, lastUsed: now, json: row.json, store: this });
  }

  async create(): Promise<Session> {
    const now = this.#now();
    this.#makeRoom(now);
    const session = new Session({ uid: newSessionId(), createdAt: now, store: this });
    await this.#writeNow(this.#insert, [session.uid, now, now, '{}']);
    this.#remember(session.uid, { createdAt: now, lastUsed: now, json: '{}' });
    return session;
  }

  /** Deletes expired rows, then the least recently used ones past the cap, leaving room for one more. */
  /** How far the last use must have moved before it is written: a hundredth of the idle timeout, 1 s at most. */
  get #touchStep(): number {
    return Math.min(1000, this.idleTimeout / 100);
  }

  #makeRoom(now: number): void {
    // Last uses still queued decide who is least recently used.
    this.#flush();
    const live = Number((this.#count.get(now - this.idleTimeout, now - this.absoluteTimeout) as { n: number }).n);
    if (live < this.maxSessions) return;
    this.sweep();
    const left = Number((this.#count.get(now - this.idleTimeout, now - this.absoluteTimeout) as { n: number }).n);
    if (left >= this.maxSessions) this.#evict.run(left - this.maxSessions + 1);
    this.#cache.clear();
  }

  async save(session: Session, json = session.serialize()): Promise<void> {
    const now = this.#now();
    // The last use (and its index) is written only when it moved more than the touch step.
    const cached = this.#cache.get(session.uid);
    const lastUsed = cached && now - cached.lastUsed < this.#touchStep ? cached.lastUsed : now;
    const changed = await (lastUsed === now
      ? this.#writeNow(this.#update, [now, json, session.uid])
      : this.#writeNow(this.#updateData, [json, session.uid]));
    // A row destroyed meanwhile (elsewhere) stays destroyed, and out of the cache.
    if (changed) this.#remember(session.uid, { createdAt: session.createdAt, lastUsed, json });
    else this.#cache.delete(session.uid);
    session.markSaved(json);
  }

  async insert(session: Session): Promise<void> {
    const now = this.#now();
    this.#makeRoom(now);
    const json = session.serialize();
    await this.#writeNow(this.#insert, [session.uid, session.createdAt, now, json]);
    this.#remember(session.uid, { createdAt: session.createdAt, lastUsed: now, json });
  }

  async destroy(uid: string): Promise<void> {
    this.#cache.delete(uid);
    await this.#writeNow(this.#destroy, [uid]);
  }

  async count(): Promise<number> {
    const now = this.#now();
    return Number((this.#count.get(now - this.idleTimeout, now - this.absoluteTimeout) as { n: number }).n);
  }

  /** Deletes every expired row now (a timer does this every minute). */
  sweep(): void {
    const now = this.#now();
    this.#sweep.run(now - this.idleTimeout, now - this.absoluteTimeout);
    this.#cache.clear();
  }

  /** Writes what is queued and closes the file; a second call does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#flush();
    this.#db.close();
  }
}
