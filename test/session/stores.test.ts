// The session-store contract (test/helpers/session-contract.ts) over the memory and SQLite stores,
// with a fake clock; the Redis store runs it in redis-store.test.ts against a real redis-server.
import { test } from 'node:test';
import { join } from 'node:path';
import { MemorySessionStore } from '../../src/session/memory-store.js';
import { SqliteSessionStore } from '../../src/session/sqlite-store.js';
import { fakeClock, storeContract } from '../helpers/session-contract.js';
import { tempDir } from '../helpers/server.js';

for (const [name, body] of storeContract(async (_t, limits) => new MemorySessionStore(limits), fakeClock)) {
  test(`memory store: ${name}`, body);
}

for (const [name, body] of storeContract(async (t, limits) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  return SqliteSessionStore.open(join(dir.path, 'sessions.sqlite'), limits);
}, fakeClock)) {
  test(`SQLite store: ${name}`, body);
}
