// Server-side sessions: the Session object, the store interface every store implements, and the error
// a store that cannot be reached turns into (503).
import { randomBytes } from 'node:crypto';
import { HttpError } from '../errors.js';

/** Default idle expiry: 15 minutes (SECURITY.md, sessions). */
export const SESSION_IDLE_MS = 15 * 60 * 1000;
/** Default absolute lifetime: 12 hours. */
export const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;
/** Default cap on live sessions; the least recently used is expired past it. */
export const SESSION_CAP = 100_000;
/** Nesting depth a session value may have. */
const MAX_DEPTH = 64;

/** A new session id: 256 random bits as 64 hex characters. */
export function newSessionId(): string {
  return randomBytes(32).toString('hex');
}

/** Whether `id` has the shape of a session id (what a cookie must hold before any store is asked). */
export function isSessionId(id: string): boolean {
  return /^[0-9a-f]{64}$/.test(id);
}

/** Limits every store enforces, with the defaults above. */
export interface SessionLimits {
  /** Idle expiry in ms. Default 15 minutes. */
  idleTimeout?: number;
  /** Absolute lifetime in ms. Default 12 hours. */
  absoluteTimeout?: number;
  /** Live sessions kept at most; past it the least recently used expires. Default 100 000. */
  maxSessions?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** A session's plain data: what a shared store writes. */
export type SessionData = Record<string, unknown>;

/**
 * Where sessions live. Every call may be asynchronous; a call that fails because the store cannot be
 * reached rejects, and the request answers 503 (`SessionStoreUnavailable`). Stores enforce idle and
 * absolute expiry and the live-session cap themselves.
 */
export interface SessionStore {
  /** The live session with this id, its last use set to now; undefined when unknown or expired. */
  load(uid: string): Promise<Session | undefined> | Session | undefined;
  /** A brand-new, stored session with a fresh random id (the least recently used goes past the cap). */
  create(): Promise<Session> | Session;
  /** Writes the session's data back; a session destroyed meanwhile (a logout elsewhere) stays destroyed. */
  save(session: Session): Promise<void> | void;
  /** Stores the session under its current id (after `regenerate()` gave it a new one). */
  insert(session: Session): Promise<void> | void;
  /** Removes the session with this id. */
  destroy(uid: string): Promise<void> | void;
  /** Number of live sessions. */
  count(): Promise<number> | number;
  /** True when the store keeps the Session objects themselves, so nothing needs writing back. */
  readonly live?: boolean;
  /** Closes connections and stops timers; expires nothing. */
  close?(): Promise<void> | void;
}

/**
 * A session store that cannot be reached (Redis down, a SQLite file locked too long): the request
 * answers 503 with a Retry-After, and the error log gets one line, never a stack. The visitor keeps
 * their cookie: no new session is handed out in its place.
 */
export class SessionStoreUnavailable extends HttpError {
  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(503, `Session store unavailable: ${why.split('\n')[0]}`, {
      code: 'SESSION_STORE_UNAVAILABLE',
      headers: { 'Retry-After': '5' },
      cause,
      logStack: false,
    });
    this.name = 'SessionStoreUnavailable';
  }
}

/** Runs a store call, turning its failure into `SessionStoreUnavailable`. */
export async function storeCall<T>(call: () => Promise<T> | T): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof HttpError || err instanceof TypeError) throw err;
    throw new SessionStoreUnavailable(err);
  }
}

/**
 * Checks that `value` is plain JSON (null, booleans, finite numbers, strings, arrays and plain
 * objects, without cycles): session data must survive a trip through any store unchanged.
 * Throws a TypeError naming the key and the offending part otherwise.
 */
export function assertSessionValue(key: string, value: unknown): void {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string, depth: number): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (Number.isFinite(v)) return;
      throw refuse(path, String(v));
    }
    if (typeof v !== 'object') throw refuse(path, v === undefined ? 'undefined' : `a ${typeof v}`);
    if (depth > MAX_DEPTH) throw refuse(path, `nested deeper than ${MAX_DEPTH} levels`);
    if (seen.has(v)) throw refuse(path, 'a cycle');
    const proto = Object.getPrototypeOf(v) as unknown;
    if (Array.isArray(v)) {
      seen.add(v);
      for (let i = 0; i < v.length; i++) walk(v[i], `${path}[${i}]`, depth + 1);
    } else if (proto === Object.prototype || proto === null) {
      seen.add(v);
      for (const [k, item] of Object.entries(v)) walk(item, `${path}.${k}`, depth + 1);
    } else {
      const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      throw refuse(path, `a ${name}`);
    }
    seen.delete(v);
  };
  const refuse = (path: string, what: string) =>
    new TypeError(
      `Session value ${path} is ${what}: sessions hold plain JSON (strings, finite numbers, booleans, null, arrays, plain objects)`,
    );
  walk(value, JSON.stringify(key), 0);
}

/** What a store builds a Session from. */
export interface SessionInit {
  uid: string;
  createdAt: number;
  /** Default: `createdAt`. */
  lastUsed?: number;
  /** The stored data. Default: empty. */
  data?: SessionData;
  /** The store it lives in (for `save`, `regenerate`, `expire`). */
  store?: SessionStore | null;
}

/** Reissues the session cookie on the request that last asked for this session. */
const cookieWriters = new WeakMap<Session, (uid: string) => void>();

/** Remembers how to reissue `session`'s cookie (`request.getSession()` calls this). */
export function setSessionCookieWriter(session: Session, write: (uid: string) => void): void {
  cookieWriters.set(session, write);
}

/**
 * One visitor's session. Values are plain JSON (`set` refuses anything else with a TypeError) so every
 * store keeps them unchanged. A shared store writes the data back when it changed, before the response
 * goes out (or call `await session.save()` first when you stream the response yourself).
 *
 * `notifyOnExpire` callbacks run once when this process sees the session end: `expire()` called here,
 * or, with the memory store, the idle or absolute timeout or the cap. With a shared store (SQLite,
 * Redis) a session that times out in the store, or is ended by another process, runs no callback here.
 *
 * ```ts
 * const session = await request.getSession();
 * session.set('count', (session.get<number>('count') ?? 0) + 1);
 * // on login, a new id for the same data:
 * await session.regenerate();
 * ```
 */
export class Session {
  #uid: string;
  readonly createdAt: number;
  lastUsed: number;
  readonly data = new Map<string, unknown>();
  #saved: string;
  #store: SessionStore | null;
  #expireCallbacks: Array<() => void> = [];
  #expired = false;

  constructor(init: SessionInit) {
    this.#uid = init.uid;
    this.createdAt = init.createdAt;
    this.lastUsed = init.lastUsed ?? init.createdAt;
    this.#store = init.store ?? null;
    if (init.data) for (const [k, v] of Object.entries(init.data)) this.data.set(k, v);
    this.#saved = this.#store?.live ? '' : JSON.stringify(init.data ?? {});
  }

  /** The session id (the cookie's value); `regenerate()` changes it. */
  get uid(): string {
    return this.#uid;
  }

  get<T = unknown>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  /** Sets a value; anything but plain JSON is a TypeError. */
  set(key: string, value: unknown): void {
    assertSessionValue(key, value);
    this.data.set(key, value);
  }

  delete(key: string): void {
    this.data.delete(key);
  }

  /** The data as one plain object (what stores write); a value that is not plain JSON is a TypeError. */
  toJSON(): SessionData {
    const out: SessionData = {};
    for (const [k, v] of this.data) {
      assertSessionValue(k, v);
      out[k] = v;
    }
    return out;
  }

  /** The data as a JSON string. */
  serialize(): string {
    return JSON.stringify(this.toJSON());
  }

  /** Whether the data differs from what the store holds (always false for a store that keeps objects). */
  get changed(): boolean {
    if (!this.#store || this.#store.live || this.#expired) return false;
    return this.serialize() !== this.#saved;
  }

  /** Records that the store now holds `json` (stores call this after writing). */
  markSaved(json: string): void {
    this.#saved = json;
  }

  /** Writes the data back to the store now, if it changed. */
  async save(): Promise<void> {
    if (!this.changed || !this.#store) return;
    const store = this.#store;
    const json = this.serialize();
    await storeCall(() => store.save(this));
    this.#saved = json;
  }

  /**
   * Gives the session a new id with the same data (do this on login or any change of privilege, so an
   * id an attacker planted before is worth nothing): the new id is stored, the old one destroyed and the
   * cookie reissued on the request that last called `getSession()`.
   */
  async regenerate(): Promise<void> {
    const store = this.#store;
    if (!store) throw new Error('regenerate() needs a session that belongs to a store');
    if (this.#expired) throw new Error('regenerate() on an expired session');
    const old = this.#uid;
    const json = store.live ? '' : this.serialize();
    this.#uid = newSessionId();
    await storeCall(() => store.insert(this));
    this.#saved = json;
    await storeCall(() => store.destroy(old));
    cookieWriters.get(this)?.(this.#uid);
  }

  /** Marks the session as used now (stores do this on every load). */
  touch(now = Date.now()): void {
    this.lastUsed = now;
  }

  get expired(): boolean {
    return this.#expired;
  }

  /** Registers a callback run once when the session expires (see the class comment for shared stores). */
  notifyOnExpire(callback: () => void): void {
    if (this.#expired) callback();
    else this.#expireCallbacks.push(callback);
  }

  /**
   * Ends the session now: it leaves its store (a memory store synchronously) and the expiry callbacks
   * run. The promise settles once a shared store has removed it.
   */
  expire(): Promise<void> {
    if (this.#expired) return Promise.resolve();
    this.#expired = true;
    const store = this.#store;
    const removed = store ? storeCall(() => store.destroy(this.#uid)) : Promise.resolve();
    // A caller that does not wait must not turn a store outage into an unhandled rejection.
    removed.catch(() => {});
    const callbacks = this.#expireCallbacks;
    this.#expireCallbacks = [];
    for (const cb of callbacks) {
      try {
        cb();
      } catch (err) {
        process.emitWarning(`Session expiry callback failed: ${String(err)}`);
      }
    }
    return removed;
  }
}
