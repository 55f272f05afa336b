import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upgradeAnswer } from '../../src/channels/http2/tunnel.js';

const head = (text: string) => Buffer.from(text, 'latin1');

test('upgradeAnswer turns a 101 into :status 200 without the connection fields or Sec-WebSocket-Accept', () => {
  const text =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\nSec-WebSocket-Protocol: chat\r\n\r\n';
  const answer = upgradeAnswer(head(`${text}\x81\x00`));
  assert.deepEqual(answer, { headers: { ':status': 200, 'sec-websocket-protocol': 'chat' }, bodyStart: text.length });
});

test('upgradeAnswer keeps a refusal with its fields, repeated ones as a list, and its body after the head', () => {
  const text = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nX-A: 1\r\nX-A: 2\r\n\r\n';
  const answer = upgradeAnswer(head(`${text}bad`));
  assert.deepEqual(answer, {
    headers: { ':status': 400, 'content-type': 'text/plain', 'x-a': ['1', '2'] },
    bodyStart: text.length,
  });
});

test('upgradeAnswer waits for the rest of a head cut anywhere', () => {
  const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n';
  for (let cut = 0; cut < text.length - 1; cut++)
    assert.equal(upgradeAnswer(head(text.slice(0, cut))), 'partial', `cut at ${cut}`);
});

test('upgradeAnswer refuses an interim status, a missing status line, a bad field name and a head past 16 KiB', () => {
  const refused = [
    'HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\n',
    'Upgrade: websocket\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nBad Name: x\r\n\r\n',
    `HTTP/1.1 101 Switching Protocols\r\nX-A: ${'a'.repeat(16 * 1024)}`,
  ];
  for (const text of refused) {
    const answer = upgradeAnswer(head(text));
    assert.ok(typeof answer === 'object' && 'error' in answer, JSON.stringify(text.slice(0, 40)));
  }
});
