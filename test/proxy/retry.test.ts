import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import type { Exchange, ExchangeError } from '../../src/proxy/backend-client.js';
import type { Backend } from '../../src/proxy/forwarding.js';
import { BackendRotation, sendWithRetry, type AttemptHandler, type Transport } from '../../src/proxy/retry.js';

const A: Backend = { host: 'a', port: 1 };
const B: Backend = { host: 'b', port: 2 };
const C: Backend = { host: 'c', port: 3 };

function failure(stage: ExchangeError['stage']): ExchangeError {
  const code = stage === 'connect' ? 'BACKEND_CONNECT_REFUSED' : 'BACKEND_RESET';
  return { stage, code, responded: false, message: stage };
}

/** A receiver that records what reaches it. */
function recorder(wanted = () => true) {
  const events: string[] = [];
  const handler: AttemptHandler = {
    wanted,
    onStart: () => events.push('start'),
    onHead: (h) => events.push(`head ${h.status}`),
    onBody: () => events.push('body'),
    onFlush: () => {},
    onEnd: () => events.push('end'),
    onUpgrade: () => events.push('upgrade'),
    onError: (e) => events.push(`error ${e.stage} ${e.code}`),
  };
  return { handler, events };
}

/**
 * A fake transport: each attempt gets the next outcome of `script` (an error stage, or `ok` for a
 * started exchange that ends); every attempt is noted as `host` or `host fresh`.
 */
function fakeTransport(script: Array<ExchangeError['stage'] | 'ok'>) {
  const attempts: string[] = [];
  const transport: Transport = (backend, fresh, handler) => {
    attempts.push(fresh ? `${backend.host} fresh` : backend.host);
    const outcome = script.shift() ?? 'ok';
    if (outcome === 'connect') {
      handler.onError(failure('connect'));
      return;
    }
    handler.onStart({} as Exchange);
    if (outcome === 'ok') {
      const head = { status: 200, reason: 'OK', minor: 1, headers: [], contentLength: 0, chunked: false };
      handler.onHead({ ...head, keepAlive: true, connectionNames: false });
      handler.onEnd();
    } else {
      handler.onError(failure(outcome));
    }
  };
  return { transport, attempts };
}

describe('sendWithRetry', () => {
  test('sendWithRetry passes a successful exchange through', () => {
    const { transport, attempts } = fakeTransport(['ok']);
    const { handler, events } = recorder();
    sendWithRetry(new BackendRotation([A]), transport, handler, { resendable: true });
    assert.deepEqual(attempts, ['a']);
    assert.deepEqual(events, ['start', 'head 200', 'end']);
  });

  test('sendWithRetry fails over from a backend it cannot connect to, and skips it afterwards', () => {
    const { transport, attempts } = fakeTransport(['connect', 'ok', 'ok']);
    const rotation = new BackendRotation([A, B, C]);
    const first = recorder();
    sendWithRetry(rotation, transport, first.handler, { resendable: false });
    assert.deepEqual(first.events, ['start', 'head 200', 'end']);
    const second = recorder();
    sendWithRetry(rotation, transport, second.handler, { resendable: false });
    // a failed, b answered; next in turn is c, and a stays skipped.
    assert.deepEqual(attempts, ['a', 'b', 'c']);
    assert.deepEqual(second.events, ['start', 'head 200', 'end']);
  });

  test('sendWithRetry reports the last connect failure once every backend was tried', () => {
    const { transport, attempts } = fakeTransport(['connect', 'connect']);
    const { handler, events } = recorder();
    sendWithRetry(new BackendRotation([A, B]), transport, handler, { resendable: true });
    assert.deepEqual(attempts, ['a', 'b']);
    assert.deepEqual(events, ['error connect BACKEND_CONNECT_REFUSED']);
  });

  test('sendWithRetry sends a resendable request once more on a new connection after the keep-alive race', () => {
    const { transport, attempts } = fakeTransport(['stale', 'ok']);
    const { handler, events } = recorder();
    sendWithRetry(new BackendRotation([A]), transport, handler, { resendable: true });
    assert.deepEqual(attempts, ['a', 'a fresh']);
    assert.deepEqual(events, ['start', 'start', 'head 200', 'end']);
  });

  test('sendWithRetry resends only once', () => {
    const { transport, attempts } = fakeTransport(['stale', 'stale']);
    const { handler, events } = recorder();
    sendWithRetry(new BackendRotation([A]), transport, handler, { resendable: true });
    assert.deepEqual(attempts, ['a', 'a fresh']);
    assert.deepEqual(events, ['start', 'start', 'error stale BACKEND_RESET']);
  });

  test('sendWithRetry never resends a request that is not resendable (a body, or not idempotent)', () => {
    const { transport, attempts } = fakeTransport(['stale']);
    const { handler, events } = recorder();
    sendWithRetry(new BackendRotation([A, B]), transport, handler, { resendable: false });
    assert.deepEqual(attempts, ['a']);
    assert.deepEqual(events, ['start', 'error stale BACKEND_RESET']);
  });

  for (const stage of ['timeout', 'protocol', 'closed'] as const) {
    test(`sendWithRetry never retries a ${stage} failure`, () => {
      const { transport, attempts } = fakeTransport([stage]);
      const { handler, events } = recorder();
      sendWithRetry(new BackendRotation([A, B]), transport, handler, { resendable: true });
      assert.deepEqual(attempts, ['a']);
      assert.equal(events.at(-1)?.startsWith(`error ${stage}`), true);
    });
  }

  test('sendWithRetry neither retries nor marks a backend down once the answer is no longer wanted', () => {
    const { transport, attempts } = fakeTransport(['connect', 'ok']);
    const rotation = new BackendRotation([A, B]);
    const gone = recorder(() => false);
    sendWithRetry(rotation, transport, gone.handler, { resendable: true });
    assert.deepEqual(gone.events, ['error connect BACKEND_CONNECT_REFUSED']);
    sendWithRetry(rotation, transport, recorder().handler, { resendable: true });
    assert.deepEqual(attempts, ['a', 'b']);
  });
});

describe('BackendRotation', () => {
  test('BackendRotation.pick goes round the backends in turn', () => {
    const r = new BackendRotation([A, B, C]);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => r.pick(new Set())?.host),
      ['a', 'b', 'c', 'a'],
    );
  });

  test('BackendRotation.pick skips a backend marked down, and takes it when every other one is skipped', () => {
    const r = new BackendRotation([A, B], { retryAfter: 60_000 });
    r.markDown(A);
    assert.equal(r.pick(new Set())?.host, 'b');
    assert.equal(r.pick(new Set([B]))?.host, 'a');
    assert.equal(r.pick(new Set([A, B])), null);
  });
});
