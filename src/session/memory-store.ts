// The in-memory session store: idle and absolute expiry, a cap on live sessions, lazy sweeping.
import {
  Session,
  type SessionLimits,
  type SessionStore,
  SESSION_ABSOLUTE_MS,
  SESSION_CAP,
  SESSION_IDLE_MS,
  newSessionId,
} from './session.js';

/** Options of {@link MemorySessionStore}: the limits (idle 15 min, absolute 12 h, cap 100 000) and the sweep. */
export interface MemorySessionStoreOptions extends SessionLimits {
  /** Sweep interval in ms. Default 60 s. */
  sweepInterval?: number;
}

/**
 * Sessions in this process's memory: the default for one process. The Map's order is kept as
 * least-recently-used first, so the cap evicts the least recently used session cheaply. `get` and
 * `create` answer synchronously; the `SessionStore` calls are the same ones.
 *
 * ```ts
 * new Site(root, { sessionStore: new MemorySessionStore({ idleTimeout: 5 * 60_000 }) });
 * ```
 */
export class MemorySessionStore implements SessionStore {
  readonly live = true;
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

  count(): number {
    return this.#sessions.size;
  }

  #isStale(session: Session, now: number): boolean {
    return now - session.lastUsed >= this.idleTimeout || now - session.createdAt >= this.absoluteTimeout;
  }

  /** The live session with this id, touched; undefined when unknown or expired. */
  get(uid: string): Session | undefined {
    const session = this.#sessions.get(uid);
    if (!session) return undefined;
    const now = this.#now();
    if (this.#isStale(session, now)) {
      void session.expire();
      return undefined;
    }
    session.touch(now);
    // Re-insert so the map stays in least-recently-used order.
    this.#sessions.delete(uid);
    this.#sessions.set(uid, session);
    return session;
  }

  load(uid: string): Session | undefined {
    return this.get(uid);
  }

  create(): Session {
    this.#ensureSweeper();
    this.#makeRoom();
    const session = new Session({ uid: newSessionId(), createdAt: this.#now(), store: this });
    this.#sessions.set(session.uid, session);
    return session;
  }

  #makeRoom(): void {
    while (this.#sessions.size >= this.maxSessions) {
      const oldest = this.#sessions.values().next().value;
      if (!oldest) break;
      this.#sessions.delete(oldest.uid);
      void oldest.expire();
    }
  }

  /** Nothing to write: the store holds the Session object itself. */
  save(): void {}

  insert(session: Session): void {
    this.#makeRoom();
    this.#sessions.set(session.uid, session);
  }

  destroy(uid: string): void {
    this.#sessions.delete(uid);
  }

  /** Expires every stale session now (the timer calls this). */
  sweep(): void {
    const now = this.#now();
    for (const session of this.#sessions.values()) {
      if (this.#isStale(session, now)) void session.expire();
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
