import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndpointError, formatEndpoint, parseEndpoint } from '../../src/channels/endpoint.js';

const good: Array<[string, unknown]> = [
  ['tcp:8080', { type: 'tcp', port: 8080 }],
  ['8080', { type: 'tcp', port: 8080 }],
  ['tcp:8080:interface=127.0.0.1', { type: 'tcp', port: 8080, interface: '127.0.0.1' }],
  ['tcp:port=80:interface=::1:backlog=10', null],
  ['tcp:port=80:interface=\\:\\:1:backlog=10', { type: 'tcp', port: 80, interface: '::1', backlog: 10 }],
  ['tcp6:8080', { type: 'tcp', port: 8080, interface: '::' }],
  ['ssl:8443:privateKey=key.pem:certKey=cert.pem', { type: 'ssl', port: 8443, privateKey: 'key.pem', certKey: 'cert.pem' }],
  ['ssl:8443:privateKey=both.pem', { type: 'ssl', port: 8443, privateKey: 'both.pem', certKey: 'both.pem' }],
  ['ssl:8443', { type: 'ssl', port: 8443, privateKey: 'server.pem', certKey: 'server.pem' }],
  ['unix:/run/app.sock:mode=660', { type: 'unix', path: '/run/app.sock', mode: 0o660 }],
  ['unix:address=/tmp/a.sock', { type: 'unix', path: '/tmp/a.sock' }],
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
];

for (const [text, message] of bad) {
  test(`parseEndpoint refuses ${text} with a one-line reason`, () => {
    assert.throws(() => parseEndpoint(text), (err: unknown) => err instanceof EndpointError && message.test(err.message) && !err.message.includes('\n'));
  });
}

test('formatEndpoint round-trips', () => {
  for (const text of ['tcp:8080:interface=127.0.0.1', 'unix:/run/a.sock:mode=660', 'ssl:443:privateKey=k.pem:certKey=c.pem']) {
    assert.deepEqual(parseEndpoint(formatEndpoint(parseEndpoint(text))), parseEndpoint(text));
  }
});
