// The in-memory session store: idle and absolute expiry, a cap on live sessions, lazy sweeping.
import { Session, type SessionStore, SESSION_ABSOLUTE_MS, SESSION_CAP, SESSION_IDLE_MS, newSessionId } from './session.js';

/** Options of {@link MemorySessionStore}. */
export interface MemorySessionStoreOptions {
  /** Idle expiry in ms. Default 15 minutes. */
  idleTimeout?: number;
  /** Absolute lifetime in ms. Default 12 hours. */
  absoluteTimeout?: number;
  /** Live sessions kept at most; past it the least recently used expires. Default 100 000. */
  maxSessions?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
  /** Sweep interval in ms. Default 60 s. */
  sweepInterval?: number;
}

/**
 * Sessions in this process's memory. The Map's order is kept as least-recently-used first, so the cap
 * evicts the least recently used session cheaply.
 */
export class MemorySessionStore implements SessionStore {
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  readonly maxSessions: number;
  #sessions = new Map<string, Session>();
  #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #sweepInterval: number;

  constructor(options: MemorySessionStoreOptions = {}) {
    this.idleTimeout = options.idleTimeout ?? SESSION_IDLE_MS;
    this.absoluteTimeout = options.absoluteTimeout ?? SESSION_ABSOLUTE_MS;
    this.maxSessions = options.maxSessions ?? SESSION_CAP;
    this.#now = options.now ?? Date.now;
    this.#sweepInterval = options.sweepInterval ?? 60_000;
  }

  get size(): number {
    return this.#sessions.size;
  }

  #isStale(session: Session, now: number): boolean {
    return now - session.lastUsed >= this.idleTimeout || now - session.createdAt >= this.absoluteTimeout;
  }

  get(uid: string): Session | undefined {
    const session = this.#sessions.get(uid);
    if (!session) return undefined;
    const now = this.#now();
    if (this.#isStale(session, now)) {
      session.expire();
      return undefined;
    }
    session.touch(now);
    // Re-insert so the map stays in least-recently-used order.
    this.#sessions.delete(uid);
    this.#sessions.set(uid, session);
    return session;
  }

  create(): Session {
    this.#ensureSweeper();
    while (this.#sessions.size >= this.maxSessions) {
      const oldest = this.#sessions.values().next().value;
      if (!oldest) break;
      oldest.expire();
    }
    const session = new Session(newSessionId(), this.#now(), (s) => this.#sessions.delete(s.uid));
    this.#sessions.set(session.uid, session);
    return session;
  }

  /** Expires every stale session now (the timer calls this). */
  sweep(): void {
    const now = this.#now();
    for (const session of this.#sessions.values()) {
      if (this.#isStale(session, now)) session.expire();
    }
  }

  #ensureSweeper(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.sweep(), this.#sweepInterval);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
