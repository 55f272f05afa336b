// Trellis's own restatement of the request cases of llhttp's test/request/*.md (llhttp 9.4.2, the
// parser inside Node): for each case the bytes sent and what llhttp in strict mode makes of them,
// as data. Cases that only exercise parser callbacks (pausing) or lenient flags are kept for their
// bytes, with the strict outcome. `from` names the llhttp file and line the bytes come from.
import type { StreamOutcome } from './stream-parse.js';

/** One request stream and its expected outcome. */
export interface CorpusCase {
  /** The llhttp file (under test/request/) and line of the input. */
  from: string;
  /** The bytes, as latin1. */
  input: string;
  /**
   * The input with `Host: h` added after each HTTP/1.1 request line, when it had none: Trellis refuses
   * such requests (RFC 9112 §3.2), so the parse is compared on this form, and `input` must be refused.
   */
  hostAdded?: string;
  /** llhttp strict mode's outcome (on `hostAdded` when present, with that Host field first). */
  llhttp: StreamOutcome;
  /** Where Trellis deliberately differs: its outcome, and why. */
  trellis?: { outcome: StreamOutcome; why: string };
}

/** The reasons Trellis parts from llhttp strict, each a rule of its own. */
export const WHY = {
  upgrade:
    'An Upgrade request is handed over at the end of its head: the bytes after it belong to the new protocol, so no body is read as HTTP (llhttp reads a Content-Length body first).',
  method:
    'Methods are extensible tokens (RFC 9110 §9.1): the head parser takes any token, and a resource without that method answers 405 or 501. The framing is the same.',
  pri: '`PRI * HTTP/1.1` is no HTTP/2 preface (that is `PRI * HTTP/2.0`, refused with 505); it parses as an extension method, and the `SM` line after it is refused.',
  protocol: 'Only HTTP/1.0 and HTTP/1.1 are served: RTSP and ICE request lines are refused (stricter).',
  hostSyntax: 'A Host value that is not host[:port] is refused (SECURITY.md §6.3; stricter).',
  http09: 'A request line without a version (HTTP/0.9) is refused (stricter).',
  trailers: 'Trailer fields are read and dropped, never merged into the header fields.',
  codings: 'Transfer-Encoding other than exactly one `chunked` is refused (SECURITY.md §3.1; stricter).',
} as const;

export const LLHTTP_REQUEST_CASES: CorpusCase[] = [
  {
    from: 'connection:9',
    input: 'PUT /url HTTP/1.1\r\nConnection: keep-alive\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'keep-alive'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'connection:37',
    input: 'PUT /url HTTP/1.1\r\nConnection: keep-alive\r\n\r\nPUT /url HTTP/1.1\r\nConnection: keep-alive\r\n\r\n',
    hostAdded:
      'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\nPUT /url HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'keep-alive'],
          ],
          body: '',
        },
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'keep-alive'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'connection:84',
    input: 'PUT /url HTTP/1.0\r\n\r\nPUT /url HTTP/1.1\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.0\r\n\r\nPUT /url HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: { end: 'closed', messages: [{ method: 'PUT', url: '/url', version: '1.0', headers: [], body: '' }] },
  },
  {
    from: 'connection:113',
    input: 'PUT /url HTTP/1.0\r\nContent-Length: 0\r\n\r\nPUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n',
    hostAdded:
      'PUT /url HTTP/1.0\r\nContent-Length: 0\r\n\r\nPUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n',
    llhttp: {
      end: 'closed',
      messages: [{ method: 'PUT', url: '/url', version: '1.0', headers: [['Content-Length', '0']], body: '' }],
    },
  },
  {
    from: 'connection:159',
    input:
      'POST / HTTP/1.1\r\nHost: www.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\n\r\nq=42\r\n\r\nGET / HTTP/1.1',
    llhttp: {
      end: 'partial',
      messages: [
        {
          method: 'POST',
          url: '/',
          version: '1.1',
          headers: [
            ['Host', 'www.example.com'],
            ['Content-Type', 'application/x-www-form-urlencoded'],
            ['Content-Length', '4'],
          ],
          body: 'q=42',
        },
      ],
    },
  },
  {
    from: 'connection:211',
    input: 'PUT /url HTTP/1.1\r\nConnection: keep\ralive\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: keep\ralive\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'connection:239',
    input: 'PUT /url HTTP/1.1\r\nConnection: close\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'close'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'connection:267',
    input: 'PUT /url HTTP/1.1\r\nConnection: close\t\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: close\t\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'close'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'connection:297',
    input:
      'POST / HTTP/1.1\r\nHost: www.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\nConnection: close\r\n\r\nq=42\r\n\r\nGET / HTTP/1.1',
    llhttp: {
      end: 'closed',
      messages: [
        {
          method: 'POST',
          url: '/',
          version: '1.1',
          headers: [
            ['Host', 'www.example.com'],
            ['Content-Type', 'application/x-www-form-urlencoded'],
            ['Content-Length', '4'],
            ['Connection', 'close'],
          ],
          body: 'q=42',
        },
      ],
    },
  },
  {
    from: 'connection:347',
    input:
      'POST / HTTP/1.1\r\nHost: www.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\nConnection: close\t\r\n\r\nq=42\r\n\r\nGET / HTTP/1.1',
    llhttp: {
      end: 'closed',
      messages: [
        {
          method: 'POST',
          url: '/',
          version: '1.1',
          headers: [
            ['Host', 'www.example.com'],
            ['Content-Type', 'application/x-www-form-urlencoded'],
            ['Content-Length', '4'],
            ['Connection', 'close'],
          ],
          body: 'q=42',
        },
      ],
    },
  },
  {
    from: 'connection:456',
    input: 'PUT /url HTTP/1.1\r\nConnection: close, token, upgrade, token, keep-alive\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: close, token, upgrade, token, keep-alive\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'close, token, upgrade, token, keep-alive'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'connection:484',
    input:
      'GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Something,\r\n Upgrade, ,Keep-Alive\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\nHot diggity dogg',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'connection:545',
    input: 'GET /demo HTTP/1.1\r\nConnection: keep-alive, upgrade\r\nUpgrade: WebSocket\r\n\r\nHot diggity dogg',
    hostAdded:
      'GET /demo HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, upgrade\r\nUpgrade: WebSocket\r\n\r\nHot diggity dogg',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'GET',
          url: '/demo',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'keep-alive, upgrade'],
            ['Upgrade', 'WebSocket'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'connection:579',
    input: 'GET /demo HTTP/1.1\r\nConnection: keep-alive, \r\n upgrade\r\nUpgrade: WebSocket\r\n\r\nHot diggity dogg',
    hostAdded:
      'GET /demo HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, \r\n upgrade\r\nUpgrade: WebSocket\r\n\r\nHot diggity dogg',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'connection:614',
    input: 'PUT /url HTTP/1.1\r\nConnection : upgrade\r\nContent-Length: 4\r\nUpgrade: ws\r\n\r\nabcdefgh',
    hostAdded:
      'PUT /url HTTP/1.1\r\nHost: h\r\nConnection : upgrade\r\nContent-Length: 4\r\nUpgrade: ws\r\n\r\nabcdefgh',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'connection:682',
    input: 'PUT /url HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\n',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'upgrade'],
            ['Upgrade', 'ws'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'connection:716',
    input: 'PUT /url HTTP/1.1\r\nConnection: upgrade\r\nContent-Length: 4\r\nUpgrade: ws\r\n\r\nabcdefgh',
    hostAdded:
      'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nContent-Length: 4\r\nUpgrade: ws\r\n\r\nabcdefgh',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Connection', 'upgrade'],
            ['Content-Length', '4'],
            ['Upgrade', 'ws'],
          ],
          body: 'abcd',
        },
      ],
    },
    trellis: {
      outcome: {
        end: 'upgrade',
        messages: [
          {
            method: 'PUT',
            url: '/url',
            version: '1.1',
            headers: [
              ['Host', 'h'],
              ['Connection', 'upgrade'],
              ['Content-Length', '4'],
              ['Upgrade', 'ws'],
            ],
            body: '',
          },
        ],
      },
      why: WHY.upgrade,
    },
  },
  {
    from: 'connection:756',
    input:
      'GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\nHot diggity dogg',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'GET',
          url: '/demo',
          version: '1.1',
          headers: [
            ['Host', 'example.com'],
            ['Connection', 'Upgrade'],
            ['Sec-WebSocket-Key2', '12998 5 Y3 1  .P00'],
            ['Sec-WebSocket-Protocol', 'sample'],
            ['Upgrade', 'WebSocket'],
            ['Sec-WebSocket-Key1', '4 @1  46546xW%0l 1 5'],
            ['Origin', 'http://example.com'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'connection:815',
    input:
      'POST /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: HTTP/2.0\r\nContent-Length: 15\r\n\r\nsweet post bodyHot diggity dogg',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'POST',
          url: '/demo',
          version: '1.1',
          headers: [
            ['Host', 'example.com'],
            ['Connection', 'Upgrade'],
            ['Upgrade', 'HTTP/2.0'],
            ['Content-Length', '15'],
          ],
          body: 'sweet post body',
        },
      ],
    },
    trellis: {
      outcome: {
        end: 'upgrade',
        messages: [
          {
            method: 'POST',
            url: '/demo',
            version: '1.1',
            headers: [
              ['Host', 'example.com'],
              ['Connection', 'Upgrade'],
              ['Upgrade', 'HTTP/2.0'],
              ['Content-Length', '15'],
            ],
            body: '',
          },
        ],
      },
      why: WHY.upgrade,
    },
  },
  {
    from: 'content-length:7',
    input: 'PUT /url HTTP/1.1\r\nContent-Length: 003\r\n\r\nabc',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nContent-Length: 003\r\n\r\nabc',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Content-Length', '003'],
          ],
          body: 'abc',
        },
      ],
    },
  },
  {
    from: 'content-length:44',
    input: 'PUT /url HTTP/1.1\r\nContent-Length: 003\r\nOhai: world\r\n\r\nabc',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nContent-Length: 003\r\nOhai: world\r\n\r\nabc',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Content-Length', '003'],
            ['Ohai', 'world'],
          ],
          body: 'abc',
        },
      ],
    },
  },
  {
    from: 'content-length:78',
    input: 'PUT /url HTTP/1.1\r\nContent-Length: 1000000000000000000000\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000000000000000\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'content-length:103',
    input: 'PUT /url HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'content-length:132',
    input: 'PUT /url HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: identity\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: identity\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'content-length:162',
    input: 'PUT /url HTTP/1.1\r\nConnection: upgrade\r\nContent-Length : 4\r\nUpgrade: ws\r\n\r\nabcdefgh',
    hostAdded:
      'PUT /url HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nContent-Length : 4\r\nUpgrade: ws\r\n\r\nabcdefgh',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'content-length:264',
    input: 'GET /get_funky_content_length_body_hello HTTP/1.0\r\nconTENT-Length: 5\r\n\r\nHELLO',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/get_funky_content_length_body_hello',
          version: '1.0',
          headers: [['conTENT-Length', '5']],
          body: 'HELLO',
        },
      ],
    },
  },
  {
    from: 'content-length:293',
    input: 'POST / HTTP/1.1\r\nContent-Length:  42 \r\n\r\n',
    hostAdded: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  42 \r\n\r\n',
    llhttp: { end: 'partial', messages: [] },
  },
  {
    from: 'content-length:320',
    input: 'POST / HTTP/1.1\r\nContent-Length:\t42\t  \r\n\r\n',
    hostAdded: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\t42\t  \r\n\r\n',
    llhttp: { end: 'partial', messages: [] },
  },
  {
    from: 'content-length:347',
    input: 'POST / HTTP/1.1\r\nContent-Length: 4 2\r\n\r\n',
    hostAdded: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4 2\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'content-length:373',
    input: 'POST / HTTP/1.1\r\nContent-Length: 13 37\r\n\r\n',
    hostAdded: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 13 37\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'content-length:399',
    input: 'POST / HTTP/1.1\r\nContent-Length:\r\n\r\n',
    hostAdded: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'content-length:424',
    input: 'PUT /url HTTP/1.1\r\nContent\rLength: 003\r\n\r\nabc',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nContent\rLength: 003\r\n\r\nabc',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'content-length:447',
    input: 'PUT /url HTTP/1.1\r\nContent-Length: 123\r\n\r\nPOST /url HTTP/1.1\r\nContent-Length: 456\r\n\r\n',
    hostAdded:
      'PUT /url HTTP/1.1\r\nHost: h\r\nContent-Length: 123\r\n\r\nPOST /url HTTP/1.1\r\nHost: h\r\nContent-Length: 456\r\n\r\n',
    llhttp: { end: 'partial', messages: [] },
  },
  {
    from: 'content-length:496',
    input: 'PUT /url HTTP/1.1\r\nContent-Length: 3\r\n\rabc',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\rabc',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'finish:9',
    input: 'GET / HTTP/1.1\r\n\r\n',
    hostAdded: 'GET / HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [{ method: 'GET', url: '/', version: '1.1', headers: [['Host', 'h']], body: '' }],
    },
  },
  {
    from: 'finish:33',
    input: 'PUT / HTTP/1.1\r\nContent-Length: 100\r\n',
    hostAdded: 'PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n',
    llhttp: { end: 'partial', messages: [] },
  },
  {
    from: 'finish:58',
    input: 'PUT / HTTP/1.1\r\nContent-Leng',
    hostAdded: 'PUT / HTTP/1.1\r\nHost: h\r\nContent-Leng',
    llhttp: { end: 'partial', messages: [] },
  },
  {
    from: 'invalid:7',
    input: 'GET /music/sweet/music ICE/1.0\r\nHost: example.com\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:28',
    input: 'GET /music/sweet/music IHTTP/1.0\r\nHost: example.com\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:48',
    input: 'PUT /music/sweet/music RTSP/1.0\r\nHost: example.com\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:69',
    input: 'ANNOUNCE /music/sweet/music HTTP/1.0\r\nHost: example.com\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
    trellis: {
      outcome: {
        end: 'none',
        messages: [
          {
            method: 'ANNOUNCE',
            url: '/music/sweet/music',
            version: '1.0',
            headers: [['Host', 'example.com']],
            body: '',
          },
        ],
      },
      why: WHY.method,
    },
  },
  {
    from: 'invalid:90',
    input: 'GET / HTTP/1.1\r\nFoo: 1\rBar: 2\r\n\r\n',
    hostAdded: 'GET / HTTP/1.1\r\nHost: h\r\nFoo: 1\rBar: 2\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:116',
    input: 'POST / HTTP/1.1\r\nHost: localhost:5000\r\nx:x\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:150',
    input: 'GET / HTTP/1.1\r\nConnection: close\r\nHost: a\r\n\rZGET /evil: HTTP/1.1\r\nHost: a\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:219',
    input:
      'POST / HTTP/1.1\r\nConnection: Close\r\nHost: localhost:5000\r\nx:\rTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:257',
    input: 'POST / HTTP/1.1\r\nHost: localhost:5000\r\nx:\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:290',
    input: 'GET / HTTP/1.1\r\nFo@: Failure\r\n\r\n',
    hostAdded: 'GET / HTTP/1.1\r\nHost: h\r\nFo@: Failure\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:313',
    input: 'GET / HTTP/1.1\r\nFoo\x01\test: Bar\r\n\r\n',
    hostAdded: 'GET / HTTP/1.1\r\nHost: h\r\nFoo\x01\test: Bar\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:336',
    input: 'GET / HTTP/1.1\r\n: Bar\r\n\r\n',
    hostAdded: 'GET / HTTP/1.1\r\nHost: h\r\n: Bar\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:359',
    input: 'MKCOLA / HTTP/1.1\r\n\r\n',
    hostAdded: 'MKCOLA / HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
    trellis: {
      outcome: {
        end: 'none',
        messages: [{ method: 'MKCOLA', url: '/', version: '1.1', headers: [['Host', 'h']], body: '' }],
      },
      why: WHY.method,
    },
  },
  {
    from: 'invalid:375',
    input: 'GET / HTTP/1.1\r\nname\r\n : value\r\n\r\n',
    hostAdded: 'GET / HTTP/1.1\r\nHost: h\r\nname\r\n : value\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:399',
    input:
      'GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection\r\x1b5\xc3\x95eep-Alive\r\nAccept-Encoding: gzip\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:428',
    input:
      'GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Some-Header\r\x1b5\xc3\x95eep-Alive\r\nAccept-Encoding: gzip\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:458',
    input:
      'GET / HTTP/1.1\r\nHost: localhost\r\nDummy: x\nContent-Length: 23\r\n\r\nGET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:493',
    input: 'GET / HTTP/5.6',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:512',
    input: 'GET / HTTP/1.1\r\n Host: foo',
    hostAdded: 'GET / HTTP/1.1\r\nHost: h\r\n Host: foo',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:534',
    input:
      'POST / HTTP/1.1\nTransfer-Encoding: chunked\nTrailer: Baz\r\nFoo: abc\nBar: def\n\n1\nA\n1;abc\nB\n1;def=ghi\nC\n1;jkl="mno"\nD\n0\n\nBaz: ghi\n\n\\',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:571',
    input:
      'POST / HTTP/1.1\nTransfer-Encoding: chunked\nTrailer: Baz\r\nFoo: abc\nBar: def\n\n1\nA\n1;abc\nB\n1;def=ghi\nC\n1;jkl="mno"\nD\n0\n\nBaz: ghi\n\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'invalid:654',
    input:
      'POST /hello HTTP/1.1\r\nHost: localhost\r\nFoo: bar\r\n Content-Length: 38\r\n\r\nGET /bye HTTP/1.1\r\nHost: localhost\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'lenient-header-value-relaxed:43',
    input: 'GET /url HTTP/1.1\r\nHeader1: hello\x0cworld\r\n\r\n',
    hostAdded: 'GET /url HTTP/1.1\r\nHost: h\r\nHeader1: hello\x0cworld\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'lenient-header-value-relaxed:106',
    input: 'POST / HTTP/1.1\r\nHost: localhost:5000\r\nx:\rTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'lenient-header-value-relaxed:141',
    input: 'GET /url HTTP/1.1\r\n Header1: value\r\n',
    hostAdded: 'GET /url HTTP/1.1\r\nHost: h\r\n Header1: value\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'lenient-headers:9',
    input: 'GET /url HTTP/1.1\r\nHeader1: \x0c\r\n\r\n',
    hostAdded: 'GET /url HTTP/1.1\r\nHost: h\r\nHeader1: \x0c\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'lenient-headers:37',
    input: 'GET /url HTTP/1.1\r\nHeader1: Okay\r\n\r\n\r\nGET /url HTTP/1.1\r\nHeader1: \x0c\r\n\r\n',
    hostAdded:
      'GET /url HTTP/1.1\r\nHost: h\r\nHeader1: Okay\r\n\r\n\r\nGET /url HTTP/1.1\r\nHost: h\r\nHeader1: \x0c\r\n\r\n',
    llhttp: {
      end: 'refused',
      messages: [
        {
          method: 'GET',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Header1', 'Okay'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'lenient-headers:85',
    input: 'GET /url HTTP/1.1\r\nHeader1: \x0c\r\n\r\n\r\n',
    hostAdded: 'GET /url HTTP/1.1\r\nHost: h\r\nHeader1: \x0c\r\n\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'lenient-version:7',
    input: 'GET / HTTP/5.6\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'method:7',
    input: 'REPORT /test HTTP/1.1\r\n\r\n',
    hostAdded: 'REPORT /test HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [{ method: 'REPORT', url: '/test', version: '1.1', headers: [['Host', 'h']], body: '' }],
    },
  },
  {
    from: 'method:30',
    input:
      'CONNECT 0-home0.netscape.com:443 HTTP/1.0\r\nUser-agent: Mozilla/1.1N\r\nProxy-authorization: basic aGVsbG86d29ybGQ=\r\n\r\nsome data\r\nand yet even more data',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'CONNECT',
          url: '0-home0.netscape.com:443',
          version: '1.0',
          headers: [
            ['User-agent', 'Mozilla/1.1N'],
            ['Proxy-authorization', 'basic aGVsbG86d29ybGQ='],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'method:65',
    input:
      'CONNECT HOME0.NETSCAPE.COM:443 HTTP/1.0\r\nUser-agent: Mozilla/1.1N\r\nProxy-authorization: basic aGVsbG86d29ybGQ=\r\n\r\n',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'CONNECT',
          url: 'HOME0.NETSCAPE.COM:443',
          version: '1.0',
          headers: [
            ['User-agent', 'Mozilla/1.1N'],
            ['Proxy-authorization', 'basic aGVsbG86d29ybGQ='],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'method:99',
    input:
      'CONNECT foo.bar.com:443 HTTP/1.0\r\nUser-agent: Mozilla/1.1N\r\nProxy-authorization: basic aGVsbG86d29ybGQ=\r\nContent-Length: 10\r\n\r\nblarfcicle"',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'CONNECT',
          url: 'foo.bar.com:443',
          version: '1.0',
          headers: [
            ['User-agent', 'Mozilla/1.1N'],
            ['Proxy-authorization', 'basic aGVsbG86d29ybGQ='],
            ['Content-Length', '10'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'method:138',
    input: 'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nST: "ssdp:all"\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'M-SEARCH',
          url: '*',
          version: '1.1',
          headers: [
            ['HOST', '239.255.255.250:1900'],
            ['MAN', '"ssdp:discover"'],
            ['ST', '"ssdp:all"'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'method:176',
    input:
      'PATCH /file.txt HTTP/1.1\r\nHost: www.example.com\r\nContent-Type: application/example\r\nIf-Match: "e0023aa4e"\r\nContent-Length: 10\r\n\r\ncccccccccc',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PATCH',
          url: '/file.txt',
          version: '1.1',
          headers: [
            ['Host', 'www.example.com'],
            ['Content-Type', 'application/example'],
            ['If-Match', '"e0023aa4e"'],
            ['Content-Length', '10'],
          ],
          body: 'cccccccccc',
        },
      ],
    },
  },
  {
    from: 'method:220',
    input: 'PURGE /file.txt HTTP/1.1\r\nHost: www.example.com\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        { method: 'PURGE', url: '/file.txt', version: '1.1', headers: [['Host', 'www.example.com']], body: '' },
      ],
    },
  },
  {
    from: 'method:248',
    input: 'SEARCH / HTTP/1.1\r\nHost: www.example.com\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [{ method: 'SEARCH', url: '/', version: '1.1', headers: [['Host', 'www.example.com']], body: '' }],
    },
  },
  {
    from: 'method:276',
    input:
      'LINK /images/my_dog.jpg HTTP/1.1\r\nHost: example.com\r\nLink: <http://example.com/profiles/joe>; rel="tag"\r\nLink: <http://example.com/profiles/sally>; rel="tag"\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'LINK',
          url: '/images/my_dog.jpg',
          version: '1.1',
          headers: [
            ['Host', 'example.com'],
            ['Link', '<http://example.com/profiles/joe>; rel="tag"'],
            ['Link', '<http://example.com/profiles/sally>; rel="tag"'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'method:314',
    input:
      'UNLINK /images/my_dog.jpg HTTP/1.1\r\nHost: example.com\r\nLink: <http://example.com/profiles/sally>; rel="tag"\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'UNLINK',
          url: '/images/my_dog.jpg',
          version: '1.1',
          headers: [
            ['Host', 'example.com'],
            ['Link', '<http://example.com/profiles/sally>; rel="tag"'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'method:347',
    input: 'SOURCE /music/sweet/music HTTP/1.1\r\nHost: example.com\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        { method: 'SOURCE', url: '/music/sweet/music', version: '1.1', headers: [['Host', 'example.com']], body: '' },
      ],
    },
  },
  {
    from: 'method:375',
    input: 'SOURCE /music/sweet/music ICE/1.0\r\nHost: example.com\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        { method: 'SOURCE', url: '/music/sweet/music', version: '1.0', headers: [['Host', 'example.com']], body: '' },
      ],
    },
    trellis: { outcome: { end: 'refused', messages: [] }, why: WHY.protocol },
  },
  {
    from: 'method:405',
    input: 'OPTIONS /music/sweet/music RTSP/1.0\r\nHost: example.com\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        { method: 'OPTIONS', url: '/music/sweet/music', version: '1.0', headers: [['Host', 'example.com']], body: '' },
      ],
    },
    trellis: { outcome: { end: 'refused', messages: [] }, why: WHY.protocol },
  },
  {
    from: 'method:433',
    input: 'ANNOUNCE /music/sweet/music RTSP/1.0\r\nHost: example.com\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        { method: 'ANNOUNCE', url: '/music/sweet/music', version: '1.0', headers: [['Host', 'example.com']], body: '' },
      ],
    },
    trellis: { outcome: { end: 'refused', messages: [] }, why: WHY.protocol },
  },
  {
    from: 'method:461',
    input: 'PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n',
    hostAdded: 'PRI * HTTP/1.1\r\nHost: h\r\n\r\nSM\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
    trellis: {
      outcome: {
        end: 'refused',
        messages: [{ method: 'PRI', url: '*', version: '1.1', headers: [['Host', 'h']], body: '' }],
      },
      why: WHY.pri,
    },
  },
  {
    from: 'method:485',
    input:
      'QUERY /contacts HTTP/1.1\r\nHost: example.org\r\nContent-Type: example/query\r\nAccept: text/csv\r\nContent-Length: 41\r\n\r\nselect surname, givenname, email limit 10',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'QUERY',
          url: '/contacts',
          version: '1.1',
          headers: [
            ['Host', 'example.org'],
            ['Content-Type', 'example/query'],
            ['Accept', 'text/csv'],
            ['Content-Length', '41'],
          ],
          body: 'select surname, givenname, email limit 10',
        },
      ],
    },
  },
  {
    from: 'pausing:7',
    input: 'POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc',
    hostAdded: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'POST',
          url: '/',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Content-Length', '3'],
          ],
          body: 'abc',
        },
      ],
    },
  },
  {
    from: 'pausing:277',
    input: 'PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n',
    hostAdded: 'PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Transfer-Encoding', 'chunked'],
          ],
          body: '0123456789',
        },
      ],
    },
  },
  {
    from: 'pausing:316',
    input: 'PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\na;foo=bar\r\n0123456789\r\n0\r\n\r\n',
    hostAdded: 'PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\na;foo=bar\r\n0123456789\r\n0\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Transfer-Encoding', 'chunked'],
          ],
          body: '0123456789',
        },
      ],
    },
  },
  {
    from: 'pipelining:7',
    input:
      'POST /aaa HTTP/1.1\r\nContent-Length: 3\r\n\r\nAAA\r\nPUT /bbb HTTP/1.1\r\nContent-Length: 4\r\n\r\nBBBB\r\nPATCH /ccc HTTP/1.1\r\nContent-Length: 5\r\n\r\nCCCC',
    hostAdded:
      'POST /aaa HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nAAA\r\nPUT /bbb HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nBBBB\r\nPATCH /ccc HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nCCCC',
    llhttp: {
      end: 'partial',
      messages: [
        {
          method: 'POST',
          url: '/aaa',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Content-Length', '3'],
          ],
          body: 'AAA',
        },
        {
          method: 'PUT',
          url: '/bbb',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Content-Length', '4'],
          ],
          body: 'BBBB',
        },
      ],
    },
  },
  {
    from: 'sample:9',
    input: 'OPTIONS /url HTTP/1.1\r\nHeader1: Value1\r\nHeader2:\t Value2\r\n\r\n',
    hostAdded: 'OPTIONS /url HTTP/1.1\r\nHost: h\r\nHeader1: Value1\r\nHeader2:\t Value2\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'OPTIONS',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Header1', 'Value1'],
            ['Header2', 'Value2'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'sample:47',
    input: 'HEAD /url HTTP/1.1\r\n\r\n',
    hostAdded: 'HEAD /url HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [{ method: 'HEAD', url: '/url', version: '1.1', headers: [['Host', 'h']], body: '' }],
    },
  },
  {
    from: 'sample:70',
    input:
      'GET /test HTTP/1.1\r\nUser-Agent: curl/7.18.0 (i486-pc-linux-gnu) libcurl/7.18.0 OpenSSL/0.9.8g zlib/1.2.3.3 libidn/1.1\r\nHost: 0.0.0.0=5000\r\nAccept: */*\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/test',
          version: '1.1',
          headers: [
            ['User-Agent', 'curl/7.18.0 (i486-pc-linux-gnu) libcurl/7.18.0 OpenSSL/0.9.8g zlib/1.2.3.3 libidn/1.1'],
            ['Host', '0.0.0.0=5000'],
            ['Accept', '*/*'],
          ],
          body: '',
        },
      ],
    },
    trellis: { outcome: { end: 'refused', messages: [] }, why: WHY.hostSyntax },
  },
  {
    from: 'sample:108',
    input:
      'GET /favicon.ico HTTP/1.1\r\nHost: 0.0.0.0=5000\r\nUser-Agent: Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9) Gecko/2008061015 Firefox/3.0\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-us,en;q=0.5\r\nAccept-Encoding: gzip,deflate\r\nAccept-Charset: ISO-8859-1,utf-8;q=0.7,*;q=0.7\r\nKeep-Alive: 300\r\nConnection: keep-alive\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/favicon.ico',
          version: '1.1',
          headers: [
            ['Host', '0.0.0.0=5000'],
            ['User-Agent', 'Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9) Gecko/2008061015 Firefox/3.0'],
            ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
            ['Accept-Language', 'en-us,en;q=0.5'],
            ['Accept-Encoding', 'gzip,deflate'],
            ['Accept-Charset', 'ISO-8859-1,utf-8;q=0.7,*;q=0.7'],
            ['Keep-Alive', '300'],
            ['Connection', 'keep-alive'],
          ],
          body: '',
        },
      ],
    },
    trellis: { outcome: { end: 'refused', messages: [] }, why: WHY.hostSyntax },
  },
  {
    from: 'sample:171',
    input: 'GET /dumbpack HTTP/1.1\r\naaaaaaaaaaaaa:++++++++++\r\n\r\n',
    hostAdded: 'GET /dumbpack HTTP/1.1\r\nHost: h\r\naaaaaaaaaaaaa:++++++++++\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/dumbpack',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['aaaaaaaaaaaaa', '++++++++++'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'sample:199',
    input: 'GET /get_no_headers_no_body/world HTTP/1.1\r\n\r\n',
    hostAdded: 'GET /get_no_headers_no_body/world HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        { method: 'GET', url: '/get_no_headers_no_body/world', version: '1.1', headers: [['Host', 'h']], body: '' },
      ],
    },
  },
  {
    from: 'sample:222',
    input: 'GET /get_one_header_no_body HTTP/1.1\r\nAccept: */*\r\n\r\n',
    hostAdded: 'GET /get_one_header_no_body HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/get_one_header_no_body',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Accept', '*/*'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'sample:253',
    input: 'GET /test HTTP/1.0\r\nHost: 0.0.0.0:5000\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/test',
          version: '1.0',
          headers: [
            ['Host', '0.0.0.0:5000'],
            ['User-Agent', 'ApacheBench/2.3'],
            ['Accept', '*/*'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'sample:294',
    input: '\r\nGET /test HTTP/1.1\r\n\r\n',
    hostAdded: '\r\nGET /test HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [{ method: 'GET', url: '/test', version: '1.1', headers: [['Host', 'h']], body: '' }],
    },
  },
  {
    from: 'sample:317',
    input: 'GET /\r\n\r\n',
    llhttp: { end: 'none', messages: [{ method: 'GET', url: '/', version: '', headers: [], body: '' }] },
    trellis: { outcome: { end: 'refused', messages: [] }, why: WHY.http09 },
  },
  {
    from: 'sample:336',
    input:
      'GET / HTTP/1.1\r\nLine1:   abc\r\n\tdef\r\n ghi\r\n\t\tjkl\r\n  mno \r\n\t \tqrs\r\nLine2: \t line2\t\r\nLine3:\r\n line3\r\nLine4: \r\n \r\nConnection:\r\n close\r\n\r\n',
    hostAdded:
      'GET / HTTP/1.1\r\nHost: h\r\nLine1:   abc\r\n\tdef\r\n ghi\r\n\t\tjkl\r\n  mno \r\n\t \tqrs\r\nLine2: \t line2\t\r\nLine3:\r\n line3\r\nLine4: \r\n \r\nConnection:\r\n close\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'sample:398',
    input:
      'GET / HTTP/1.1\r\nLine1:   abc\n\tdef\n ghi\n\t\tjkl\n  mno \n\t \tqrs\nLine2: \t line2\t\nLine3:\n line3\nLine4: \n \nConnection:\n close\n\n',
    hostAdded:
      'GET / HTTP/1.1\r\nHost: h\r\nLine1:   abc\n\tdef\n ghi\n\t\tjkl\n  mno \n\t \tqrs\nLine2: \t line2\t\nLine3:\n line3\nLine4: \n \nConnection:\n close\n\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'sample:436',
    input: 'GET / HTTP/1.1\rLine: 1\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'sample:481',
    input: '\r\nGET /url HTTP/1.1\r\nHeader1: Value1\r\n\r\n',
    hostAdded: '\r\nGET /url HTTP/1.1\r\nHost: h\r\nHeader1: Value1\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Header1', 'Value1'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'sample:511',
    input: 'GET / HTTP/1.1\r\nTest: D\xc3\xbcsseldorf\r\n\r\n',
    hostAdded: 'GET / HTTP/1.1\r\nHost: h\r\nTest: D\xc3\xbcsseldorf\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Test', 'D\xc3\xbcsseldorf'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'sample:541',
    input: 'OPTIONS /url HTTP/1.1\r\nHeader1: Value1\r\nHeader2: \xc3\xbfValue2\r\n\r\n',
    hostAdded: 'OPTIONS /url HTTP/1.1\r\nHost: h\r\nHeader1: Value1\r\nHeader2: \xc3\xbfValue2\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'OPTIONS',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Header1', 'Value1'],
            ['Header2', '\xc3\xbfValue2'],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'sample:576',
    input:
      'GET / HTTP/1.1\r\nX-SSL-Nonsense:   -----BEGIN CERTIFICATE-----\r\n\tMIIFbTCCBFWgAwIBAgICH4cwDQYJKoZIhvcNAQEFBQAwcDELMAkGA1UEBhMCVUsx\r\n\tETAPBgNVBAoTCGVTY2llbmNlMRIwEAYDVQQLEwlBdXRob3JpdHkxCzAJBgNVBAMT\r\n\tAkNBMS0wKwYJKoZIhvcNAQkBFh5jYS1vcGVyYXRvckBncmlkLXN1cHBvcnQuYWMu\r\n\tdWswHhcNMDYwNzI3MTQxMzI4WhcNMDcwNzI3MTQxMzI4WjBbMQswCQYDVQQGEwJV\r\n\tSzERMA8GA1UEChMIZVNjaWVuY2UxEzARBgNVBAsTCk1hbmNoZXN0ZXIxCzAJBgNV\r\n\tBAcTmrsogriqMWLAk1DMRcwFQYDVQQDEw5taWNoYWVsIHBhcmQYJKoZIhvcNAQEB\r\n\tBQADggEPADCCAQoCggEBANPEQBgl1IaKdSS1TbhF3hEXSl72G9J+WC/1R64fAcEF\r\n\tW51rEyFYiIeZGx/BVzwXbeBoNUK41OK65sxGuflMo5gLflbwJtHBRIEKAfVVp3YR\r\n\tgW7cMA/s/XKgL1GEC7rQw8lIZT8RApukCGqOVHSi/F1SiFlPDxuDfmdiNzL31+sL\r\n\t0iwHDdNkGjy5pyBSB8Y79dsSJtCW/iaLB0/n8Sj7HgvvZJ7x0fr+RQjYOUUfrePP\r\n\tu2MSpFyf+9BbC/aXgaZuiCvSR+8Snv3xApQY+fULK/xY8h8Ua51iXoQ5jrgu2SqR\r\n\twgA7BUi3G8LFzMBl8FRCDYGUDy7M6QaHXx1ZWIPWNKsCAwEAAaOCAiQwggIgMAwG\r\n\tA1UdEwEB/wQCMAAwEQYJYIZIAYb4QgHTTPAQDAgWgMA4GA1UdDwEB/wQEAwID6DAs\r\n\tBglghkgBhvhCAQ0EHxYdVUsgZS1TY2llbmNlIFVzZXIgQ2VydGlmaWNhdGUwHQYD\r\n\tVR0OBBYEFDTt/sf9PeMaZDHkUIldrDYMNTBZMIGaBgNVHSMEgZIwgY+AFAI4qxGj\r\n\tloCLDdMVKwiljjDastqooXSkcjBwMQswCQYDVQQGEwJVSzERMA8GA1UEChMIZVNj\r\n\taWVuY2UxEjAQBgNVBAsTCUF1dGhvcml0eTELMAkGA1UEAxMCQ0ExLTArBgkqhkiG\r\n\t9w0BCQEWHmNhLW9wZXJhdG9yQGdyaWQtc3VwcG9ydC5hYy51a4IBADApBgNVHRIE\r\n\tIjAggR5jYS1vcGVyYXRvckBncmlkLXN1cHBvcnQuYWMudWswGQYDVR0gBBIwEDAO\r\n\tBgwrBgEEAdkvAQEBAQYwPQYJYIZIAYb4QgEEBDAWLmh0dHA6Ly9jYS5ncmlkLXN1\r\n\tcHBvcnQuYWMudmT4sopwqlBWsvcHViL2NybC9jYWNybC5jcmwwPQYJYIZIAYb4QgEDBDAWLmh0\r\n\tdHA6Ly9jYS5ncmlkLXN1cHBvcnQuYWMudWsvcHViL2NybC9jYWNybC5jcmwwPwYD\r\n\tVR0fBDgwNjA0oDKgMIYuaHR0cDovL2NhLmdyaWQt5hYy51ay9wdWIv\r\n\tY3JsL2NhY3JsLmNybDANBgkqhkiG9w0BAQUFAAOCAQEAS/U4iiooBENGW/Hwmmd3\r\n\tXCy6Zrt08YjKCzGNjorT98g8uGsqYjSxv/hmi0qlnlHs+k/3Iobc3LjS5AMYr5L8\r\n\tUO7OSkgFFlLHQyC9JzPfmLCAugvzEbyv4Olnsr8hbxF1MbKZoQxUZtMVu29wjfXk\r\n\thTeApBv7eaKCWpSp7MCbvgzm74izKhu3vlDk9w6qVrxePfGgpKPqfHiOoGhFnbTK\r\n\twTC6o2xq5y0qZ03JonF7OJspEd3I5zKY3E+ov7/ZhW6DqT8UFvsAdjvQbXyhV8Eu\r\n\tYhixw1aKEPzNjNowuIseVogKOLXxWI5vAi5HgXdS0/ES5gDGsABo4fqovUKlgop3\r\n\tRA==\r\n\t-----END CERTIFICATE-----\r\n\r\n',
    hostAdded:
      'GET / HTTP/1.1\r\nHost: h\r\nX-SSL-Nonsense:   -----BEGIN CERTIFICATE-----\r\n\tMIIFbTCCBFWgAwIBAgICH4cwDQYJKoZIhvcNAQEFBQAwcDELMAkGA1UEBhMCVUsx\r\n\tETAPBgNVBAoTCGVTY2llbmNlMRIwEAYDVQQLEwlBdXRob3JpdHkxCzAJBgNVBAMT\r\n\tAkNBMS0wKwYJKoZIhvcNAQkBFh5jYS1vcGVyYXRvckBncmlkLXN1cHBvcnQuYWMu\r\n\tdWswHhcNMDYwNzI3MTQxMzI4WhcNMDcwNzI3MTQxMzI4WjBbMQswCQYDVQQGEwJV\r\n\tSzERMA8GA1UEChMIZVNjaWVuY2UxEzARBgNVBAsTCk1hbmNoZXN0ZXIxCzAJBgNV\r\n\tBAcTmrsogriqMWLAk1DMRcwFQYDVQQDEw5taWNoYWVsIHBhcmQYJKoZIhvcNAQEB\r\n\tBQADggEPADCCAQoCggEBANPEQBgl1IaKdSS1TbhF3hEXSl72G9J+WC/1R64fAcEF\r\n\tW51rEyFYiIeZGx/BVzwXbeBoNUK41OK65sxGuflMo5gLflbwJtHBRIEKAfVVp3YR\r\n\tgW7cMA/s/XKgL1GEC7rQw8lIZT8RApukCGqOVHSi/F1SiFlPDxuDfmdiNzL31+sL\r\n\t0iwHDdNkGjy5pyBSB8Y79dsSJtCW/iaLB0/n8Sj7HgvvZJ7x0fr+RQjYOUUfrePP\r\n\tu2MSpFyf+9BbC/aXgaZuiCvSR+8Snv3xApQY+fULK/xY8h8Ua51iXoQ5jrgu2SqR\r\n\twgA7BUi3G8LFzMBl8FRCDYGUDy7M6QaHXx1ZWIPWNKsCAwEAAaOCAiQwggIgMAwG\r\n\tA1UdEwEB/wQCMAAwEQYJYIZIAYb4QgHTTPAQDAgWgMA4GA1UdDwEB/wQEAwID6DAs\r\n\tBglghkgBhvhCAQ0EHxYdVUsgZS1TY2llbmNlIFVzZXIgQ2VydGlmaWNhdGUwHQYD\r\n\tVR0OBBYEFDTt/sf9PeMaZDHkUIldrDYMNTBZMIGaBgNVHSMEgZIwgY+AFAI4qxGj\r\n\tloCLDdMVKwiljjDastqooXSkcjBwMQswCQYDVQQGEwJVSzERMA8GA1UEChMIZVNj\r\n\taWVuY2UxEjAQBgNVBAsTCUF1dGhvcml0eTELMAkGA1UEAxMCQ0ExLTArBgkqhkiG\r\n\t9w0BCQEWHmNhLW9wZXJhdG9yQGdyaWQtc3VwcG9ydC5hYy51a4IBADApBgNVHRIE\r\n\tIjAggR5jYS1vcGVyYXRvckBncmlkLXN1cHBvcnQuYWMudWswGQYDVR0gBBIwEDAO\r\n\tBgwrBgEEAdkvAQEBAQYwPQYJYIZIAYb4QgEEBDAWLmh0dHA6Ly9jYS5ncmlkLXN1\r\n\tcHBvcnQuYWMudmT4sopwqlBWsvcHViL2NybC9jYWNybC5jcmwwPQYJYIZIAYb4QgEDBDAWLmh0\r\n\tdHA6Ly9jYS5ncmlkLXN1cHBvcnQuYWMudWsvcHViL2NybC9jYWNybC5jcmwwPwYD\r\n\tVR0fBDgwNjA0oDKgMIYuaHR0cDovL2NhLmdyaWQt5hYy51ay9wdWIv\r\n\tY3JsL2NhY3JsLmNybDANBgkqhkiG9w0BAQUFAAOCAQEAS/U4iiooBENGW/Hwmmd3\r\n\tXCy6Zrt08YjKCzGNjorT98g8uGsqYjSxv/hmi0qlnlHs+k/3Iobc3LjS5AMYr5L8\r\n\tUO7OSkgFFlLHQyC9JzPfmLCAugvzEbyv4Olnsr8hbxF1MbKZoQxUZtMVu29wjfXk\r\n\thTeApBv7eaKCWpSp7MCbvgzm74izKhu3vlDk9w6qVrxePfGgpKPqfHiOoGhFnbTK\r\n\twTC6o2xq5y0qZ03JonF7OJspEd3I5zKY3E+ov7/ZhW6DqT8UFvsAdjvQbXyhV8Eu\r\n\tYhixw1aKEPzNjNowuIseVogKOLXxWI5vAi5HgXdS0/ES5gDGsABo4fqovUKlgop3\r\n\tRA==\r\n\t-----END CERTIFICATE-----\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:9',
    input: 'PUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n',
    llhttp: { end: 'partial', messages: [] },
  },
  {
    from: 'transfer-encoding:36',
    input: 'PUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Transfer-Encoding', 'chunked'],
          ],
          body: '0123456789',
        },
      ],
    },
  },
  {
    from: 'transfer-encoding:73',
    input: 'PUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'PUT',
          url: '/url',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Transfer-Encoding', 'chunked'],
          ],
          body: '0123456789',
        },
      ],
    },
  },
  {
    from: 'transfer-encoding:110',
    input:
      'POST /post_chunked_all_your_base HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1e\r\nall your base are belong to us\r\n0\r\n\r\n',
    hostAdded:
      'POST /post_chunked_all_your_base HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1e\r\nall your base are belong to us\r\n0\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'POST',
          url: '/post_chunked_all_your_base',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Transfer-Encoding', 'chunked'],
          ],
          body: 'all your base are belong to us',
        },
      ],
    },
  },
  {
    from: 'transfer-encoding:147',
    input:
      'POST /two_chunks_mult_zero_end HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n000\r\n\r\n',
    hostAdded:
      'POST /two_chunks_mult_zero_end HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n000\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'POST',
          url: '/two_chunks_mult_zero_end',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Transfer-Encoding', 'chunked'],
          ],
          body: 'hello world',
        },
      ],
    },
  },
  {
    from: 'transfer-encoding:189',
    input:
      'POST /chunked_w_trailing_headers HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nVary: *\r\nContent-Type: text/plain\r\n\r\n',
    hostAdded:
      'POST /chunked_w_trailing_headers HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nVary: *\r\nContent-Type: text/plain\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'POST',
          url: '/chunked_w_trailing_headers',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Transfer-Encoding', 'chunked'],
            ['Vary', '*'],
            ['Content-Type', 'text/plain'],
          ],
          body: 'hello world',
        },
      ],
    },
    trellis: {
      outcome: {
        end: 'none',
        messages: [
          {
            method: 'POST',
            url: '/chunked_w_trailing_headers',
            version: '1.1',
            headers: [
              ['Host', 'h'],
              ['Transfer-Encoding', 'chunked'],
            ],
            body: 'hello world',
          },
        ],
      },
      why: WHY.trailers,
    },
  },
  {
    from: 'transfer-encoding:241',
    input:
      'POST /chunked_w_unicorns_after_length HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ilovew3;somuchlove=aretheseparametersfor;another=withvalue\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n',
    hostAdded:
      'POST /chunked_w_unicorns_after_length HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ilovew3;somuchlove=aretheseparametersfor;another=withvalue\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n',
    llhttp: { end: 'partial', messages: [] },
  },
  {
    from: 'transfer-encoding:294',
    input:
      'POST /chunked_w_unicorns_after_length HTTP/1.1\r\nHost: localhost\r\nTransfer-encoding: chunked\r\n\r\n2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:331',
    input:
      'POST /chunked_w_unicorns_after_length HTTP/1.1\r\nHost: localhost\r\nTransfer-encoding: chunked\r\n\r\n2;\r\naa\r\n0\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:369',
    input:
      'POST /chunked_w_unicorns_after_length HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ilovew3="I \\"love\\"; \\\\extensions\\\\";somuchlove="aretheseparametersfor";blah;foo=bar\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n',
    hostAdded:
      'POST /chunked_w_unicorns_after_length HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ilovew3="I \\"love\\"; \\\\extensions\\\\";somuchlove="aretheseparametersfor";blah;foo=bar\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n',
    llhttp: { end: 'partial', messages: [] },
  },
  {
    from: 'transfer-encoding:427',
    input:
      'POST /chunked_w_unicorns_after_length HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ilovew3="abc";somuchlove="def; ghi\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n',
    hostAdded:
      'POST /chunked_w_unicorns_after_length HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ilovew3="abc";somuchlove="def; ghi\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:470',
    input: 'PUT /url HTTP/1.1\r\nTransfer-Encoding: pigeons\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: pigeons\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:498',
    input:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nAccept: */*\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nWorld',
    hostAdded:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nWorld',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:539',
    input:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nAccept: */*\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nWorld',
    hostAdded:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nWorld',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:577',
    input:
      'POST / HTTP/1.1\r\nHost: foo\r\nContent-Length: 10\r\nTransfer-Encoding:\r\nTransfer-Encoding:\r\nTransfer-Encoding:\r\n\r\n2\r\nAA\r\n0',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:616',
    input:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nAccept: */*\r\nTransfer-Encoding: chunked, deflate\r\n\r\nWorld',
    hostAdded:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nTransfer-Encoding: chunked, deflate\r\n\r\nWorld',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:647',
    input:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: deflate\r\n\r\nWorld',
    hostAdded:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: deflate\r\n\r\nWorld',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:754',
    input:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nAccept: */*\r\nTransfer-Encoding: deflate, chunked\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
    hostAdded:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nTransfer-Encoding: deflate, chunked\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'POST',
          url: '/post_identity_body_world?q=search#hey',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Accept', '*/*'],
            ['Transfer-Encoding', 'deflate, chunked'],
          ],
          body: 'World',
        },
      ],
    },
    trellis: { outcome: { end: 'refused', messages: [] }, why: WHY.codings },
  },
  {
    from: 'transfer-encoding:796',
    input:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nAccept: */*\r\nTransfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
    hostAdded:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nTransfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'POST',
          url: '/post_identity_body_world?q=search#hey',
          version: '1.1',
          headers: [
            ['Host', 'h'],
            ['Accept', '*/*'],
            ['Transfer-Encoding', 'deflate'],
            ['Transfer-Encoding', 'chunked'],
          ],
          body: 'World',
        },
      ],
    },
    trellis: { outcome: { end: 'refused', messages: [] }, why: WHY.codings },
  },
  {
    from: 'transfer-encoding:843',
    input:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nAccept: */*\r\nTransfer-Encoding: chunkedchunked\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
    hostAdded:
      'POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nTransfer-Encoding: chunkedchunked\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:880',
    input: 'PUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nfoo\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nfoo\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:914',
    input: 'PUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 \n  \r\nfoo\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3 \n  \r\nfoo\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:945',
    input: 'PUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n  abc\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n  abc\r\n\r\n5\r\nWorld\r\n0\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:980',
    input:
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: close \r\nTransfer-Encoding: chunked \r\n\r\n5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\nGET / HTTP/1.1 \r\nHost: a\r\nContent-Length: 5\r\n\r\n0\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:1029',
    input:
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: close \r\nTransfer-Encoding: chunked \r\n\r\n6\r\r;ABCD\r\n33\r\nE\r\n0\r\n\r\nGET / HTTP/1.1 \r\nHost: a\r\nContent-Length: 5\r\n0\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:1101',
    input: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close \r\nTransfer-Encoding: chunked \r\n\r\n5\r\nABCDE0\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'transfer-encoding:1187',
    input: 'PUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\na \r\n0123456789\r\n0\r\n\r\n',
    hostAdded: 'PUT /url HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\na \r\n0123456789\r\n0\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'uri:7',
    input: 'GET /with_"lovely"_quotes?foo=\\"bar\\" HTTP/1.1\r\n\r\n',
    hostAdded: 'GET /with_"lovely"_quotes?foo=\\"bar\\" HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/with_"lovely"_quotes?foo=\\"bar\\"',
          version: '1.1',
          headers: [['Host', 'h']],
          body: '',
        },
      ],
    },
  },
  {
    from: 'uri:32',
    input: 'GET /test.cgi?foo=bar?baz HTTP/1.1\r\n\r\n',
    hostAdded: 'GET /test.cgi?foo=bar?baz HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [{ method: 'GET', url: '/test.cgi?foo=bar?baz', version: '1.1', headers: [['Host', 'h']], body: '' }],
    },
  },
  {
    from: 'uri:55',
    input: 'GET http://hypnotoad.org?hail=all HTTP/1.1\r\n\r\n\r\n',
    hostAdded: 'GET http://hypnotoad.org?hail=all HTTP/1.1\r\nHost: h\r\n\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        { method: 'GET', url: 'http://hypnotoad.org?hail=all', version: '1.1', headers: [['Host', 'h']], body: '' },
      ],
    },
  },
  {
    from: 'uri:78',
    input: 'GET http://hypnotoad.org:1234?hail=all HTTP/1.1\r\n\r\n',
    hostAdded: 'GET http://hypnotoad.org:1234?hail=all HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: 'http://hypnotoad.org:1234?hail=all',
          version: '1.1',
          headers: [['Host', 'h']],
          body: '',
        },
      ],
    },
  },
  {
    from: 'uri:105',
    input: 'GET /test.cgi?query=| HTTP/1.1\r\n\r\n',
    hostAdded: 'GET /test.cgi?query=| HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [{ method: 'GET', url: '/test.cgi?query=|', version: '1.1', headers: [['Host', 'h']], body: '' }],
    },
  },
  {
    from: 'uri:128',
    input: 'GET http://hypnotoad.org:1234 HTTP/1.1\r\n\r\n',
    hostAdded: 'GET http://hypnotoad.org:1234 HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        { method: 'GET', url: 'http://hypnotoad.org:1234', version: '1.1', headers: [['Host', 'h']], body: '' },
      ],
    },
  },
  {
    from: 'uri:151',
    input: 'GET /\xce\xb4\xc2\xb6/\xce\xb4t/pope?q=1#narf HTTP/1.1\r\nHost: github.com\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
  {
    from: 'uri:168',
    input: 'GET /forums/1/topics/2375?page=1#posts-17408 HTTP/1.1\r\n\r\n',
    hostAdded: 'GET /forums/1/topics/2375?page=1#posts-17408 HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: '/forums/1/topics/2375?page=1#posts-17408',
          version: '1.1',
          headers: [['Host', 'h']],
          body: '',
        },
      ],
    },
  },
  {
    from: 'uri:191',
    input:
      'CONNECT home_0.netscape.com:443 HTTP/1.0\r\nUser-agent: Mozilla/1.1N\r\nProxy-authorization: basic aGVsbG86d29ybGQ=\r\n\r\n',
    llhttp: {
      end: 'upgrade',
      messages: [
        {
          method: 'CONNECT',
          url: 'home_0.netscape.com:443',
          version: '1.0',
          headers: [
            ['User-agent', 'Mozilla/1.1N'],
            ['Proxy-authorization', 'basic aGVsbG86d29ybGQ='],
          ],
          body: '',
        },
      ],
    },
  },
  {
    from: 'uri:225',
    input: 'GET http://a%12:b!&*$@hypnotoad.org:1234/toto HTTP/1.1\r\n\r\n',
    hostAdded: 'GET http://a%12:b!&*$@hypnotoad.org:1234/toto HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: {
      end: 'none',
      messages: [
        {
          method: 'GET',
          url: 'http://a%12:b!&*$@hypnotoad.org:1234/toto',
          version: '1.1',
          headers: [['Host', 'h']],
          body: '',
        },
      ],
    },
  },
  {
    from: 'uri:248',
    input: 'GET /foo bar/ HTTP/1.1\r\n\r\n',
    hostAdded: 'GET /foo bar/ HTTP/1.1\r\nHost: h\r\n\r\n',
    llhttp: { end: 'refused', messages: [] },
  },
];
