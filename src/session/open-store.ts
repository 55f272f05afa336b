// `--sessions URL`: which store a URL names (memory:, sqlite:FILE, redis://..., rediss://...) and
// opening it.
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { MemorySessionStore } from './memory-store.js';
import { RedisSessionStore, parseRedisUrl } from './redis-store.js';
import type { SessionLimits, SessionStore } from './session.js';
import { SqliteSessionStore } from './sqlite-store.js';

/** A parsed `--sessions` URL. */
export type SessionsSpec = { kind: 'memory' } | { kind: 'sqlite'; file: string } | { kind: 'redis'; url: string };

/**
 * Parses a `--sessions` URL:
 *
 * | URL | store |
 * |---|---|
 * | `memory:` | this process's memory |
 * | `sqlite:FILE` | a SQLite file (relative to the working directory) |
 * | `redis://[:password@]host:port/db[?prefix=P]`, `rediss://...` | Redis, `rediss` over TLS |
 *
 * Throws an Error with a one-line message for anything else.
 */
export function parseSessionsUrl(text: string): SessionsSpec {
  if (text === 'memory:' || text === 'memory') return { kind: 'memory' };
  if (text.startsWith('sqlite:')) {
    const file = text.slice('sqlite:'.length);
    if (!file || /[\0]/.test(file))
      throw new Error(`"${text}" names no file: use sqlite:/var/lib/trellis/sessions.sqlite`);
    return { kind: 'sqlite', file };
  }
  if (text.startsWith('redis://') || text.startsWith('rediss://')) {
    parseRedisUrl(text);
    return { kind: 'redis', url: text };
  }
  throw new Error(`"${text}" is not a session store: use memory:, sqlite:FILE or redis://host:port/db`);
}

/** `spec` with a relative SQLite file made absolute from `cwd`. */
export function resolveSessionsSpec(spec: SessionsSpec, cwd: string): SessionsSpec {
  if (spec.kind !== 'sqlite' || isAbsolute(spec.file)) return spec;
  return { kind: 'sqlite', file: resolvePath(cwd, spec.file) };
}

/** Opens the store `spec` names with `limits`. */
export async function openSessionStore(
  spec: SessionsSpec,
  limits: SessionLimits & { log?: (line: string) => void } = {},
): Promise<SessionStore> {
  if (spec.kind === 'sqlite') return SqliteSessionStore.open(spec.file, limits);
  if (spec.kind === 'redis') return RedisSessionStore.open(spec.url, limits);
  return new MemorySessionStore(limits);
}

/** How the store `spec` names is described at start (the password left out). */
export function describeSessions(spec: SessionsSpec): string {
  if (spec.kind === 'sqlite') return `sqlite:${spec.file}`;
  if (spec.kind === 'redis') return parseRedisUrl(spec.url).display;
  return 'memory: (this process only)';
}
