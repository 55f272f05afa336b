import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { combinedLogLine, escapeLogField, jsonLogLine, openAccessLog, readableLogLine } from '../src/access-log.js';
import { tempDir } from './helpers/server.js';

const entry = {
  clientIp: '10.0.0.1',
  time: new Date(Date.UTC(2026, 10, 22, 2, 34, 47)),
  method: 'GET',
  uri: '/a?b=1',
  protocol: 'HTTP/1.1',
  status: 200,
  bytes: 12,
  referer: 'http://ref/',
  userAgent: 'curl/8.0',
};

test('combinedLogLine writes the combined log format', () => {
  assert.equal(
    combinedLogLine(entry),
    '10.0.0.1 - - [22/Nov/2026:02:34:47 +0000] "GET /a?b=1 HTTP/1.1" 200 12 "http://ref/" "curl/8.0"\n',
  );
});

test('combinedLogLine writes - for empty bodies, missing fields and UNIX peers', () => {
  const line = combinedLogLine({ ...entry, clientIp: null, bytes: 0, referer: undefined, userAgent: undefined });
  assert.equal(line, '- - - [22/Nov/2026:02:34:47 +0000] "GET /a?b=1 HTTP/1.1" 200 - "-" "-"\n');
});

test('log fields are escaped so a client cannot forge lines or fields', () => {
  const line = combinedLogLine({ ...entry, userAgent: 'x"\r\n10.0.0.2 - - [fake]', uri: '/\u00e9' });
  assert.equal(line.split('\n').length, 2);
  assert.match(line, /"x\\"\\x0d\\x0a10\.0\.0\.2 - - \[fake\]"/);
  assert.match(line, /\/\\xc3\\xa9/);
  assert.equal(escapeLogField('a\\b'), 'a\\\\b');
});

test('openAccessLog appends lines to a file and reopens it', async () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'access.log');
    const log = openAccessLog(path);
    log.log(entry);
    log.reopen();
    log.log({ ...entry, status: 404 });
    await log.close();
    await new Promise((r) => setTimeout(r, 50));
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /" 404 12 /);
  } finally {
    dir.cleanup();
  }
});

test('combinedLogLine marks a response cut short by the client with a last field, aborted', () => {
  assert.equal(
    combinedLogLine({ ...entry, aborted: true }),
    '10.0.0.1 - - [22/Nov/2026:02:34:47 +0000] "GET /a?b=1 HTTP/1.1" 200 12 "http://ref/" "curl/8.0" aborted\n',
  );
  assert.doesNotMatch(combinedLogLine({ ...entry, aborted: false }), /aborted/);
});

test('readableLogLine: local time, client, method, path, status, size; escaped; coloured by status class on request', () => {
  const t = entry.time;
  const hhmmss = [t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  assert.equal(readableLogLine(entry), `${hhmmss} 10.0.0.1 GET /a?b=1 200 12 B\n`);
  assert.equal(
    readableLogLine({ ...entry, status: 404, bytes: 2048, aborted: true }),
    `${hhmmss} 10.0.0.1 GET /a?b=1 404 2.0 KiB aborted\n`,
  );
  assert.equal(
    readableLogLine({ ...entry, uri: '/x\r\nFAKE 200' }),
    `${hhmmss} 10.0.0.1 GET /x\\x0d\\x0aFAKE 200 200 12 B\n`,
  );
  const coloured = readableLogLine({ ...entry, status: 503, bytes: 0 }, true);
  assert.equal(coloured, `\x1b[2m${hhmmss}\x1b[0m 10.0.0.1 GET /a?b=1 \x1b[31m503\x1b[0m \x1b[2m-\x1b[0m\n`);
});

test('jsonLogLine writes one JSON object per line with the combined fields, control characters escaped', () => {
  const line = jsonLogLine({
    clientIp: '10.0.0.1',
    time: new Date(Date.UTC(2026, 10, 22, 2, 34, 47)),
    method: 'GET',
    uri: '/a\nb',
    protocol: 'HTTP/1.1',
    status: 200,
    bytes: 12,
    userAgent: 'curl/8.0',
  });
  assert.ok(line.endsWith('}\n'));
  assert.equal(line.indexOf('\n'), line.length - 1, 'one line, whatever the request held');
  assert.deepEqual(JSON.parse(line), {
    time: '2026-11-22T02:34:47.000Z',
    client: '10.0.0.1',
    user: null,
    method: 'GET',
    uri: '/a\nb',
    protocol: 'HTTP/1.1',
    status: 200,
    bytes: 12,
    referer: null,
    userAgent: 'curl/8.0',
    aborted: false,
  });
});
