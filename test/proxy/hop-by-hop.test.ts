import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { connectionListed, stripHopByHop } from '../../src/proxy/hop-by-hop.js';

describe('stripHopByHop', () => {
  const cases: Array<[string, Array<[string, string]>, Array<[string, string]>, { keepUpgrade?: boolean }?]> = [
    [
      'drops fields named in Connection',
      [
        ['Connection', 'x-a'],
        ['X-A', '1'],
        ['X-B', '2'],
      ],
      [['X-B', '2']],
    ],
    [
      'never lets Connection name Host, Content-Length or forwarding fields',
      [
        ['Connection', 'host, content-length, x-forwarded-for'],
        ['Host', 'h'],
        ['Content-Length', '3'],
        ['X-Forwarded-For', '1.2.3.4'],
      ],
      [
        ['Host', 'h'],
        ['Content-Length', '3'],
        ['X-Forwarded-For', '1.2.3.4'],
      ],
    ],
    ['keeps TE only as trailers', [['TE', 'gzip, trailers']], [['TE', 'trailers']]],
    ['drops TE without trailers', [['TE', 'gzip']], []],
    [
      'drops Upgrade and HTTP2-Settings (h2c)',
      [
        ['Upgrade', 'h2c'],
        ['HTTP2-Settings', 'x'],
        ['Connection', 'Upgrade, HTTP2-Settings'],
      ],
      [],
    ],
    [
      'keeps a WebSocket Upgrade when asked',
      [
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
        ['Sec-WebSocket-Key', 'k'],
      ],
      [
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Key', 'k'],
        ['Connection', 'Upgrade'],
      ],
      { keepUpgrade: true },
    ],
    [
      'drops the fixed hop-by-hop set, case-insensitively',
      [
        ['keep-alive', '1'],
        ['PROXY-CONNECTION', 'x'],
        ['Transfer-Encoding', 'chunked'],
        ['Trailer', 'x'],
        ['Proxy-Authorization', 'Basic x'],
        ['Proxy-Authenticate', 'Basic'],
        ['Accept', '*/*'],
      ],
      [['Accept', '*/*']],
    ],
    [
      'keeps duplicates and order',
      [
        ['Set-Cookie', 'a=1'],
        ['Via', 'x'],
        ['Set-Cookie', 'b=2'],
      ],
      [
        ['Set-Cookie', 'a=1'],
        ['Via', 'x'],
        ['Set-Cookie', 'b=2'],
      ],
    ],
  ];
  for (const [name, input, output, options] of cases) {
    test(name, () => assert.deepEqual(stripHopByHop(input, options), output));
  }
});

describe('connectionListed', () => {
  const cases: Array<[string, string[], string[] | null]> = [
    ['null without Connection', ['Content-Type', 'text/plain'], null],
    ['null for keep-alive and close', ['Connection', 'keep-alive', 'connection', 'Close'], null],
    [
      'lower-cased names from every Connection field',
      ['Connection', 'X-A, keep-alive', 'CONNECTION', ' x-b ,'],
      ['x-a', 'x-b'],
    ],
    ['never the protected names', ['Connection', 'Content-Length, Host, X-Forwarded-For, x-c'], ['x-c']],
  ];
  for (const [name, flat, names] of cases) {
    test(`connectionListed: ${name}`, () => {
      const listed = connectionListed(flat);
      assert.deepEqual(listed === null ? null : [...listed], names);
    });
  }
});
