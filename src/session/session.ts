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
  /**
   * Writes the session's data back; a session destroyed meanwhile (a logout elsewhere) stays destroyed.
   * `json` is `session.serialize()` when the caller already has it.
   */
  save(session: Session, json?: string): Promise<void> | void;
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
    throw storeError(err);
  }
}

/** What a failed store call throws: `SessionStoreUnavailable`, unless it is an HttpError or a TypeError. */
export function storeError(err: unknown): unknown {
  return err instanceof HttpError || err instanceof TypeError ? err : new SessionStoreUnavailable(err);
}

/**
 * Checks that `value` is plain JSON (null, booleans, finite numbers, strings, arrays and plain
 * objects, without cycles): session data must survive a trip through any store unchanged.
 * Throws a TypeError naming the key and the offending part otherwise.
 */
export function assertSessionValue(key: string, value: unknown): void {
  // A plain value (most of what sessions hold) needs no walk.
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  const trail: Array<string | number> = [];
  const what = jsonProblem(value, trail, []);
  if (what === null) return;
  let path = JSON.stringify(key);
  for (const step of trail) path += typeof step === 'number' ? `[${step}]` : `.${step}`;
  throw new TypeError(
    `Session value ${path} is ${what}: sessions hold plain JSON (strings, finite numbers, booleans, null, arrays, plain objects)`,
  );
}

/**
 * What makes `v` other than plain JSON, or null when it is plain JSON. `trail` ends up holding the keys
 * down to the offending part (left as it is on a problem); `ancestors` are the objects above `v`.
 */
function jsonProblem(v: unknown, trail: Array<string | number>, ancestors: object[]): string | null {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return null;
  if (typeof v === 'number') return Number.isFinite(v) ? null : String(v);
  if (typeof v !== 'object') return v === undefined ? 'undefined' : `a ${typeof v}`;
  if (ancestors.length > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH} levels`;
  if (ancestors.includes(v)) return 'a cycle';
  const proto = Object.getPrototypeOf(v) as unknown;
  if (Array.isArray(v)) {
    ancestors.push(v);
    for (let i = 0; i < v.length; i++) {
      trail.push(i);
      const what = jsonProblem(v[i], trail, ancestors);
      if (what !== null) return what;
      trail.pop();
    }
  } else if (proto === Object.prototype || proto === null) {
    ancestors.push(v);
    const record = v as Record<string, unknown>;
    for (const k of Object.keys(record)) {
      trail.push(k);
      const what = jsonProblem(record[k], trail, ancestors);
      if (what !== null) return what;
      trail.pop();
    }
  } else {
    return `a ${(v as { constructor?: { name?: string } }).constructor?.name ?? 'object'}`;
  }
  ancestors.pop();
  return null;
}

/** What a store builds a Session from. */
export interface SessionInit {
  uid: string;
  createdAt: number;
  /** Default: `createdAt`. */
  lastUsed?: number;
  /** The stored data. Default: empty. */
  data?: SessionData;
  /** The stored data as the store holds it, JSON (in place of `data`, which it then overrides). */
  json?: string;
  /** The store it lives in (for `save`, `regenerate`, `expire`). */
  store?: SessionStore | null;
}

/** Reissues the session cookie for `uid` on `owner`, the request that last asked for the session. */
export type SessionCookieWriter<T> = (owner: T, uid: string) => void;

/**
 * Remembers how to reissue `session`'s cookie (`request.getSession()` calls this): `write(owner, uid)`.
 * One shared `write` for every request, so asking for a session allocates no closure.
 */
export function setSessionCookieWriter<T>(session: Session, owner: T, write: SessionCookieWriter<T>): void {
  setCookieWriter(session, owner, write as SessionCookieWriter<unknown>);
}

/**
 * The write-back of `session`'s data when it differs from what the store holds, serialized once; null
 * when there is nothing to write (`request.saveSession()` calls this).
 */
export function saveIfChanged(session: Session): Promise<void> | null {
  return writeBackIfChanged(session);
}

let setCookieWriter: (session: Session, owner: unknown, write: SessionCookieWriter<unknown>) => void;
let writeBackIfChanged: (session: Session) => Promise<void> | null;

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
  #expireCallbacks: Array<() => void> | null = null;
  #expired = false;
  #cookieOwner: unknown = null;
  #cookieWrite: SessionCookieWriter<unknown> | null = null;

  static {
    setCookieWriter = (session, owner, write) => {
      session.#cookieOwner = owner;
      session.#cookieWrite = write;
    };
    writeBackIfChanged = (session) => {
      const json = session.#unsaved();
      return json === null ? null : session.#writeBack(json);
    };
  }

  constructor(init: SessionInit) {
    this.#uid = init.uid;
    this.createdAt = init.createdAt;
    this.lastUsed = init.lastUsed ?? init.createdAt;
    this.#store = init.store ?? null;
    const data = init.json === undefined ? init.data : (JSON.parse(init.json) as SessionData);
    if (data) for (const k of Object.keys(data)) this.data.set(k, data[k]);
    // The stored JSON is what the store holds: a session read and not changed is not written back.
    this.#saved = this.#store?.live ? '' : (init.json ?? JSON.stringify(init.data ?? {}));
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
    return this.#unsaved() !== null;
  }

  /** The data as JSON when it differs from what the store holds, else null. */
  #unsaved(): string | null {
    if (!this.#store || this.#store.live || this.#expired) return null;
    const json = this.serialize();
    return json === this.#saved ? null : json;
  }

  /** Writes `json` (this session's data, serialized) to the store. */
  async #writeBack(json: string): Promise<void> {
    const store = this.#store as SessionStore;
    try {
      await store.save(this, json);
    } catch (err) {
      throw storeError(err);
    }
    this.#saved = json;
  }

  /** Records that the store now holds `json` (stores call this after writing). */
  markSaved(json: string): void {
    this.#saved = json;
  }

  /** Writes the data back to the store now, if it changed. */
  async save(): Promise<void> {
    const json = this.#unsaved();
    if (json !== null) await this.#writeBack(json);
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
    this.#cookieWrite?.(this.#cookieOwner, this.#uid);
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
    else (this.#expireCallbacks ??= []).push(callback);
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
    const callbacks = this.#expireCallbacks ?? [];
    this.#expireCallbacks = null;
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
