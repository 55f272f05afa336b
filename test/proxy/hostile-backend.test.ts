// The hostile-backend matrix: a raw `net` backend answers with broken framing, bad fields, garbage
// status lines, oversize heads, early closes and smuggled second responses, behind a real `trellis web
// --proxy` process. Each case gives 502 (or a dropped client connection once the answer started), and
// a canary request right after it is still answered correctly: nothing of a bad answer is passed on,
// and no backend connection it poisoned is reused.
import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseResponses, rawHttp } from '../helpers/raw-http.js';
import { spawnTrellis, tempDir, type TrellisProcess } from '../helpers/server.js';

/** What the client must see: `bad`, exactly 502; `cut`, 502 or a dropped connection; `ok`, this body. */
type Outcome = 'bad' | 'cut' | { ok: string };

interface Case {
  name: string;
  bytes: string;
  /** The backend closes right after writing (otherwise it waits for the proxy to hang up). */
  close?: boolean;
  outcome: Outcome;
}

const OK = 'HTTP/1.1 200 OK\r\n';
const CHUNKED = `${OK}Transfer-Encoding: chunked\r\n\r\n`;
const bigField = `X-Big: ${'a'.repeat(17 * 1024)}\r\n`;
const manyFields = Array.from({ length: 101 }, (_, i) => `X-F${i}: v\r\n`).join('');

const CASES: Case[] = [
  // Framing
  {
    name: 'two equal Content-Lengths',
    bytes: `${OK}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    outcome: 'bad',
  },
  {
    name: 'two different Content-Lengths',
    bytes: `${OK}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    outcome: 'bad',
  },
  { name: 'a Content-Length list', bytes: `${OK}Content-Length: 5, 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a signed Content-Length', bytes: `${OK}Content-Length: +5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a negative Content-Length', bytes: `${OK}Content-Length: -1\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a Content-Length that is not a number', bytes: `${OK}Content-Length: five\r\n\r\nhello`, outcome: 'bad' },
  {
    name: 'a Content-Length past 2^53',
    bytes: `${OK}Content-Length: 99999999999999999999\r\n\r\nhello`,
    outcome: 'bad',
  },
  {
    name: 'Content-Length with Transfer-Encoding',
    bytes: `${OK}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    outcome: 'bad',
  },
  {
    name: 'Transfer-Encoding with Content-Length',
    bytes: `${OK}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    outcome: 'bad',
  },
  {
    name: 'a Transfer-Encoding other than chunked',
    bytes: `${OK}Transfer-Encoding: gzip\r\n\r\nhello`,
    outcome: 'bad',
  },
  {
    name: 'chunked not last',
    bytes: `${OK}Transfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    outcome: 'bad',
  },
  {
    name: 'chunked twice',
    bytes: `${OK}Transfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    outcome: 'bad',
  },
  {
    name: 'two Transfer-Encoding fields',
    bytes: `${OK}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    outcome: 'bad',
  },
  {
    name: 'Transfer-Encoding on HTTP/1.0',
    bytes: 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    outcome: 'bad',
  },
  // Chunks
  { name: 'a chunk size that is not hex', bytes: `${CHUNKED}zz\r\nhello\r\n0\r\n\r\n`, outcome: 'bad' },
  { name: 'a negative chunk size', bytes: `${CHUNKED}-5\r\nhello\r\n0\r\n\r\n`, outcome: 'bad' },
  { name: 'a chunk size with a 0x prefix', bytes: `${CHUNKED}0x5\r\nhello\r\n0\r\n\r\n`, outcome: 'bad' },
  { name: 'a chunk size that overflows', bytes: `${CHUNKED}fffffffffffffffff\r\nhello\r\n0\r\n\r\n`, outcome: 'bad' },
  { name: 'an empty chunk-size line', bytes: `${CHUNKED}\r\nhello\r\n0\r\n\r\n`, outcome: 'bad' },
  { name: 'chunk data longer than its size', bytes: `${CHUNKED}3\r\nhello\r\n0\r\n\r\n`, outcome: 'bad' },
  { name: 'a chunk-size line ending in a bare LF', bytes: `${CHUNKED}5\nhello\r\n0\r\n\r\n`, outcome: 'bad' },
  { name: 'chunk data ending in a bare LF', bytes: `${CHUNKED}5\r\nhello\n0\r\n\r\n`, outcome: 'bad' },
  {
    name: 'a chunk-size line over the limit',
    bytes: `${CHUNKED}5;${'x'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`,
    outcome: 'bad',
  },
  { name: 'a bare LF in the trailers', bytes: `${CHUNKED}5\r\nhello\r\n0\r\nX-T: 1\n\r\n`, outcome: 'bad' },
  {
    name: 'trailers over the limit',
    bytes: `${CHUNKED}5\r\nhello\r\n0\r\n${'X-T: y\r\n'.repeat(4000)}\r\n`,
    outcome: 'bad',
  },
  // Fields
  { name: 'obs-fold', bytes: `${OK}X-A: 1\r\n 2\r\nContent-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'obs-fold with a tab', bytes: `${OK}X-A: 1\r\n\t2\r\nContent-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a NUL in a value', bytes: `${OK}X-A: a\0b\r\nContent-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a bare CR in a value', bytes: `${OK}X-A: a\rb\r\nContent-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  {
    name: 'a control character in a value',
    bytes: `${OK}X-A: a\x01b\r\nContent-Length: 5\r\n\r\nhello`,
    outcome: 'bad',
  },
  { name: 'DEL in a value', bytes: `${OK}X-A: a\x7fb\r\nContent-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a bare LF between fields', bytes: `${OK}X-A: 1\nContent-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a head ended by bare LFs', bytes: 'HTTP/1.1 200 OK\nContent-Length: 5\n\nhello', outcome: 'bad' },
  { name: 'a space before the colon', bytes: `${OK}Content-Length : 5\r\n\r\nhello`, outcome: 'bad' },
  {
    name: 'a field name that is not a token',
    bytes: `${OK}X(A): 1\r\nContent-Length: 5\r\n\r\nhello`,
    outcome: 'bad',
  },
  { name: 'a field without a name', bytes: `${OK}: v\r\nContent-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a field line without a colon', bytes: `${OK}X-A\r\nContent-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a head over 16 KiB', bytes: `${OK}${bigField}Content-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  { name: 'a head over 16 KiB that never ends', bytes: `${OK}${bigField}`, outcome: 'bad' },
  { name: 'more than 100 fields', bytes: `${OK}${manyFields}Content-Length: 5\r\n\r\nhello`, outcome: 'bad' },
  // Status lines
  { name: 'a garbage status line', bytes: 'HTTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', outcome: 'bad' },
  { name: 'HTTP/0.9-style bytes with no head', bytes: 'hello world\r\n\r\n', close: true, outcome: 'bad' },
  { name: 'HTTP/2.0 in the status line', bytes: 'HTTP/2.0 200 OK\r\nContent-Length: 5\r\n\r\nhello', outcome: 'bad' },
  { name: 'a lower-case protocol', bytes: 'http/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', outcome: 'bad' },
  { name: 'a four-digit status', bytes: 'HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\nhello', outcome: 'bad' },
  { name: 'a two-digit status', bytes: 'HTTP/1.1 20 OK\r\nContent-Length: 5\r\n\r\nhello', outcome: 'bad' },
  { name: 'a status of 600', bytes: 'HTTP/1.1 600 OK\r\nContent-Length: 5\r\n\r\nhello', outcome: 'bad' },
  { name: 'a status of 099', bytes: 'HTTP/1.1 099 OK\r\nContent-Length: 5\r\n\r\nhello', outcome: 'bad' },
  {
    name: 'two spaces after the version',
    bytes: 'HTTP/1.1  200 OK\r\nContent-Length: 5\r\n\r\nhello',
    outcome: 'bad',
  },
  { name: 'a NUL in the reason phrase', bytes: 'HTTP/1.1 200 O\0K\r\nContent-Length: 5\r\n\r\nhello', outcome: 'bad' },
  {
    name: 'a 101 nobody asked for',
    bytes: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello',
    outcome: 'bad',
  },
  {
    name: 'more than 16 interim responses',
    bytes: `${'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(20)}${OK}Content-Length: 5\r\n\r\nhello`,
    outcome: 'bad',
  },
  // Early closes
  { name: 'a close before any byte', bytes: '', close: true, outcome: 'bad' },
  { name: 'a close mid-status-line', bytes: 'HTTP/1.1 20', close: true, outcome: 'bad' },
  { name: 'a close mid-head', bytes: `${OK}Content-Le`, close: true, outcome: 'bad' },
  { name: 'a close mid-body', bytes: `${OK}Content-Length: 10\r\n\r\nhello`, close: true, outcome: 'cut' },
  { name: 'a close mid-chunk', bytes: `${CHUNKED}a\r\nhello`, close: true, outcome: 'cut' },
  { name: 'a close before the last chunk', bytes: `${CHUNKED}5\r\nhello\r\n`, close: true, outcome: 'cut' },
  {
    name: 'a close inside the trailers',
    bytes: `${CHUNKED}5\r\nhello\r\n0\r\nX-T: 1\r\n`,
    close: true,
    outcome: 'cut',
  },
  // Answers that are well formed, followed by more than was asked for
  {
    name: 'a second response smuggled after a Content-Length body',
    bytes: `${OK}Content-Length: 5\r\n\r\nhello${OK}Content-Length: 8\r\n\r\nsmuggled`,
    outcome: { ok: 'hello' },
  },
  {
    name: 'a second response smuggled after a chunked body',
    bytes: `${CHUNKED}5\r\nhello\r\n0\r\n\r\n${OK}Content-Length: 8\r\n\r\nsmuggled`,
    outcome: { ok: 'hello' },
  },
  {
    name: 'a body past the end of a 204',
    bytes: 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
    outcome: { ok: '' },
  },
  {
    name: 'a close-delimited body on a kept-alive connection',
    bytes: `${OK}\r\nhello`,
    close: true,
    outcome: { ok: 'hello' },
  },
];

const CANARY = 'canary-ok';

/**
 * The backend: `/case/N` gets case N's bytes, anything else a well-formed kept-alive canary answer.
 * A connection given a case is never answered again; the proxy must not reuse it.
 */
function hostileBackend(): Server {
  return createServer((socket: Socket) => {
    let buffered = '';
    let poisoned = false;
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => {
      if (poisoned) return;
      buffered += data.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1 && !poisoned; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const path = head.split(' ')[1] ?? '';
        const m = /^\/case\/(\d+)$/.exec(path);
        if (!m) {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${CANARY.length}\r\n\r\n${CANARY}`);
          continue;
        }
        poisoned = true;
        const c = CASES[Number(m[1])]!;
        socket.write(c.bytes, 'latin1');
        if (c.close) socket.end();
        // A proxy that keeps waiting on a bad answer is caught by the outcome; this only ends the test.
        else setTimeout(() => socket.destroy(), 3000).unref();
      }
    });
  });
}

async function get(port: number, path: string): Promise<{ status: number; text: string } | 'dropped'> {
  const request = `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`;
  const transcript = await rawHttp(port, request, { timeoutMs: 8000 });
  let responses;
  try {
    responses = parseResponses(transcript);
  } catch {
    return 'dropped';
  }
  const last = responses.at(-1);
  return last ? { status: last.status, text: last.text } : 'dropped';
}

describe('the reverse proxy against hostile backends', () => {
  const dir = tempDir('trellis-hostile-');
  const backend = hostileBackend();
  let front: TrellisProcess;
  let port = 0;

  before(async () => {
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const backendPort = (backend.address() as { port: number }).port;
    mkdirSync(join(dir.path, 'empty'));
    const listen = ['--listen', 'tcp:0:interface=127.0.0.1', '--path', join(dir.path, 'empty')];
    front = await spawnTrellis(['web', ...listen, '--proxy', `/app=http://127.0.0.1:${backendPort}/`]);
    port = Number(new URL(front.url).port);
    const warm = await get(port, '/app/canary');
    assert.ok(warm !== 'dropped' && warm.text === CANARY);
  });
  after(async () => {
    await front.stop();
    await new Promise((r) => backend.close(r));
    dir.cleanup();
  });

  CASES.forEach((c, i) => {
    test(`hostile backend: ${c.name}`, async () => {
      const r = await get(port, `/app/case/${i}`);
      const shown = r === 'dropped' ? r : `${r.status} ${JSON.stringify(r.text.slice(0, 80))}`;
      if (c.outcome === 'bad') {
        assert.ok(r !== 'dropped' && r.status === 502, `expected 502, got ${shown}`);
      } else if (c.outcome === 'cut') {
        assert.ok(r === 'dropped' || r.status === 502, `expected 502 or a dropped connection, got ${shown}`);
      } else {
        const expected = c.outcome.ok;
        const served = r !== 'dropped' && r.status < 300 && r.text === expected;
        assert.ok(served, `expected ${JSON.stringify(expected)}, got ${shown}`);
      }
      assert.ok(r === 'dropped' || !r.text.includes('smuggled'), shown);
      // The canary, twice: the second would take a pooled connection the first left behind.
      for (let n = 0; n < 2; n++) {
        const canary = await get(port, `/app/canary?after=${i}`);
        assert.ok(canary !== 'dropped', 'the canary got no answer');
        assert.equal(canary.status, 200, canary.text);
        assert.equal(canary.text, CANARY);
      }
    });
  });

  test('the trellis process is still up and logged no crash', () => {
    assert.equal(front.proc.exitCode, null);
    assert.doesNotMatch(front.stderr(), /uncaught|unhandled|FATAL/i);
  });
});
