// The behaviours every session store must have (memory, SQLite, Redis), run against each: data kept
// between loads, idle and absolute expiry, the live-session cap, regenerate(), expire(), plain JSON.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionLimits, SessionStore } from '../../src/session/session.js';

/** A clock the store reads: a fake one moved by hand, or the real one (Redis keeps real TTLs). */
export interface ContractClock {
  now: () => number;
  advance(ms: number): Promise<void>;
}

export function fakeClock(): ContractClock {
  let now = 1_700_000_000_000;
  return {
    now: () => now,
    advance: async (ms) => void (now += ms),
  };
}

export function realClock(): ContractClock {
  return { now: Date.now, advance: (ms) => sleep(ms) };
}

type Open = (t: TestContext, limits: SessionLimits) => Promise<SessionStore | null>;

/** The contract as [name, body] pairs, for `test(\`${store}: ${name}\`, ...)`. */
export function storeContract(
  open: Open,
  clock: () => ContractClock,
): Array<[string, (t: TestContext) => Promise<void>]> {
  const withStore = async (t: TestContext, limits: SessionLimits, c: ContractClock) => {
    const store = await open(t, { ...limits, now: c.now });
    if (store) t.after(() => store.close?.());
    return store;
  };
  return [
    [
      'data written back is there on the next load, and changed says when a write is due',
      async (t) => {
        const c = clock();
        const store = await withStore(t, {}, c);
        if (!store) return;
        const s = await store.create();
        assert.match(s.uid, /^[0-9a-f]{64}$/);
        assert.equal(s.changed, false);
        s.set('cart', { items: ['apple', 'pear'], total: 3.5, gift: null, paid: false });
        if (!store.live) assert.equal(s.changed, true);
        await s.save();
        assert.equal(s.changed, false);
        const again = await store.load(s.uid);
        assert.ok(again);
        assert.deepEqual(again.get('cart'), { items: ['apple', 'pear'], total: 3.5, gift: null, paid: false });
        assert.equal(again.createdAt, s.createdAt);
        assert.equal(await store.count(), 1);
        assert.equal(await store.load('0'.repeat(64)), undefined);
      },
    ],
    [
      'a session loaded and left as it was is not written back; one changed in place is, once',
      async (t) => {
        const store = await withStore(t, {}, clock());
        if (!store) return;
        const s = await store.create();
        s.set('cart', { items: ['apple'] });
        await s.save();
        let saves = 0;
        const save = store.save.bind(store);
        store.save = (session, json) => {
          saves++;
          return save(session, json);
        };
        const again = await store.load(s.uid);
        assert.ok(again);
        assert.equal(again.changed, false);
        again.set('cart', { items: ['apple'] });
        await again.save();
        assert.equal(saves, 0);
        again.get<{ items: string[] }>('cart')?.items.push('pear');
        assert.equal(again.changed, !store.live);
        await again.save();
        assert.equal(saves, store.live ? 0 : 1);
        assert.equal(again.changed, false);
        await again.save();
        assert.equal(saves, store.live ? 0 : 1);
        assert.deepEqual((await store.load(s.uid))?.get('cart'), { items: ['apple', 'pear'] });
      },
    ],
    [
      'a session idle for the idle timeout is gone; each load moves its last use',
      async (t) => {
        const c = clock();
        const store = await withStore(t, { idleTimeout: 1000 }, c);
        if (!store) return;
        const s = await store.create();
        await c.advance(500);
        assert.ok(await store.load(s.uid), 'used within the idle timeout');
        await c.advance(500);
        assert.ok(await store.load(s.uid), 'each load touches the session');
        await c.advance(1300);
        assert.equal(await store.load(s.uid), undefined);
        assert.equal(await store.count(), 0);
      },
    ],
    [
      'a session past its absolute lifetime is gone even when used',
      async (t) => {
        const c = clock();
        const store = await withStore(t, { idleTimeout: 1000, absoluteTimeout: 1600 }, c);
        if (!store) return;
        const s = await store.create();
        for (let i = 0; i < 2; i++) {
          await c.advance(500);
          assert.ok(await store.load(s.uid));
        }
        await c.advance(800);
        assert.equal(await store.load(s.uid), undefined);
      },
    ],
    [
      'past the cap the least recently used session goes',
      async (t) => {
        const c = clock();
        // The SQLite store moves a last use once per hundredth of the idle timeout: steps of 100 ms.
        const store = await withStore(t, { maxSessions: 2, idleTimeout: 5000 }, c);
        if (!store) return;
        const a = await store.create();
        await c.advance(100);
        const b = await store.create();
        await c.advance(100);
        assert.ok(await store.load(a.uid));
        await c.advance(100);
        const third = await store.create();
        assert.equal(await store.count(), 2);
        assert.equal(await store.load(b.uid), undefined);
        assert.ok(await store.load(a.uid));
        assert.ok(await store.load(third.uid));
      },
    ],
    [
      'regenerate gives the same data a new id and destroys the old one',
      async (t) => {
        const c = clock();
        const store = await withStore(t, {}, c);
        if (!store) return;
        const s = await store.create();
        s.set('user', 'alice');
        await s.save();
        const old = s.uid;
        await s.regenerate();
        assert.notEqual(s.uid, old);
        assert.match(s.uid, /^[0-9a-f]{64}$/);
        assert.equal(await store.load(old), undefined);
        assert.equal((await store.load(s.uid))?.get('user'), 'alice');
        assert.equal(await store.count(), 1);
      },
    ],
    [
      'expire removes the session and runs its callbacks once; a later write-back does not bring it back',
      async (t) => {
        const c = clock();
        const store = await withStore(t, {}, c);
        if (!store) return;
        const s = await store.create();
        const other = await store.load(s.uid);
        assert.ok(other);
        let called = 0;
        s.notifyOnExpire(() => called++);
        await s.expire();
        await s.expire();
        assert.equal(called, 1);
        assert.equal(await store.load(s.uid), undefined);
        other.set('n', 1);
        await store.save(other);
        assert.equal(await store.load(s.uid), undefined, 'a logout elsewhere sticks');
      },
    ],
    [
      'values that are not plain JSON are refused with a TypeError naming the key',
      async (t) => {
        const store = await withStore(t, {}, clock());
        if (!store) return;
        const s = await store.create();
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        const nest = (levels: number) => {
          let v: Record<string, unknown> = {};
          for (let i = 0; i < levels; i++) v = { d: v };
          return v;
        };
        const deep = nest(65);
        const fit = nest(64);
        for (const [value, what] of [
          [new Map(), /"m" is a Map/],
          [() => 1, /"m" is a function/],
          [undefined, /"m" is undefined/],
          [Number.NaN, /"m" is NaN/],
          [{ when: new Date(0) }, /"m"\.when is a Date/],
          [[1, 2n], /"m"\[1\] is a bigint/],
          [cycle, /"m"\.self is a cycle/],
          [{ a: [{ b: Number.POSITIVE_INFINITY }] }, /"m"\.a\[0\]\.b is Infinity/],
          [deep, /"m"(\.d){65} is nested deeper than 64 levels/],
        ] as Array<[unknown, RegExp]>) {
          assert.throws(
            () => s.set('m', value),
            (err: Error) => err instanceof TypeError && what.test(err.message) && /plain JSON/.test(err.message),
          );
        }
        // The same object twice, side by side, is no cycle; 64 levels of nesting are allowed.
        const shared = { n: 1 };
        s.set('m', { left: shared, right: [shared, shared] });
        s.set('m', fit);
        s.data.set('sneaked', new Set());
        assert.throws(() => s.toJSON(), TypeError);
      },
    ],
  ];
}
