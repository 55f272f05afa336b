// Sessions in Redis, for several machines: one key per session whose TTL is the idle timeout (never
// past the absolute lifetime), and a sorted set of last uses that the live-session cap evicts from.
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
import {
  Session,
  type SessionLimits,
  type SessionStore,
  SESSION_ABSOLUTE_MS,
  SESSION_CAP,
  SESSION_IDLE_MS,
  newSessionId,
} from './session.js';

/** Options of {@link RedisSessionStore}: the limits (idle 15 min, absolute 12 h, cap 100 000) and the connection. */
export interface RedisSessionStoreOptions extends SessionLimits {
  /** Prefix of every key the store writes. Default `trellis:session:`. */
  prefix?: string;
  /** How long one command may take before the request answers 503. Default 2000 ms. */
  commandTimeout?: number;
  /** TLS options for `rediss://` (a private CA, a client certificate). */
  tls?: ConnectionOptions;
  /** Where the one line about an outage (and the one about its end) goes. Default: stderr. */
  log?: (line: string) => void;
}

/** The part of a node-redis client the store uses. */
interface RedisClient {
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  on(event: string, listener: (arg: unknown) => void): unknown;
  destroy(): void;
  readonly isReady: boolean;
}

// Loads a session and moves its last use: the key's TTL is the idle timeout, never past the
// absolute lifetime. The value is "createdAt|json". KEYS: session, lru; ARGV: now, idle, absolute, id.
const LOAD = `
local v = redis.call('GET', KEYS[1])
if not v then redis.call('ZREM', KEYS[2], ARGV[4]) return false end
local left = tonumber(string.match(v, '^(%d+)|')) + tonumber(ARGV[3]) - tonumber(ARGV[1])
if left <= 0 then redis.call('DEL', KEYS[1]) redis.call('ZREM', KEYS[2], ARGV[4]) return false end
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[2]), left))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[4])
return v`;

// Stores a new session after making room under the cap (least recently used first).
// KEYS: lru, session; ARGV: now, idle, max, id, value, ttl, prefix.
const INSERT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[3])
if n >= max then
  local old = redis.call('ZPOPMIN', KEYS[1], n - max + 1)
  for i = 1, #old, 2 do redis.call('DEL', ARGV[7] .. old[i]) end
end
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
return 1`;

// Writes data back only if the session still exists. KEYS: session, lru; ARGV: value, ttl, now, id.
const SAVE = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'XX') then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
return 1`;

// KEYS: session, lru; ARGV: id.
const DESTROY = `redis.call('DEL', KEYS[1]) redis.call('ZREM', KEYS[2], ARGV[1]) return 1`;

// KEYS: lru; ARGV: oldest last use still live.
const COUNT = `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) return redis.call('ZCARD', KEYS[1])`;

/** A `redis://` or `rediss://` URL, checked, with the store's own `prefix` parameter taken out. */
export interface RedisTarget {
  /** What node-redis connects to (password included). */
  url: string;
  /** The same without the password, for logs. */
  display: string;
  prefix: string | null;
}

/**
 * Checks `redis://[[user]:password@]host[:port][/db][?prefix=P]` (or `rediss://` for TLS) and returns
 * what to connect to. Throws an Error with a one-line message when the URL is not one.
 */
export function parseRedisUrl(text: string): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a Redis URL: use redis://[:password@]host:port/db or rediss://... for TLS`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new Error(`"${text}" is not a Redis URL: it must start with redis:// or rediss://`);
  if (!url.hostname) throw new Error(`"${text}" names no host: use redis://host:port/db`);
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,5}$/.test(url.pathname)) {
    throw new Error(`"${text}": the path must be a database number, like /0`);
  }
  let prefix: string | null = null;
  for (const [key, value] of url.searchParams) {
    if (key !== 'prefix') throw new Error(`"${text}": unknown parameter "${key}" (only prefix=... is understood)`);
    if (!value || /[\0-\x20]/.test(value))
      throw new Error(`"${text}": prefix must be non-empty, without spaces or control characters`);
    prefix = value;
  }
  url.search = '';
  const display = new URL(url.href);
  display.password = '';
  display.username = '';
  return { url: url.href, display: display.href, prefix };
}

/** Loads node-redis's createClient; a one-line error naming the package when it is not installed. */
function loadRedis(): (options: Record<string, unknown>) => RedisClient {
  try {
    // createRequire: redis is an optional peer dependency, loaded only when a Redis store is asked for.
    const mod = createRequire(import.meta.url)('redis') as {
      createClient: (options: Record<string, unknown>) => RedisClient;
    };
    return mod.createClient;
  } catch {
    throw new Error('Redis sessions need the redis package: npm install redis');
  }
}

/**
 * Sessions in Redis, shared by every Trellis instance that points at it (several machines behind a
 * load balancer). Every operation is one atomic script; TTLs live in Redis, so an idle session
 * disappears even when no instance runs. While Redis cannot be reached, calls fail at once (no queue)
 * and requests that need a session answer 503; the store logs one line when the connection is lost
 * and one when it is back, and reconnects by itself.
 *
 * ```ts
 * const store = await RedisSessionStore.open('redis://:secret@127.0.0.1:6379/0');
 * ```
 */
export class RedisSessionStore implements SessionStore {
  readonly target: RedisTarget;
  readonly prefix: string;
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  readonly maxSessions: number;
  #client: RedisClient;
  #now: () => number;
  #log: (line: string) => void;
  #down: string | null = null;
  #closed = false;

  /** Connects to `url` (waiting up to `commandTimeout` for a first connection; requests answer 503 until there is one). */
  static async open(url: string, options: RedisSessionStoreOptions = {}): Promise<RedisSessionStore> {
    const store = new RedisSessionStore(parseRedisUrl(url), options);
    await store.#connect(options.commandTimeout ?? 2000);
    return store;
  }

  private constructor(target: RedisTarget, options: RedisSessionStoreOptions) {
    this.target = target;
    this.prefix = options.prefix ?? target.prefix ?? 'trellis:session:';
    this.idleTimeout = options.idleTimeout ?? SESSION_IDLE_MS;
    this.absoluteTimeout = options.absoluteTimeout ?? SESSION_ABSOLUTE_MS;
    this.maxSessions = options.maxSessions ?? SESSION_CAP;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? ((line) => void process.stderr.write(`${new Date().toISOString()} ${line}\n`));
    const timeout = options.commandTimeout ?? 2000;
    const createClient = loadRedis();
    this.#client = createClient({
      url: target.url,
      // Fail at once while disconnected: a queued command would hold the request until Redis is back.
      disableOfflineQueue: true,
      commandOptions: { timeout },
      socket: {
        connectTimeout: timeout,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000),
        ...(options.tls ? { tls: true, ...options.tls } : {}),
      },
    });
    this.#client.on('error', (err) => this.#lost(err));
    this.#client.on('ready', () => {
      if (this.#down === null) return;
      this.#down = null;
      this.#log(`Session store ${target.display} is reachable again`);
    });
  }

  async #connect(timeout: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)));
    // Keeps trying in the background when this first attempt fails; requests answer 503 meanwhile.
    const connected = this.#client.connect().then(
      () => undefined,
      (err: unknown) => this.#lost(err),
    );
    await Promise.race([connected, waited]);
    clearTimeout(timer);
  }

  #lost(err: unknown): void {
    if (this.#closed || this.#down !== null) return;
    const why = err instanceof Error ? err.message || (err as NodeJS.ErrnoException).code || err.name : String(err);
    this.#down = why;
    this.#log(
      `Session store ${this.target.display} unreachable (${why.split('\n')[0]}): requests that need a session answer 503 until it is back`,
    );
  }

  #key(uid: string): string {
    return this.prefix + uid;
  }

  get #lru(): string {
    return `${this.prefix}lru`;
  }

  /** ms a session created at `createdAt` may stay idle from now: the idle timeout, never past its lifetime. */
  #ttl(createdAt: number, now: number): number {
    return Math.min(this.idleTimeout, createdAt + this.absoluteTimeout - now);
  }

  async #eval(script: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    return this.#client.sendCommand(['EVAL', script, String(keys.length), ...keys, ...args.map(String)]);
  }

  async load(uid: string): Promise<Session | undefined> {
    const now = this.#now();
    const value = await this.#eval(
      LOAD,
      [this.#key(uid), this.#lru],
      [now, this.idleTimeout, this.absoluteTimeout, uid],
    );
    if (typeof value !== 'string') return undefined;
    const bar = value.indexOf('|');
    const createdAt = Number(value.slice(0, bar));
    return new Session({
      uid,
      createdAt,
      lastUsed: now,
      json: value.slice(bar + 1),
      store: this,
    });
  }

  async create(): Promise<Session> {
    const session = new Session({ uid: newSessionId(), createdAt: this.#now(), store: this });
    await this.insert(session);
    return session;
  }

  async insert(session: Session): Promise<void> {
    const now = this.#now();
    const json = session.serialize();
    const ttl = this.#ttl(session.createdAt, now);
    if (ttl <= 0) return;
    await this.#eval(
      INSERT,
      [this.#lru, this.#key(session.uid)],
      [now, this.idleTimeout, this.maxSessions, session.uid, `${session.createdAt}|${json}`, ttl, this.prefix],
    );
  }

  async save(session: Session, json = session.serialize()): Promise<void> {
    const now = this.#now();
    const ttl = this.#ttl(session.createdAt, now);
    if (ttl <= 0) {
      await this.destroy(session.uid);
      return;
    }
    await this.#eval(
      SAVE,
      [this.#key(session.uid), this.#lru],
      [`${session.createdAt}|${json}`, ttl, now, session.uid],
    );
    session.markSaved(json);
  }

  async destroy(uid: string): Promise<void> {
    await this.#eval(DESTROY, [this.#key(uid), this.#lru], [uid]);
  }

  async count(): Promise<number> {
    return Number(await this.#eval(COUNT, [this.#lru], [this.#now() - this.idleTimeout]));
  }

  close(): void {
    this.#closed = true;
    this.#client.destroy();
  }
}
