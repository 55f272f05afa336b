import { strict as assert } from 'node:assert';
import { createServer as createHttp, type Server } from 'node:http';
import { connect, createServer as createTcp, type AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { ForwardProxyResource, type ForwardProxyPolicy } from '../../src/proxy/forward-proxy.js';
import { Site } from '../../src/site.js';
import { listenLoopback, serveSite } from '../helpers/server.js';

async function origin(): Promise<{ port: number; close(): Promise<void>; server: Server }> {
  const server = createHttp((req, res) => {
    res.setHeader('Connection', 'X-Hop');
    res.setHeader('X-Hop', 'h');
    res.end(
      `origin saw ${req.method} ${req.url} host=${req.headers.host} pc=${req.headers['proxy-connection'] ?? '-'}`,
    );
  });
  return listenLoopback(server);
}

/** Sends raw bytes to the proxy and collects what comes back until `until` matches or the socket ends. */
async function raw(
  port: number,
  text: string,
  until: RegExp,
  then?: (s: ReturnType<typeof connect>) => void,
): Promise<string> {
  const sock = connect(port, '127.0.0.1');
  let got = '';
  return new Promise((resolve) => {
    let sent = false;
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (then && !sent && /\r\n\r\n/.test(got)) {
        sent = true;
        then(sock);
      }
      if (until.test(got)) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('close', () => resolve(got));
    sock.write(text);
  });
}

async function withProxy(policy: ForwardProxyPolicy, fn: (port: number) => Promise<void>) {
  const proxy = new ForwardProxyResource(policy);
  const s = await serveSite(new Site(proxy, { logError: () => {} }));
  try {
    await fn(s.port!);
  } finally {
    proxy.close();
    await s.close();
  }
}

describe('ForwardProxyResource', () => {
  test('fetches an absolute-form request from an allowed destination, stripping hop-by-hop fields', async () => {
    const o = await origin();
    try {
      await withProxy({ allowPorts: [o.port], allowDestinations: ['127.0.0.1'] }, async (port) => {
        const got = await raw(
          port,
          `GET http://127.0.0.1:${o.port}/a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nProxy-Connection: keep-alive\r\nConnection: close\r\n\r\n`,
          /origin saw.*$/,
        );
        assert.match(got, /^HTTP\/1.1 200/);
        assert.match(got, new RegExp(`origin saw GET /a\\?b=1 host=127.0.0.1:${o.port} pc=-`));
        assert.doesNotMatch(got, /X-Hop/i);
      });
    } finally {
      await o.close();
    }
  });

  test('by default refuses loopback and private destinations, after resolving the name', async () => {
    const o = await origin();
    try {
      await withProxy({ allowPorts: [o.port] }, async (port) => {
        for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
          const got = await raw(
            port,
            `GET http://${host}:${o.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
            /<\/html>/,
          );
          assert.match(got, /^HTTP\/1.1 403/, host);
        }
      });
      const rebinding: ForwardProxyPolicy = {
        allowPorts: [80],
        lookup: async () => [
          { address: '93.184.216.34', family: 4 },
          { address: '10.0.0.5', family: 4 },
        ],
      };
      await withProxy(rebinding, async (port) => {
        const got = await raw(
          port,
          'GET http://rebind.test/ HTTP/1.1\r\nHost: rebind.test\r\nConnection: close\r\n\r\n',
          /<\/html>/,
        );
        assert.match(got, /^HTTP\/1.1 403/);
      });
    } finally {
      await o.close();
    }
  });

  test('connects to the exact address it resolved and checked', async () => {
    const o = await origin();
    try {
      const policy: ForwardProxyPolicy = {
        allowPorts: [o.port],
        allowDestinations: ['127.0.0.1'],
        lookup: async () => [{ address: '127.0.0.1', family: 4 }],
      };
      await withProxy(policy, async (port) => {
        const got = await raw(
          port,
          `GET http://backend.test:${o.port}/x HTTP/1.1\r\nHost: backend.test:${o.port}\r\nConnection: close\r\n\r\n`,
          /origin saw.*$/,
        );
        assert.match(got, new RegExp(`origin saw GET /x host=backend.test:${o.port}`));
      });
    } finally {
      await o.close();
    }
  });

  test('refuses clients outside allowClients, other ports, and origin-form requests', async () => {
    await withProxy({ allowClients: ['192.0.2.0/24'] }, async (port) => {
      assert.match(
        await raw(
          port,
          'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
          /<\/html>/,
        ),
        /^HTTP\/1.1 403/,
      );
    });
    await withProxy({}, async (port) => {
      assert.match(
        await raw(
          port,
          'GET http://example.com:8080/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n',
          /<\/html>/,
        ),
        /^HTTP\/1.1 403/,
      );
      assert.match(
        await raw(port, 'GET /local HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n', /<\/html>/),
        /^HTTP\/1.1 400/,
      );
    });
  });

  test('CONNECT opens a tunnel to an allowed destination and refuses other ports and private addresses', async () => {
    const echo = createTcp((s) => s.on('data', (d) => s.write(Buffer.concat([Buffer.from('echo:'), d]))));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as AddressInfo).port;
    try {
      await withProxy({ connectPorts: [echoPort], allowDestinations: ['127.0.0.1'] }, async (port) => {
        const got = await raw(
          port,
          `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\n`,
          /echo:hello/,
          (s) => s.write('hello'),
        );
        assert.match(got, /^HTTP\/1.1 200 Connection Established\r\n\r\necho:hello/);
      });
      await withProxy({ connectPorts: [echoPort] }, async (port) => {
        assert.match(
          await raw(port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: x\r\n\r\n`, /<\/html>/),
          /^HTTP\/1.1 403/,
        );
      });
      await withProxy({ allowDestinations: ['127.0.0.1'] }, async (port) => {
        assert.match(
          await raw(port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: x\r\n\r\n`, /<\/html>/),
          /^HTTP\/1.1 403/,
        );
      });
    } finally {
      await new Promise((r) => echo.close(r));
    }
  });

  test('CONNECT reaches the resource tree: any other resource answers 405 instead of a dropped socket', async () => {
    const { Resource } = await import('../../src/resource.js');
    const s = await serveSite(new Site(new Resource()));
    try {
      assert.match(
        await raw(s.port!, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', /<\/html>/),
        /^HTTP\/1.1 405/,
      );
    } finally {
      await s.close();
    }
  });

  test('reads origin answers with the backend parser: a malformed framing is a 502, as behind the reverse proxy', async () => {
    // Raw origins: each answers one fixed response to whatever it is asked.
    const answers = [
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\x7fb\r\n\r\nok',
    ];
    for (const answer of answers) {
      const server = createTcp((sock) => {
        sock.once('data', () => sock.end(Buffer.from(answer, 'latin1')));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const originPort = (server.address() as AddressInfo).port;
      try {
        await withProxy({ allowPorts: [originPort], allowDestinations: ['127.0.0.1'] }, async (port) => {
          const got = await raw(
            port,
            `GET http://127.0.0.1:${originPort}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
            /\r\n\r\n[\s\S]*$/,
          );
          assert.match(got, /^HTTP\/1.1 502/, JSON.stringify(answer));
        });
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });
});
