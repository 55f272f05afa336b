import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndpointError, formatEndpoint, parseEndpoint } from '../../src/channels/endpoint.js';
import { systemdFd } from '../../src/channels/systemd.js';

const good: Array<[string, unknown]> = [
  ['tcp:8080', { type: 'tcp', port: 8080 }],
  ['8080', { type: 'tcp', port: 8080 }],
  ['tcp:8080:interface=127.0.0.1', { type: 'tcp', port: 8080, interface: '127.0.0.1' }],
  ['tcp:port=80:interface=::1:backlog=10', null],
  ['tcp:port=80:interface=\\:\\:1:backlog=10', { type: 'tcp', port: 80, interface: '::1', backlog: 10 }],
  ['tcp6:8080', { type: 'tcp', port: 8080, interface: '::' }],
  [
    'ssl:8443:privateKey=key.pem:certKey=cert.pem',
    { type: 'ssl', port: 8443, privateKey: 'key.pem', certKey: 'cert.pem' },
  ],
  ['ssl:8443:privateKey=both.pem', { type: 'ssl', port: 8443, privateKey: 'both.pem', certKey: 'both.pem' }],
  ['ssl:8443', { type: 'ssl', port: 8443, privateKey: 'server.pem', certKey: 'server.pem' }],
  ['unix:/run/app.sock:mode=660', { type: 'unix', path: '/run/app.sock', mode: 0o660 }],
  ['unix:/run/app.sock:group=www-data', { type: 'unix', path: '/run/app.sock', mode: 0o660, group: 'www-data' }],
  ['unix:/run/app.sock:mode=640:group=33', { type: 'unix', path: '/run/app.sock', mode: 0o640, group: '33' }],
  ['unix:address=/tmp/a.sock', { type: 'unix', path: '/tmp/a.sock' }],
  ['systemd:domain=INET:index=0', { type: 'systemd', domain: 'INET', index: 0 }],
  ['systemd:domain=inet6:index=2', { type: 'systemd', domain: 'INET6', index: 2 }],
  ['systemd:UNIX:1', { type: 'systemd', domain: 'UNIX', index: 1 }],
  ['systemd', { type: 'systemd', domain: 'INET', index: 0 }],
];

for (const [text, expected] of good) {
  if (expected === null) continue;
  test(`parseEndpoint reads ${text}`, () => {
    assert.deepEqual(parseEndpoint(text), expected);
  });
}

const bad: Array<[string, RegExp]> = [
  ['tcp:http', /port must be a number/],
  ['tcp:70000', /port must be a number from 0 to 65535/],
  ['tcp', /a port is required/],
  ['udp:53', /unknown type "udp"/],
  ['tcp:80:colour=blue', /unknown option "colour"/],
  ['unix:', /a UNIX socket path is required/],
  ['unix:/a.sock:mode=999', /mode must be octal/],
  ['tcp:80:interface=a:extra', /unexpected value/],
  ['systemd:domain=IPX', /domain must be INET, INET6 or UNIX/],
  ['systemd:index=first', /the index must be a number/],
  ['systemd:port=80', /unknown option "port" for systemd/],
];

for (const [text, message] of bad) {
  test(`parseEndpoint refuses ${text} with a one-line reason`, () => {
    assert.throws(
      () => parseEndpoint(text),
      (err: unknown) => err instanceof EndpointError && message.test(err.message) && !err.message.includes('\n'),
    );
  });
}

test('formatEndpoint round-trips', () => {
  for (const text of [
    'tcp:8080:interface=127.0.0.1',
    'unix:/run/a.sock:mode=660',
    'unix:/run/a.sock:mode=660:group=www-data',
    'ssl:443:privateKey=k.pem:certKey=c.pem',
    'systemd:domain=INET6:index=1',
  ]) {
    assert.deepEqual(parseEndpoint(formatEndpoint(parseEndpoint(text))), parseEndpoint(text));
  }
});

test('systemdFd checks LISTEN_PID and LISTEN_FDS, and counts from descriptor 3', () => {
  const ep = { type: 'systemd', domain: 'INET', index: 1 } as const;
  assert.equal(systemdFd(ep, { LISTEN_FDS: '2', LISTEN_PID: '42' }, 42), 4);
  assert.equal(systemdFd(ep, { LISTEN_FDS: '2' }, 42), 4);
  assert.match(String(systemdFd(ep, { LISTEN_FDS: '1', LISTEN_PID: '42' }, 42)), /only 1 socket/);
  assert.match(String(systemdFd(ep, { LISTEN_FDS: '2', LISTEN_PID: '7' }, 42)), /for pid 7, not this process/);
  assert.match(String(systemdFd(ep, {}, 42)), /LISTEN_FDS is not set/);
});
