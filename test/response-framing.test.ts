// Framing headers set by resource code (Content-Length, Transfer-Encoding) over every real channel:
// an invalid one is a 500 before the head is sent and never reaches the wire; a valid one still frames.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as h2connect, constants as h2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { listenHttp } from '../src/channels/http.js';
import { listenFastCgi } from '../src/channels/fastcgi/server.js';
import type { Listener } from '../src/channels/listen.js';
import { encodeScgiHeader } from '../src/channels/scgi/netstring.js';
import { listenScgi } from '../src/channels/scgi/server.js';
import { NOT_DONE_YET, type Request } from '../src/request.js';
import { Resource } from '../src/resource.js';
import { Site } from '../src/site.js';
import { cgiParams, FcgiClient } from './helpers/fastcgi-client.js';
import { needPeer } from './helpers/peers.js';
import { rawHttp } from './helpers/raw-http.js';
import { tempDir } from './helpers/server.js';
import { makeCertificate } from './helpers/tls.js';

const BODY = 'x'.repeat(16);

/** What each case sets before streaming BODY with write() and finish(). */
const CASES: Record<string, (request: Request) => void> = {
  hex: (r) => r.setHeader('Content-Length', '0x10'),
  word: (r) => r.setHeader('Content-Length', 'abc'),
  negative: (r) => r.setHeader('Content-Length', '-16'),
  exponent: (r) => r.setHeader('Content-Length', '1.6e1'),
  spaced: (r) => r.setHeader('Content-Length', ' 16'),
  empty: (r) => r.setHeader('Content-Length', ''),
  huge: (r) => r.setHeader('Content-Length', '9'.repeat(30)),
  list: (r) => r.setHeader('Content-Length', '16, 16'),
  array: (r) => r.setHeader('Content-Length', ['16', '16']),
  added: (r) => {
    r.setHeader('Content-Length', '16');
    r.addHeader('Content-Length', '16');
  },
  te: (r) => r.setHeader('Transfer-Encoding', 'chunked'),
  'te-added': (r) => r.addHeader('transfer-encoding', 'gzip, chunked'),
};

/** Markers of a bad framing header that must never be seen in a response head. */
const BAD_ON_WIRE = new RegExp(
  ['0x10', 'abc', '-16', '1\\.6e1', '9{30}', '16, 16', 'transfer-encoding', 'content-length[^]*content-length'].join(
    '|',
  ),
  'i',
);

function framingSite(): Site {
  const root = new Resource();
  const leaf = new Resource();
  leaf.isLeaf = true;
  (leaf as unknown as { GET(r: Request): unknown }).GET = (request: Request) => {
    const name = request.arg('case') ?? '';
    if (name === 'valid') request.setHeader('Content-Length', 16);
    else CASES[name]!(request);
    request.write(BODY);
    request.finish();
    return NOT_DONE_YET;
  };
  root.putChild('framing', leaf);
  return new Site(root, { logError: () => {} });
}

/** The response head and body of one exchange, as raw text, per channel. */
type Ask = (name: string) => Promise<{ status: number; head: string; body: string }>;

function splitHead(text: string): { head: string; body: string } {
  const end = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, end + 2), body: text.slice(end + 4) };
}

function http1(listener: Listener): Ask {
  return async (name) => {
    const request = `GET /framing?case=${name} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`;
    const text = await rawHttp(listener.port!, request);
    const { head, body } = splitHead(text);
    return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), head, body };
  };
}

function h2ask(port: number, ca: string): Ask {
  return (name) =>
    new Promise((resolve, reject) => {
      const session = h2connect(`https://localhost:${port}`, { ca });
      session.on('error', reject);
      const stream = session.request({ ':path': `/framing?case=${name}` });
      let head = '';
      let body = '';
      let status = 0;
      stream.on('response', (headers) => {
        status = Number(headers[h2.HTTP2_HEADER_STATUS]);
        for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) head += `${k}: ${String(v)}\r\n`;
      });
      stream.setEncoding('latin1');
      stream.on('data', (d: string) => (body += d));
      stream.on('error', (err) => {
        session.destroy();
        reject(err);
      });
      stream.on('end', () => {
        session.close();
        resolve({ status, head, body });
      });
    });
}

function fastcgi(listener: Listener): Ask {
  return async (name) => {
    const client = await FcgiClient.open(listener.port!);
    try {
      client.begin(1, cgiParams('GET', `/framing?case=${name}`), { keepConn: false });
      client.stdin(1);
      const reply = await client.response(1);
      let head = '';
      for (const [k, v] of reply.headers) head += `${k}: ${v}\r\n`;
      return { status: reply.status, head, body: reply.body.toString('latin1') };
    } finally {
      client.close();
    }
  };
}

function scgi(listener: Listener): Ask {
  return (name) =>
    new Promise((resolve, reject) => {
      const socket: Socket = connect(listener.port!, '127.0.0.1');
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (text += d));
      socket.on('error', reject);
      socket.on('close', () => {
        const { head, body } = splitHead(text);
        resolve({ status: Number(/^Status: (\d+)/.exec(head)?.[1] ?? 200), head, body });
      });
      const params = cgiParams('GET', `/framing?case=${name}`);
      socket.write(encodeScgiHeader([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...Object.entries(params)]));
    });
}

async function channels(t: TestContext): Promise<{ asks: Array<[string, Ask]>; close(): Promise<void> } | null> {
  const openssl = needPeer(t, 'openssl');
  if (!openssl) return null;
  const dir = tempDir();
  const tls = makeCertificate(openssl, dir.path);
  const site = framingSite();
  const local = { port: 0, interface: '127.0.0.1' } as const;
  const plain = await listenHttp(site, { type: 'tcp', ...local });
  const secure = await listenHttp(site, { type: 'ssl', ...local, privateKey: tls.key, certKey: tls.cert });
  const fcgi = await listenFastCgi(site, { type: 'tcp', ...local });
  const sc = await listenScgi(site, { type: 'tcp', ...local });
  return {
    asks: [
      ['http/1.1', http1(plain)],
      ['h2', h2ask(secure.port!, readFileSync(tls.cert, 'utf8'))],
      ['fastcgi', fastcgi(fcgi)],
      ['scgi', scgi(sc)],
    ],
    async close() {
      await Promise.all([plain, secure, fcgi, sc].map((l) => l.close(100)));
      dir.cleanup();
    },
  };
}

test('a bad Content-Length or any Transfer-Encoding from resource code is a 500 on every channel', async (t) => {
  const matrix = await channels(t);
  if (!matrix) return;
  try {
    for (const [channel, ask] of matrix.asks) {
      for (const name of Object.keys(CASES)) {
        const reply = await ask(name);
        assert.equal(reply.status, 500, `${channel} ${name}: ${reply.head}`);
        assert.doesNotMatch(reply.head, BAD_ON_WIRE, `${channel} ${name}`);
        assert.ok(!reply.body.includes(BODY), `${channel} ${name}: the resource's body is not sent`);
      }
    }
  } finally {
    await matrix.close();
  }
});

test('a valid Content-Length set by resource code frames the streamed body on every channel', async (t) => {
  const matrix = await channels(t);
  if (!matrix) return;
  try {
    for (const [channel, ask] of matrix.asks) {
      const reply = await ask('valid');
      assert.equal(reply.status, 200, channel);
      assert.match(reply.head, /content-length: 16\r\n/i, channel);
      assert.doesNotMatch(reply.head, /transfer-encoding/i, channel);
      assert.equal(reply.body, BODY, channel);
    }
  } finally {
    await matrix.close();
  }
});
