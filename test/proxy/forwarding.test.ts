import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import {
  backendRequestFields,
  clientResponseFields,
  requestHead,
  rewriteLocation,
  wantsWebSocket,
  type Backend,
  type ClientRequest,
  type ForwardingOptions,
} from '../../src/proxy/forwarding.js';

type Fields = Array<[string, string]>;

const BACKEND: Backend = { host: '127.0.0.1', port: 8080 };
const DEFAULTS: ForwardingOptions = {
  basePath: '',
  preserveHost: false,
  xForwarded: true,
  forwarded: false,
  forwardedPrefix: true,
  forwardedFor: 'append',
};

function client(headers: Fields, more: Partial<ClientRequest> = {}): ClientRequest {
  const host = headers.find(([n]) => n.toLowerCase() === 'host')?.[1];
  const defaults = {
    method: 'GET',
    contentLength: null,
    hasBody: false,
    peerIp: '10.0.0.9',
    clientIp: '10.0.0.9',
    secure: false,
  };
  return { ...defaults, prepath: [], headers, host, ...more };
}

/** The default forwarding fields a request from 10.0.0.9 for `public.example` gets, after `before`. */
function forwarded(before: Fields, after: Fields = []): Fields {
  return [
    ['Host', '127.0.0.1:8080'],
    ...before,
    ...after,
    ['X-Forwarded-For', '10.0.0.9'],
    ['X-Forwarded-Proto', 'http'],
    ['X-Forwarded-Host', 'public.example'],
  ];
}

describe('backendRequestFields', () => {
  const H: [string, string] = ['Host', 'public.example'];
  const cases: Array<{
    name: string;
    request: ClientRequest;
    expect: Fields;
    options?: Partial<ForwardingOptions>;
    backend?: Backend;
    websocket?: boolean;
  }> = [
    {
      name: 'sets Host to the backend and adds X-Forwarded-*',
      request: client([H, ['Accept', '*/*']]),
      expect: forwarded([['Accept', '*/*']]),
    },
    {
      name: 'omits :80 from Host and brackets an IPv6 backend',
      request: client([H]),
      backend: { host: '::1', port: 80 },
      expect: [['Host', '[::1]'], ...forwarded([]).slice(1)],
    },
    {
      name: 'keeps the client Host with preserveHost',
      request: client([H]),
      options: { preserveHost: true },
      expect: [['Host', 'public.example'], ...forwarded([]).slice(1)],
    },
    {
      name: 'drops hop-by-hop fields and those named in Connection',
      request: client([
        H,
        ['Connection', 'keep-alive, X-Secret'],
        ['Keep-Alive', '5'],
        ['X-Secret', 's'],
        ['TE', 'gzip'],
        ['Trailer', 'x'],
        ['Proxy-Authorization', 'Basic x'],
        ['Transfer-Encoding', 'chunked'],
        ['Accept', '*/*'],
      ]),
      expect: forwarded([['Accept', '*/*']]),
    },
    {
      name: 'keeps TE only as trailers, after the other fields',
      request: client([H, ['TE', 'gzip, trailers'], ['Accept', '*/*']]),
      expect: forwarded([
        ['Accept', '*/*'],
        ['TE', 'trailers'],
      ]),
    },
    {
      name: 'never lets Connection remove Host or the forwarding fields',
      request: client([H, ['Connection', 'host, x-forwarded-for'], ['X-Forwarded-For', '1.2.3.4']]),
      expect: [
        ['Host', '127.0.0.1:8080'],
        ['X-Forwarded-For', '1.2.3.4, 10.0.0.9'],
        ['X-Forwarded-Proto', 'http'],
        ['X-Forwarded-Host', 'public.example'],
      ],
    },
    {
      name: 'drops names with _, Proxy, X-Real-IP, Expect and the X-Forwarded-* the proxy sets',
      request: client([
        H,
        ['Transfer_Encoding', 'chunked'],
        ['X_Forwarded_For', '6.6.6.6'],
        ['Proxy', 'http://evil'],
        ['X-Real-IP', '6.6.6.6'],
        ['Expect', '100-continue'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'evil'],
        ['X-Forwarded-Prefix', '/evil'],
        ['X-Forwarded-Port', '1'],
        ['Accept', '*/*'],
      ]),
      expect: forwarded([['Accept', '*/*']]),
    },
    {
      name: 'drops Upgrade and HTTP2-Settings (h2c) off a WebSocket route',
      request: client([H, ['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAA']]),
      expect: forwarded([]),
    },
    {
      name: 'keeps a WebSocket Upgrade on a WebSocket route, never HTTP2-Settings',
      request: client([
        H,
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        ['HTTP2-Settings', 'AAA'],
        ['Sec-WebSocket-Key', 'k'],
      ]),
      websocket: true,
      expect: forwarded([
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Key', 'k'],
        ['Connection', 'Upgrade'],
      ]),
    },
    {
      name: 'appends the peer to every X-Forwarded-For, joined in order',
      request: client([H, ['X-Forwarded-For', '1.1.1.1'], ['x-forwarded-for', '2.2.2.2']]),
      expect: [
        ['Host', '127.0.0.1:8080'],
        ['X-Forwarded-For', '1.1.1.1, 2.2.2.2, 10.0.0.9'],
        ['X-Forwarded-Proto', 'http'],
        ['X-Forwarded-Host', 'public.example'],
      ],
    },
    {
      name: 'with xForwarded false, passes X-Forwarded-For on and adds nothing',
      request: client([H, ['X-Forwarded-For', '1.1.1.1']]),
      options: { xForwarded: false },
      expect: [
        ['Host', '127.0.0.1:8080'],
        ['X-Forwarded-For', '1.1.1.1'],
      ],
    },
    {
      name: "with forwardedFor 'client', sends only the client the Site resolved as X-Forwarded-For",
      request: client([H, ['X-Forwarded-For', '6.6.6.6, 1.1.1.1']], { clientIp: '1.1.1.1' }),
      options: { forwardedFor: 'client' },
      expect: [
        ['Host', '127.0.0.1:8080'],
        ['X-Forwarded-For', '1.1.1.1'],
        ['X-Forwarded-Proto', 'http'],
        ['X-Forwarded-Host', 'public.example'],
      ],
    },
    {
      name: "with forwardedFor 'client' and no client address, sends no X-Forwarded-For at all",
      request: client([H, ['X-Forwarded-For', '6.6.6.6']], { clientIp: null, peerIp: null }),
      options: { forwardedFor: 'client' },
      expect: [
        ['Host', '127.0.0.1:8080'],
        ['X-Forwarded-Proto', 'http'],
        ['X-Forwarded-Host', 'public.example'],
      ],
    },
    {
      name: 'says https and adds no X-Forwarded-For without a peer address (Unix socket)',
      request: client([H], { secure: true, peerIp: null }),
      expect: [
        ['Host', '127.0.0.1:8080'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'public.example'],
      ],
    },
    {
      name: 'adds X-Forwarded-Prefix with the encoded mount when the base path is /',
      request: client([H], { prepath: ['my app', 'v1'] }),
      expect: [...forwarded([]), ['X-Forwarded-Prefix', '/my%20app/v1']],
    },
    {
      name: 'adds no X-Forwarded-Prefix below a base path',
      request: client([H], { prepath: ['app'] }),
      options: { basePath: '/base' },
      expect: forwarded([]),
    },
    {
      name: 'adds no X-Forwarded-Prefix when told not to',
      request: client([H], { prepath: ['app'] }),
      options: { forwardedPrefix: false },
      expect: forwarded([]),
    },
    {
      name: 'adds a Forwarded element after the prior ones, an IPv6 node quoted',
      request: client([H, ['Forwarded', 'for=1.1.1.1']], { peerIp: '::1', secure: true }),
      options: { forwarded: true, xForwarded: false },
      expect: [
        ['Host', '127.0.0.1:8080'],
        ['Forwarded', 'for=1.1.1.1'],
        ['Forwarded', 'for=1.1.1.1, for="[::1]";proto=https;host="public.example"'],
      ],
    },
    {
      name: 'says for=unknown in Forwarded without a peer address or Host',
      request: client([], { peerIp: null }),
      options: { forwarded: true, xForwarded: false },
      expect: [
        ['Host', '127.0.0.1:8080'],
        ['Forwarded', 'for=unknown;proto=http'],
      ],
    },
    {
      name: 're-frames a body of known length with one Content-Length',
      request: client([H, ['Content-Length', '5']], { method: 'POST', contentLength: 5, hasBody: true }),
      expect: forwarded([], [['Content-Length', '5']]),
    },
    {
      name: 're-frames a body of unknown length as chunked',
      request: client([H, ['Transfer-Encoding', 'gzip, chunked']], { method: 'POST', hasBody: true }),
      expect: forwarded([], [['Transfer-Encoding', 'chunked']]),
    },
    {
      name: 'never frames a body on a WebSocket route',
      request: client([H, ['Upgrade', 'websocket']], { hasBody: true }),
      websocket: true,
      expect: forwarded([
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
      ]),
    },
  ];
  for (const c of cases) {
    test(`backendRequestFields ${c.name}`, () => {
      const options = { ...DEFAULTS, ...c.options };
      const fields = backendRequestFields(c.request, c.backend ?? BACKEND, options, c.websocket ?? false);
      assert.deepEqual(fields, c.expect);
    });
  }
});

describe('wantsWebSocket', () => {
  const cases: Array<[string, string | undefined, boolean]> = [
    ['GET', 'websocket', true],
    ['GET', 'foo, WebSocket ', true],
    ['GET', 'h2c', false],
    ['GET', undefined, false],
    ['POST', 'websocket', false],
  ];
  for (const [method, upgrade, wanted] of cases) {
    test(`wantsWebSocket(${method}, ${upgrade}) is ${wanted}`, () => {
      assert.equal(wantsWebSocket(method, upgrade), wanted);
    });
  }
});

describe('requestHead', () => {
  test('requestHead writes the request line, the fields and the empty line', () => {
    const head = requestHead('GET', '/x?q', [
      ['Host', 'h'],
      ['A', '1'],
    ]);
    assert.equal(head, 'GET /x?q HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n');
  });
  for (const bad of ['a\r\nInjected: 1', 'a\nb', 'a\0b', 'a\x7fb']) {
    test(`requestHead refuses a value holding ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () =>
          requestHead('GET', '/', [
            ['Host', 'h'],
            ['X', bad],
          ]),
        TypeError,
      );
    });
  }
});

describe('rewriteLocation', () => {
  const backends: Backend[] = [BACKEND, { host: '::1', port: 80 }];
  const publicURL = { mount: 'https://public.example/app', origin: 'https://public.example' };
  const cases: Array<[string, string, string]> = [
    ['http://127.0.0.1:8080/base/x?q#f', 'https://public.example/app/x?q#f', 'a URL below the base path: the mount'],
    ['http://127.0.0.1:8080/base', 'https://public.example/app', 'the base path itself becomes the mount'],
    ['http://127.0.0.1:8080/other', 'https://public.example/other', 'a URL outside the base path: the public origin'],
    ['http://127.0.0.1:8080/basement', 'https://public.example/basement', 'a sibling of the base path is not below it'],
    ['HTTP://127.0.0.1:8080/base/x', 'https://public.example/app/x', 'the scheme in any case'],
    ['http://[::1]/base/y', 'https://public.example/app/y', 'an IPv6 backend on port 80'],
    ['http://127.0.0.1:9090/base/x', 'http://127.0.0.1:9090/base/x', 'another port is not the backend'],
    ['https://127.0.0.1:8080/base/x', 'https://127.0.0.1:8080/base/x', 'https is not the backend'],
    ['http://elsewhere.example/base/x', 'http://elsewhere.example/base/x', 'another host is left alone'],
    ['/base/x', '/base/x', 'a relative reference is left alone'],
    ['not a url', 'not a url', 'a value that is not a URL is left alone'],
  ];
  for (const [value, result, name] of cases) {
    test(`rewriteLocation: ${name}`, () => assert.equal(rewriteLocation(value, backends, '/base', publicURL), result));
  }
  test('rewriteLocation reads the public URL only for a backend URL', () => {
    const lazy = {
      get mount(): string {
        throw new Error('read');
      },
      get origin(): string {
        throw new Error('read');
      },
    };
    assert.equal(rewriteLocation('http://elsewhere.example/x', backends, '/base', lazy), 'http://elsewhere.example/x');
  });
});

describe('clientResponseFields', () => {
  const upper = (v: string) => v.toUpperCase();
  interface Case {
    name: string;
    flat: string[];
    location?: ((v: string) => string) | null;
    expect: string[];
    date?: boolean;
    server?: boolean;
  }
  const ordinary = ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'];
  const cases: Case[] = [
    { name: 'passes ordinary fields in order, duplicates kept', flat: ordinary, expect: ordinary },
    {
      name: 'drops hop-by-hop fields',
      flat: [
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Transfer-Encoding',
        'chunked',
        'Trailer',
        'x',
        'Upgrade',
        'h2c',
        'Proxy-Authenticate',
        'Basic',
        'TE',
        'trailers',
        'X-A',
        '1',
      ],
      expect: ['X-A', '1'],
    },
    {
      name: 'drops the fields Connection names, never Content-Length',
      flat: ['Connection', 'X-Internal, Content-Length', 'X-Internal', 'secret', 'Content-Length', '2'],
      expect: ['Content-Length', '2'],
    },
    {
      name: 'says the backend sent Date and Server, and passes each',
      flat: ['Date', 'd', 'Server', 's', 'date', 'd2'],
      expect: ['Date', 'd', 'Server', 's', 'date', 'd2'],
      date: true,
      server: true,
    },
    {
      name: 'maps Location and Content-Location',
      flat: ['Location', 'http://x/', 'Content-Location', 'http://y/'],
      location: upper,
      expect: ['Location', 'HTTP://X/', 'Content-Location', 'HTTP://Y/'],
    },
    {
      name: 'leaves Location as sent when not rewriting',
      flat: ['Location', 'http://x/'],
      location: null,
      expect: ['Location', 'http://x/'],
    },
    {
      name: 'drops a rewritten Location holding a control character',
      flat: ['Location', 'a', 'X', '1'],
      location: () => 'a\r\nSet-Cookie: x',
      expect: ['X', '1'],
    },
  ];
  for (const c of cases) {
    test(`clientResponseFields ${c.name}`, () => {
      const connectionNames = c.flat.some((n, i) => i % 2 === 0 && n.toLowerCase() === 'connection');
      const out = clientResponseFields(c.flat, connectionNames, c.location === undefined ? upper : c.location);
      assert.deepEqual(out, { fields: c.expect, date: c.date ?? false, server: c.server ?? false });
    });
  }
});
