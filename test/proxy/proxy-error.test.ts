import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { HttpError } from '../../src/errors.js';
import type { ExchangeError } from '../../src/proxy/backend-client.js';
import { ProxyError, exchangeFailure, isProxyError, type ProxyErrorCode } from '../../src/proxy/proxy-error.js';
import { ReverseProxyResource } from '../../src/proxy/reverse-proxy.js';
import { Site } from '../../src/site.js';
import { freePort, serveSite } from '../helpers/server.js';
import { fetchRaw } from './http-client.js';

describe('ProxyError', () => {
  test('ProxyError is an exposed HttpError: 504 for the timeouts, 502 otherwise', () => {
    const statuses: Array<[ProxyErrorCode, number]> = [
      ['BACKEND_CONNECT_TIMEOUT', 504],
      ['BACKEND_TIMEOUT', 504],
      ['BACKEND_CONNECT_REFUSED', 502],
      ['BACKEND_RESET', 502],
      ['BAD_RESPONSE', 502],
      ['RESPONSE_TOO_LARGE', 502],
    ];
    for (const [code, status] of statuses) {
      const e = new ProxyError(code, 'm');
      assert.ok(e instanceof HttpError);
      assert.deepEqual([e.status, e.code, e.expose, e.name], [status, code, true, 'ProxyError']);
    }
  });

  test('ProxyError names its code in its stack, which is that one line', () => {
    assert.equal(new ProxyError('BACKEND_RESET', 'gone').stack, 'ProxyError [BACKEND_RESET]: gone');
  });

  test('isProxyError goes by the Symbol.for brand', () => {
    assert.ok(isProxyError(new ProxyError('NO_BACKEND', 'x')));
    assert.ok(isProxyError({ [Symbol.for('trellis.proxy.ProxyError')]: true }));
    assert.ok(!isProxyError(new HttpError(502, 'x')));
    assert.ok(!isProxyError(null));
  });

  type Failure = [ExchangeError['stage'], ProxyErrorCode, string, number, string];
  const failures: Failure[] = [
    ['connect', 'BACKEND_CONNECT_REFUSED', 'ECONNREFUSED', 502, 'Could not connect to the backend (ECONNREFUSED).'],
    ['connect', 'BACKEND_CONNECT_TIMEOUT', 'x', 504, 'The backend did not accept a connection in time.'],
    ['timeout', 'BACKEND_TIMEOUT', 'x', 504, 'The backend did not answer in time.'],
    ['protocol', 'BAD_RESPONSE', 'a bare LF', 502, 'The backend sent an invalid response: a bare LF.'],
    ['protocol', 'BACKEND_RESET', 'cut', 502, 'The backend sent an invalid response: cut.'],
    ['closed', 'BACKEND_RESET', 'ECONNRESET', 502, 'The backend connection failed (ECONNRESET).'],
    ['stale', 'BACKEND_RESET', 'EPIPE', 502, 'The backend connection failed (EPIPE).'],
  ];
  for (const [stage, code, reason, status, message] of failures) {
    test(`exchangeFailure: ${stage} ${code} is ${status} "${message}"`, () => {
      const e = exchangeFailure({ stage, code, message: reason, responded: false }, 'backend');
      assert.deepEqual([e.code, e.status, e.message], [code, status, message]);
    });
  }
});

/** A backend on a raw socket that answers every connection with `answer(socket)`. */
async function rawBackend(answer: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    answer(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('ReverseProxyResource error codes', () => {
  interface Case {
    name: string;
    answer: ((s: Socket) => void) | null;
    status: number;
    code: ProxyErrorCode;
  }
  const cases: Case[] = [
    { name: 'a refused connection', answer: null, status: 502, code: 'BACKEND_CONNECT_REFUSED' },
    { name: 'silence past the timeout', answer: () => {}, status: 504, code: 'BACKEND_TIMEOUT' },
    {
      name: 'a malformed status line',
      answer: (s) => s.end('HTTP/1.1 2000 OK\r\n\r\n'),
      status: 502,
      code: 'BAD_RESPONSE',
    },
    {
      name: 'a head over 16 KiB',
      answer: (s) => s.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`),
      status: 502,
      code: 'RESPONSE_TOO_LARGE',
    },
    {
      name: 'a close inside the head',
      answer: (s) => s.end('HTTP/1.1 200 OK\r\nX-A: 1\r\n'),
      status: 502,
      code: 'BACKEND_RESET',
    },
  ];
  for (const c of cases) {
    test(`answers ${c.status} to ${c.name} and logs ${c.code}`, async () => {
      const be = c.answer ? await rawBackend(c.answer) : null;
      const port = be ? be.port : await freePort();
      const logged: string[] = [];
      const p = new ReverseProxyResource('127.0.0.1', port, '', { timeout: 300 });
      const front = await serveSite(new Site(p, { logError: (line: string) => logged.push(line) }));
      try {
        const r = await fetchRaw(`${front.base}/x`);
        assert.equal(r.status, c.status);
        assert.equal(logged.length, 1, logged.join('\n'));
        assert.match(logged[0]!, new RegExp(`^Error rendering GET /x: ProxyError \\[${c.code}\\]: [^\\n]+$`));
      } finally {
        p.close();
        await front.close();
        await be?.close();
      }
    });
  }
});
