// Property: whatever bytes a client sends on a live HTTP/1.1 connection and then half-closes, the
// channel answers only with well-formed responses (never a 500), closes the connection, and goes on
// serving everyone else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request } from '../../../src/request.js';
import { Resource } from '../../../src/resource.js';
import { Site } from '../../../src/site.js';
import { parseResponses, RawConnection } from '../../helpers/raw-http.js';
import { serveSite } from '../../helpers/server.js';

class Echo extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    return `hello ${request.uri}`;
  }
  override async POST(request: Request) {
    return `${(await request.readBody()).length}`;
  }
}

/** A valid pipelined conversation the generators cut and corrupt: a GET, a chunked POST, a HEAD, a sized POST. */
const VALID = Buffer.from(
  'GET /a?x=1 HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n' +
    'POST /b HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n' +
    'HEAD /c HTTP/1.1\r\nHost: example.test\r\n\r\n' +
    'POST /d HTTP/1.0\r\nHost: example.test\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc',
  'latin1',
);
const METHODS = ['GET', 'POST', 'HEAD', 'POST'];
/** Status and body of each answer to VALID. */
const ANSWERS = [
  [200, 'hello /a?x=1'],
  [200, '5'],
  [200, ''],
  [200, '3'],
];
/** Statuses a request can earn here; anything else (a 500 above all) fails the property. */
const EXPECTED = new Set([200, 400, 404, 405, 413, 414, 417, 431, 501, 505]);

test('property: cut, corrupted and random requests get well-formed answers, the connection closes, the server serves on', async (t) => {
  const { default: fc } = await import('fast-check');
  const root = new Resource();
  root.putChild('a', new Echo());
  root.putChild('b', new Echo());
  root.putChild('c', new Echo());
  root.putChild('d', new Echo());
  const server = await serveSite(new Site(root));
  t.after(() => server.close());

  const inputs = fc.oneof(
    fc.nat({ max: VALID.length }).map((n) => VALID.subarray(0, n)),
    fc.tuple(fc.nat({ max: VALID.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
      const copy = Buffer.from(VALID);
      copy[at] = byte;
      return copy;
    }),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc
      .array(
        fc.constantFrom(
          'GET',
          ' ',
          '/',
          'HTTP/1.1',
          'HTTP/1.0',
          '\r\n',
          '\n',
          'Host: h',
          'Content-Length: 2',
          'Transfer-Encoding: chunked',
          ':',
          '0',
          'ff',
          'x',
        ),
        { maxLength: 30 },
      )
      .map((parts) => Buffer.from(parts.join(''), 'latin1')),
  );

  await fc.assert(
    fc.asyncProperty(inputs, async (bytes) => {
      const conn = await RawConnection.open(server.port!);
      try {
        await conn.write(bytes).catch(() => {});
        conn.end();
        const transcript = await conn.readUntilClose({ timeoutMs: 3000 });
        // Which answer is the HEAD one depends on how the corruption split the requests (a refusal of
        // a request starting `HEAD ` carries no content either): the transcript must read whole as
        // the answers to the intact methods, or to requests none of which was HEAD.
        let responses;
        try {
          responses = parseResponses(transcript, { methods: METHODS });
        } catch {
          responses = parseResponses(transcript);
        }
        for (const response of responses)
          assert.ok(
            EXPECTED.has(response.status),
            `unexpected ${response.status} for ${JSON.stringify(bytes.toString('latin1'))}`,
          );
      } finally {
        conn.destroy();
      }
    }),
    { numRuns: 150 },
  );

  const conn = await RawConnection.open(server.port!);
  try {
    await conn.write(VALID);
    conn.end();
    const responses = parseResponses(await conn.readUntilClose(), { methods: METHODS });
    assert.deepEqual(
      responses.map((r) => [r.status, r.text]),
      ANSWERS,
    );
  } finally {
    conn.destroy();
  }
});

test('property: the same pipelined conversation split anywhere into separate writes gets the same answers', async (t) => {
  const { default: fc } = await import('fast-check');
  const root = new Resource();
  for (const name of ['a', 'b', 'c', 'd']) root.putChild(name, new Echo());
  const server = await serveSite(new Site(root));
  t.after(() => server.close());

  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: VALID.length - 1 }), { maxLength: 8 }), async (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), VALID.length];
      const conn = await RawConnection.open(server.port!);
      try {
        for (let i = 0; i + 1 < points.length; i++) {
          await conn.write(VALID.subarray(points[i], points[i + 1]));
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        // The last request is HTTP/1.0 with keep-alive: the connection stays open, so read four answers.
        const answers = [];
        for (const method of METHODS) answers.push(await conn.readResponse({ head: method === 'HEAD' }));
        assert.deepEqual(
          answers.map((r) => [r.status, r.text]),
          ANSWERS,
        );
      } finally {
        conn.destroy();
      }
    }),
    { numRuns: 40 },
  );
});
