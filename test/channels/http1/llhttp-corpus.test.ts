// The llhttp request corpus (llhttp-corpus.ts) against Trellis: in memory through the head parser and
// the chunked decoder, and over a real socket to a Trellis server. Every input llhttp strict refuses
// is refused; every input it accepts parses to the same requests, unless a recorded rule says why not.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Request } from '../../../src/request.js';
import { Resource } from '../../../src/resource.js';
import { Site } from '../../../src/site.js';
import { parseResponses, RawConnection } from '../../helpers/raw-http.js';
import { serveSite } from '../../helpers/server.js';
import { LLHTTP_REQUEST_CASES, WHY, type CorpusCase } from './llhttp-corpus.js';
import { parseStream, type ParsedMessage, type StreamOutcome } from './stream-parse.js';

/** Answers every request with what it received, as JSON: method, target, version, fields, body. */
class Echo extends Resource {
  override isLeaf = true;
  override async render(request: Request) {
    let body: Buffer;
    try {
      body = await request.readBody();
    } catch {
      request.setResponseCode(400);
      return 'the body was cut short';
    }
    request.setHeader('Content-Type', 'application/json');
    return JSON.stringify({
      method: request.method,
      url: request.uri,
      version: request.clientproto.slice(5),
      headers: request.requestHeaders.raw,
      body: body.toString('latin1'),
    });
  }
}

/** Sends `bytes`, half-closes, and returns everything the server sent until it closed. */
async function exchange(port: number, bytes: string): Promise<string> {
  const conn = await RawConnection.open(port);
  try {
    await conn.write(bytes).catch(() => {});
    conn.end();
    return await conn.readUntilClose({ timeoutMs: 4000 });
  } finally {
    conn.destroy();
  }
}

function expected(c: CorpusCase): StreamOutcome {
  return c.trellis?.outcome ?? c.llhttp;
}

describe('llhttp request corpus, in memory', () => {
  test('the corpus holds every case once, with a reason for each difference', () => {
    assert.ok(LLHTTP_REQUEST_CASES.length >= 120, `${LLHTTP_REQUEST_CASES.length} cases`);
    assert.equal(new Set(LLHTTP_REQUEST_CASES.map((c) => c.input)).size, LLHTTP_REQUEST_CASES.length);
    for (const c of LLHTTP_REQUEST_CASES) if (c.trellis) assert.ok(Object.values(WHY).includes(c.trellis.why as never));
  });

  for (const c of LLHTTP_REQUEST_CASES) {
    const title = c.llhttp.end === 'refused' ? 'refused as llhttp strict refuses it' : 'parsed as llhttp parses it';
    test(`${c.from}: ${title}`, () => {
      const got = parseStream(Buffer.from(c.hostAdded ?? c.input, 'latin1'));
      const want = expected(c);
      assert.deepEqual({ end: got.end, messages: got.messages }, { end: want.end, messages: want.messages });
      // No newly accepted input: whatever llhttp strict refuses, Trellis refuses at the same request
      // or earlier, except an extension method, which a resource answers 405/501.
      if (c.llhttp.end === 'refused' && c.trellis?.why !== WHY.method && c.trellis?.why !== WHY.pri) {
        assert.equal(got.end, 'refused');
        assert.ok(got.messages.length <= c.llhttp.messages.length);
      }
      if (c.hostAdded) {
        // As sent, no HTTP/1.1 request without Host is accepted; the parse stops at the first one.
        const bare = parseStream(Buffer.from(c.input, 'latin1'));
        assert.ok(
          bare.messages.every((m) => m.version === '1.0'),
          'an HTTP/1.1 request without Host was accepted',
        );
        assert.ok(bare.end === 'refused' || bare.end === 'partial' || bare.end === 'closed', bare.end);
      }
    });
  }
});

describe('llhttp request corpus, over a socket', () => {
  let port = 0;
  let close: () => Promise<void>;
  before(async () => {
    const server = await serveSite(new Site(new Echo(), { logError: () => {} }));
    port = server.port!;
    close = server.close;
  });
  after(() => close());

  for (const c of LLHTTP_REQUEST_CASES) {
    test(`${c.from}: a Trellis server answers exactly the requests the parse found`, async () => {
      const want = expected(c);
      const text = await exchange(port, c.hostAdded ?? c.input);
      const responses = parseResponses(text, { methods: want.messages.map((m) => m.method) });
      // A resource's answer (a 405 for an asterisk target too), as opposed to the channel's refusal.
      const served = responses.filter((r) => r.status < 400 || r.status === 405);
      if (want.end === 'upgrade') {
        // The upgrade request is answered (or refused) alone; nothing after its head is read as HTTP.
        assert.ok(responses.length <= want.messages.length, `${responses.length} responses`);
        return;
      }
      assert.equal(served.length, want.messages.length, `answered: ${responses.map((r) => r.status).join(', ')}`);
      for (const [k, m] of want.messages.entries()) {
        if (served[k]!.status !== 200 || m.method === 'HEAD') continue;
        const seen = JSON.parse(served[k]!.text) as ParsedMessage;
        assert.equal(seen.method, m.method);
        assert.equal(seen.url, m.url);
        assert.equal(seen.version, m.version);
        // Host may be rewritten from an absolute-form target.
        const noHost = (h: Array<[string, string]>) => h.filter(([n]) => n.toLowerCase() !== 'host');
        assert.deepEqual(noHost(seen.headers), noHost(m.headers));
        assert.equal(seen.body, m.body);
      }
      if (want.end === 'refused') {
        assert.equal(responses.length, served.length + 1, 'one refusal after the requests served');
        assert.ok(responses.at(-1)!.status >= 400);
        assert.equal(responses.at(-1)!.header('connection'), 'close');
      } else {
        assert.ok(responses.length - served.length <= 1, 'at most an error for a request cut short');
      }
      if (c.hostAdded) {
        const bare = parseResponses(await exchange(port, c.input), { methods: want.messages.map((m) => m.method) });
        const accepted = parseStream(Buffer.from(c.input, 'latin1')).messages.length;
        assert.equal(bare.filter((r) => r.status < 400 || r.status === 405).length, accepted);
      }
    });
  }
});
