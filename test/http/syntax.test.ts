import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  TCHAR,
  bracket,
  hasControlChars,
  hasCtl,
  isContentLength,
  isHost,
  isToken,
  listHas,
  parseContentLength,
  trimOws,
  safeReason,
  splitAuthority,
  unbracket,
} from '../../src/http/syntax.js';

test('tokens: the tchar table and the string test agree on every byte', () => {
  for (let c = 0; c < 256; c++) assert.equal(isToken(String.fromCharCode(c)), TCHAR[c] === 1, `byte ${c}`);
  assert.equal(isToken(''), false);
  assert.equal(isToken('X-Custom_1!'), true);
});

test('controls: a field value may hold HTAB, nothing else below SP, nor DEL; hasCtl refuses HTAB too', () => {
  for (let c = 0; c < 0x20; c++) {
    assert.equal(hasControlChars(`a${String.fromCharCode(c)}b`), c !== 9, `byte ${c}`);
    assert.equal(hasCtl(String.fromCharCode(c)), true, `byte ${c}`);
  }
  assert.equal(hasControlChars('\u007f'), true);
  assert.equal(hasCtl('\u007f'), true);
  assert.equal(hasControlChars('caf\u00e9 ok'), false);
});

test('bracket puts an IPv6 literal in brackets, unbracket takes them off, names and IPv4 unchanged', () => {
  const table: Array<[string, string]> = [
    ['::1', '[::1]'],
    ['example.com', 'example.com'],
    ['127.0.0.1', '127.0.0.1'],
  ];
  for (const [bare, shown] of table) {
    assert.equal(bracket(bare), shown);
    assert.equal(bracket(shown), shown);
    assert.equal(unbracket(shown), bare);
    assert.equal(unbracket(bare), bare);
  }
});

test('trimOws removes SP and HTAB around a value, nothing else', () => {
  assert.equal(trimOws(' \t a b \t'), 'a b');
  assert.equal(trimOws('\xa0a\xa0'), '\xa0a\xa0');
  assert.equal(trimOws('   '), '');
  assert.equal(trimOws('x'), 'x');
});

test('listHas finds a token among list elements, any case, OWS and parameters passed over', () => {
  const table: Array<[string, string, boolean]> = [
    ['close', 'close', true],
    ['keep-alive, Close', 'close', true],
    [' ,, close ,', 'close', true],
    ['deflate;q=0.5, trailers', 'trailers', true],
    ['trailers;q=1', 'trailers', true],
    ['x-close', 'close', false],
    ['closed, enclose', 'close', false],
    ['', 'close', false],
    ['Grpc-Status, grpc-message', 'grpc-status', true],
  ];
  for (const [value, token, expected] of table)
    assert.equal(listHas(value, token), expected, `${JSON.stringify(value)} has ${token}`);
});

test('Content-Length: 1 to 15 ASCII digits only', () => {
  const table: Array<[string | undefined, number | null]> = [
    ['0', 0],
    ['42', 42],
    ['007', 7],
    ['999999999999999', 999999999999999],
    ['1000000000000000', null],
    ['', null],
    ['+1', null],
    ['-1', null],
    ['0x10', null],
    [' 5', null],
    ['5, 5', null],
    ['1e3', null],
    ['\u0661', null],
    [undefined, null],
  ];
  for (const [text, expected] of table) {
    assert.equal(parseContentLength(text), expected, JSON.stringify(text));
    if (text !== undefined) assert.equal(isContentLength(text), expected !== null, JSON.stringify(text));
  }
});

test('Host: name or IPv4 or bracketed IPv6, optional 1-5 digit port (SECURITY.md §6.3)', () => {
  const ok = ['', 'example.com', 'a-b.c:8080', '127.0.0.1', '[::1]', '[::1]:443', '[::ffff:1.2.3.4]:1', 'x:1'];
  const bad = [
    'a b',
    'a/b',
    'a@b',
    'a:',
    'a:123456',
    '[::1',
    '[]',
    '[::g]',
    ':80',
    'a:80:80',
    'é.com',
    'a\u0100',
    'a_b',
  ];
  for (const h of ok) assert.equal(isHost(h), true, h);
  for (const h of bad) assert.equal(isHost(h), false, h);
});

test('authority: host and a required port', () => {
  assert.deepEqual(splitAuthority('example.com:443'), { host: 'example.com', port: 443 });
  assert.deepEqual(splitAuthority('[::1]:8443'), { host: '[::1]', port: 8443 });
  for (const bad of ['example.com', '[::1]', '[::1', ':443', 'a:', 'a b:1', 'a:123456', '']) {
    assert.equal(splitAuthority(bad), null, bad);
  }
});

test('reason phrase: every byte but SP, HTAB and VCHAR becomes a space', () => {
  assert.equal(safeReason('Not Found'), 'Not Found');
  assert.equal(safeReason('A\r\nSet-Cookie: x'), 'A  Set-Cookie: x');
  assert.equal(safeReason('caf\u00e9\u2028\u0000'), 'caf   ');
  assert.equal(safeReason('tab\there'), 'tab\there');
});
