// Who may reach a gateway listener (SECURITY.md §5.1): loopback and UNIX by default, other TCP peers
// only when listed; a non-loopback listener needs that list before it starts.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import {
  checkGatewayEndpoint,
  isLoopback,
  paramsToMap,
  parseTrustedPeers,
  peerAllowed,
  TrustedPeerError,
} from '../../src/channels/gateway.js';
import { ListenError } from '../../src/channels/listen.js';
import { formatCgiHeadText } from '../../src/http/cgi-head.js';

const peer = (remoteAddress: string | undefined) =>
  ({ remoteAddress, remoteFamily: remoteAddress === undefined ? undefined : 'IPv4' }) as unknown as Socket;

test('peerAllowed lets loopback and UNIX peers in and drops others unless trusted', () => {
  assert.equal(peerAllowed(peer('127.0.0.1'), null), true);
  assert.equal(peerAllowed(peer('::ffff:127.0.0.5'), null), true);
  assert.equal(peerAllowed(peer('::1'), null), true);
  assert.equal(peerAllowed(peer(undefined), null), true);
  assert.equal(peerAllowed(peer('10.1.2.3'), null), false);
  const trusted = parseTrustedPeers(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
  assert.equal(peerAllowed(peer('10.1.2.3'), trusted), true);
  assert.equal(peerAllowed(peer('::ffff:10.1.2.3'), trusted), true);
  assert.equal(peerAllowed(peer('192.0.2.7'), trusted), true);
  assert.equal(peerAllowed(peer('192.0.2.8'), trusted), false);
  assert.equal(peerAllowed(peer('fd00::1'), trusted), true);
});

test('parseTrustedPeers refuses what is not an address or CIDR', () => {
  for (const bad of ['example.com', '10.0.0.0/33', '10.0.0.0/8/1', '', 'fd00::/129']) {
    assert.throws(() => parseTrustedPeers([bad]), TrustedPeerError, bad);
  }
});

test('checkGatewayEndpoint refuses all-interfaces and non-loopback TCP without trusted peers', () => {
  assert.doesNotThrow(() => checkGatewayEndpoint('fastcgi', { type: 'tcp', port: 9000, interface: '127.0.0.1' }, []));
  assert.doesNotThrow(() => checkGatewayEndpoint('fastcgi', { type: 'unix', path: '/tmp/x.sock' }, []));
  assert.throws(() => checkGatewayEndpoint('fastcgi', { type: 'tcp', port: 9000 }, []), ListenError);
  assert.throws(
    () => checkGatewayEndpoint('scgi', { type: 'tcp', port: 9000, interface: '0.0.0.0' }, []),
    /--gateway-trusted-peers/,
  );
  assert.doesNotThrow(() =>
    checkGatewayEndpoint('scgi', { type: 'tcp', port: 9000, interface: '0.0.0.0' }, ['10.0.0.0/8']),
  );
  assert.throws(
    () => checkGatewayEndpoint('scgi', { type: 'ssl', port: 9000, privateKey: 'k', certKey: 'c' }, ['10.0.0.0/8']),
    /not TLS/,
  );
  assert.equal(isLoopback('127.10.0.1'), true);
  assert.equal(isLoopback('128.0.0.1'), false);
  // One rule for peers and listen interfaces: mapped, ::1 and localhost are loopback; 127.x must be an address.
  for (const yes of ['::ffff:127.0.0.2', '::1', 'localhost', '127.255.255.255'])
    assert.equal(isLoopback(yes), true, yes);
  for (const no of ['127.0.0.256', '127.1', '::ffff:128.0.0.1', '::2', '0.0.0.0'])
    assert.equal(isLoopback(no), false, no);
});

test('paramsToMap decodes HTTP_* values as latin1 and the rest as UTF-8; later duplicates win', () => {
  const map = paramsToMap([
    ['PATH_INFO', Buffer.from('/é', 'utf8')],
    ['HTTP_X', Buffer.from([0xe9])],
    ['A', Buffer.from('1')],
    ['A', Buffer.from('2')],
  ]);
  assert.equal(map.get('PATH_INFO'), '/é');
  assert.equal(map.get('HTTP_X'), 'é');
  assert.equal(map.get('A'), '2');
});

test('formatCgiHeadText writes Status and headers, leaves out hop-by-hop fields and controls in the reason', () => {
  const head = formatCgiHeadText(404, 'Not\r\nFound', [
    'Content-Type',
    'text/plain',
    'Connection',
    'close',
    'Transfer-Encoding',
    'chunked',
    'X-A',
    '1',
  ]);
  assert.equal(head, 'Status: 404 Not  Found\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\n');
});

test('formatCgiHeadText from the flat list gives the same head, hop-by-hop fields left out whatever their case', () => {
  const pairs: Array<[string, string]> = [
    ['Content-Type', 'text/plain'],
    ['keep-alive', 'timeout=5'],
    ['TE', 'trailers'],
    ['Upgrade', 'h2c'],
    ['X-Upgrade', 'kept'],
    ['Trailer', 'x'],
    ['Proxy-Connection', 'y'],
  ];
  const text = formatCgiHeadText(200, 'OK', pairs.flat());
  assert.equal(text, 'Status: 200 OK\r\nContent-Type: text/plain\r\nX-Upgrade: kept\r\n\r\n');
  assert.equal(formatCgiHeadText(502, 'Bad\x00Gateway', []), 'Status: 502 Bad Gateway\r\n\r\n');
});
