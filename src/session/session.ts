// Server-side sessions: the Session object and the store interface other stores implement.
import { randomBytes } from 'node:crypto';

/** Default idle expiry: 15 minutes (SECURITY.md, sessions). */
export const SESSION_IDLE_MS = 15 * 60 * 1000;
/** Default absolute lifetime: 12 hours. */
export const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;
/** Default cap on live sessions; the least recently used is expired past it. */
export const SESSION_CAP = 100_000;

/** A new session id: 256 random bits as 64 hex characters. */
export function newSessionId(): string {
  return randomBytes(32).toString('hex');
}

/**
 * One visitor's session. Values live in `data`; `notifyOnExpire` callbacks run once when the session
 * expires or is expired explicitly.
 *
 * ```ts
 * const session = await request.getSession();
 * session.set('count', (session.get<number>('count') ?? 0) + 1);
 * ```
 */
export class Session {
  readonly uid: string;
  readonly createdAt: number;
  lastUsed: number;
  readonly data = new Map<string, unknown>();
  #expireCallbacks: Array<() => void> = [];
  #expired = false;
  #onExpire: ((session: Session) => void) | null;

  constructor(uid: string, now: number, onExpire: ((session: Session) => void) | null = null) {
    this.uid = uid;
    this.createdAt = now;
    this.lastUsed = now;
    this.#onExpire = onExpire;
  }

  get<T = unknown>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  set(key: string, value: unknown): void {
    this.data.set(key, value);
  }

  delete(key: string): void {
    this.data.delete(key);
  }

  /** Marks the session as used now (every `getSession()` does this). */
  touch(now = Date.now()): void {
    this.lastUsed = now;
  }

  get expired(): boolean {
    return this.#expired;
  }

  /** Registers a callback run once when the session expires. */
  notifyOnExpire(callback: () => void): void {
    if (this.#expired) callback();
    else this.#expireCallbacks.push(callback);
  }

  /** Ends the session now: it leaves its store and the expiry callbacks run. */
  expire(): void {
    if (this.#expired) return;
    this.#expired = true;
    this.#onExpire?.(this);
    const callbacks = this.#expireCallbacks;
    this.#expireCallbacks = [];
    for (const cb of callbacks) {
      try {
        cb();
      } catch (err) {
        process.emitWarning(`Session expiry callback failed: ${String(err)}`);
      }
    }
  }
}

/**
 * Where sessions live. The in-memory store implements it; a shared store (Redis, SQLite) implements
 * the same three calls so that several processes see the same sessions.
 */
export interface SessionStore {
  /** The live session with this id, touched; undefined when unknown or expired. */
  get(uid: string): Promise<Session | undefined> | Session | undefined;
  /** A brand-new session with a fresh random id. */
  create(): Promise<Session> | Session;
  /** Number of live sessions. */
  readonly size: number;
  /** Stops timers; expires nothing. */
  close?(): void;
}
