// `npm run fuzz [-- --seconds N] [--out DIR] [--seed S]`: mutation fuzzing of Trellis's byte parsers
// (SECURITY.md §5.2 and §3.1) for a bounded time. Valid seed inputs are mutated (bit flips, byte
// changes, inserts, deletes, splices, length-field tweaks) and fed to each parser; an input that makes
// a parser throw, read past its bounds, or answer differently when split or moved is an escape,
// written to a file. Prints inputs per second per target. Exits 1 when anything escaped.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseRequestHead, type HeadParse } from '../src/channels/http1/request-head.js';
import { ChunkedDecoder } from '../src/http/chunked.js';
import { CGI_HEAD_PARTIAL, isCgiHeadError, parseCgiHead } from '../src/http/cgi-head.js';
import { hasControlChars, isToken } from '../src/http/syntax.js';
import { decodeRecord, encodeRecord, FcgiType, RecordReader } from '../src/channels/fastcgi/records.js';
import { decodeNameValuePairs, decodeParams, encodeNameValuePairs } from '../src/channels/fastcgi/name-value.js';
import { encodeScgiHeader, parseScgiHeader } from '../src/channels/scgi/netstring.js';
import {
  AJP_DEFAULT_PACKET_SIZE,
  bodyPacket,
  forwardRequestPayload,
  isAjpError,
  parseBodyChunk,
  parseForwardRequest,
  readFrame,
} from '../src/channels/ajp/packets.js';

interface Options {
  seconds: number;
  out: string;
  seed: number;
}

function options(argv: string[]): Options {
  const o: Options = { seconds: 20, out: resolve('fuzz-escapes'), seed: Date.now() >>> 0 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (!value) continue;
    if (argv[i] === '--seconds') o.seconds = Number(value);
    else if (argv[i] === '--out') o.out = resolve(value);
    else if (argv[i] === '--seed') o.seed = Number(value) >>> 0;
    else continue;
    i++;
  }
  if (!(o.seconds > 0)) throw new Error('--seconds takes a positive number');
  return o;
}

/** A small fast PRNG (xorshift32), seeded so a run can be repeated. */
class Random {
  #s: number;
  constructor(seed: number) {
    this.#s = seed || 1;
  }
  next(): number {
    let s = this.#s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.#s = s >>> 0;
    return this.#s;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
}

/** One parser under test: seed inputs, and a check that throws an Error describing any violation. */
interface Target {
  name: string;
  seeds: Buffer[];
  check(input: Buffer, random: Random): void;
}

/** A broken invariant (as opposed to an exception escaping the parser). */
class Violation extends Error {}

function same(a: unknown, b: unknown, what: string): void {
  const x = JSON.stringify(a, replacer);
  const y = JSON.stringify(b, replacer);
  if (x !== y) throw new Violation(`${what}: ${x.slice(0, 300)} vs ${y.slice(0, 300)}`);
}

function replacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    return Buffer.from((value as { data: number[] }).data).toString('hex');
  }
  return value;
}

/** `input` placed at `at` inside a larger buffer of garbage: a parser given bounds must not see the garbage. */
function embedded(input: Buffer, at: number, after: number, random: Random): Buffer {
  const big = Buffer.alloc(at + input.length + after);
  for (let i = 0; i < big.length; i++) big[i] = random.below(256);
  input.copy(big, at);
  return big;
}

// ---- mutations ----

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x22, 0x2c, 0x30, 0x39];

function mutate(seed: Buffer, seeds: Buffer[], random: Random): Buffer {
  let out = Buffer.from(seed);
  const rounds = 1 + random.below(4);
  for (let r = 0; r < rounds; r++) {
    const at = random.below(out.length + 1);
    switch (random.below(8)) {
      case 0: // bit flip
        if (out.length) out[at % out.length]! ^= 1 << random.below(8);
        break;
      case 1: // an interesting byte
        if (out.length) out[at % out.length] = INTERESTING[random.below(INTERESTING.length)]!;
        break;
      case 2: {
        // insert random bytes
        const n = 1 + random.below(8);
        const pick = () => (random.below(2) ? INTERESTING[random.below(INTERESTING.length)]! : random.below(256));
        const ins = Buffer.alloc(n).map(pick);
        out = Buffer.concat([out.subarray(0, at), ins, out.subarray(at)]);
        break;
      }
      case 3: // delete a range
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + random.below(16)))]);
        break;
      case 4: {
        // splice with another seed
        const other = seeds[random.below(seeds.length)]!;
        const from = random.below(other.length);
        out = Buffer.concat([out.subarray(0, at), other.subarray(from, from + 1 + random.below(64))]);
        break;
      }
      case 5: // duplicate a slice
        out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + 1 + random.below(32)), out.subarray(at)]);
        break;
      case 6: {
        // a length field tweaked: a byte or big-endian int16 nudged or set to an extreme
        if (out.length < 2) break;
        const p = at % (out.length - 1);
        const v = out.readUInt16BE(p);
        const nudged = [v + 1, v - 1, v + 8, v - 8, 0, 0xffff, v * 2, v >> 1][random.below(8)]! & 0xffff;
        out.writeUInt16BE(nudged, p);
        break;
      }
      default: // an ASCII digit changed (decimal and hex lengths)
        for (let k = 0; k < out.length; k++) {
          const i = (at + k) % out.length;
          const c = out[i]!;
          if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) {
            out[i] = '0123456789abcdefF-+ '.charCodeAt(random.below(20));
            break;
          }
        }
    }
  }
  return out.length > 70_000 ? out.subarray(0, 70_000) : out;
}

// ---- targets ----

const HEAD_LIMITS = { maxUriLength: 256, maxHeaderBytes: 1024, maxHeaderCount: 20 };

function head(input: Buffer, start = 0, end = input.length): HeadParse {
  return parseRequestHead(input, start, end, HEAD_LIMITS);
}

const http1Head: Target = {
  name: 'http1 head',
  seeds: [
    'GET /a?b=c HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n',
    'POST /p HTTP/1.1\r\nHost: h:8080\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello',
    'PUT /u HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, Upgrade\r\nUpgrade: x\r\n\r\n',
    '\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\nX-A: \xe9t\xe9\r\n\r\n',
  ].map((s) => Buffer.from(s, 'latin1')),
  check(input, random) {
    const whole = head(input);
    if (whole.kind === 'head' && (whole.length <= 0 || whole.length > input.length)) {
      throw new Violation(`length ${whole.length} of ${input.length}`);
    }
    // Bounds: the same bytes inside garbage, parsed within their bounds, give the same answer.
    const at = random.below(16);
    same(head(embedded(input, at, 1 + random.below(64), random), at, at + input.length), whole, 'embedded');
    // Split: every prefix is partial or already the final answer (a refusal, or the head when complete).
    for (let n = 0; n < 3 && input.length > 1; n++) {
      const k = 1 + random.below(input.length - 1);
      const prefix = head(input.subarray(0, k));
      if (prefix.kind === 'partial') continue;
      if (whole.kind === 'head' && prefix.kind === 'head' && prefix.length === whole.length) continue;
      same(prefix, whole, `prefix of ${k}`);
    }
  },
};

interface Decoded {
  body: string;
  used: number;
  done: boolean;
  error: string | null;
}

function dechunk(input: Buffer, cuts: number[]): Decoded {
  const decoder = new ChunkedDecoder({ maxChunkLineBytes: 64, maxTrailerBytes: 256 });
  const parts: Buffer[] = [];
  let used = 0;
  const bounds = [0, ...cuts, input.length];
  for (let p = 0; p + 1 < bounds.length; p++) {
    const piece = Buffer.concat([Buffer.from('##'), input.subarray(bounds[p], bounds[p + 1])]);
    const n = decoder.push(piece, 2, (data) => {
      const inside =
        data.byteOffset >= piece.byteOffset + 2 && data.byteOffset + data.length <= piece.byteOffset + piece.length;
      if (data.buffer !== piece.buffer || !inside) {
        throw new Violation('a body piece outside the bytes given');
      }
      parts.push(Buffer.from(data));
    });
    if (n < 0)
      return { body: Buffer.concat(parts).toString('hex'), used: -1, done: decoder.done, error: decoder.error };
    if (n > piece.length - 2) throw new Violation(`consumed ${n} of ${piece.length - 2}`);
    used += n;
    if (n < piece.length - 2) break;
  }
  return { body: Buffer.concat(parts).toString('hex'), used, done: decoder.done, error: decoder.error };
}

const chunked: Target = {
  name: 'chunked decoder',
  seeds: [
    '5\r\nhello\r\n0\r\n\r\n',
    'a;x=1;y="q \\" ;"\r\n0123456789\r\n1\r\n!\r\n0\r\nX-T: 1\r\nY: \xe9\r\n\r\nGET /',
    '000F\r\n0123456789abcde\r\n0;z\r\n\r\n',
  ].map((s) => Buffer.from(s, 'latin1')),
  check(input, random) {
    const whole = dechunk(input, []);
    if ((whole.used === -1) !== (whole.error !== null)) throw new Violation('used and error disagree');
    const picked = Array.from({ length: 1 + random.below(4) }, () => random.below(input.length + 1));
    const cuts = [...new Set(picked)].sort((a, b) => a - b);
    same(dechunk(input, cuts), whole, `cut at ${cuts.join(',')}`);
  },
};

function fcgiRecords(input: Buffer, pieces: number[]): unknown {
  const reader = new RecordReader();
  const records: unknown[] = [];
  const bounds = [0, ...pieces, input.length];
  for (let p = 0; p + 1 < bounds.length; p++) {
    const r = reader.push(Buffer.from(input.subarray(bounds[p], bounds[p + 1])));
    for (const rec of r.records) records.push([rec.type, rec.requestId, rec.content.toString('hex')]);
    if (r.error) return { records, error: r.error };
  }
  return { records, pending: reader.pending };
}

const fastcgiRecords: Target = {
  name: 'fastcgi records',
  seeds: [
    Buffer.concat([
      encodeRecord(FcgiType.BEGIN_REQUEST, 1, Buffer.from([0, 1, 1, 0, 0, 0, 0, 0])),
      encodeRecord(
        FcgiType.PARAMS,
        1,
        encodeNameValuePairs([
          ['SCRIPT_NAME', '/x'],
          ['REQUEST_METHOD', 'POST'],
          ['CONTENT_LENGTH', '5'],
        ]),
      ),
      encodeRecord(FcgiType.PARAMS, 1),
      encodeRecord(FcgiType.STDIN, 1, Buffer.from('hello')),
      encodeRecord(FcgiType.STDIN, 1),
    ]),
    encodeRecord(
      FcgiType.GET_VALUES,
      0,
      encodeNameValuePairs([
        ['FCGI_MAX_CONNS', ''],
        ['FCGI_MPXS_CONNS', ''],
      ]),
    ),
  ],
  check(input, random) {
    const whole = fcgiRecords(input, []);
    const k = random.below(input.length + 1);
    same(fcgiRecords(input, [k]), whole, `split at ${k}`);
    // decodeRecord at an offset inside garbage agrees with the reader on the first record.
    const at = random.below(16);
    const big = embedded(input, at, 0, random);
    const a = decodeRecord(big, at);
    const b = decodeRecord(input, 0);
    if (a.kind === 'record' && b.kind === 'record') {
      const shape = (r: { type: number; requestId: number; content: Buffer }, next: number) => [
        r.type,
        r.requestId,
        r.content.toString('hex'),
        next,
      ];
      same(shape(a.record, a.next - at), shape(b.record, b.next), 'decodeRecord at an offset');
      if (b.next > input.length) throw new Violation('decodeRecord past the end');
    } else same(a, b, 'decodeRecord at an offset');
  },
};

const fastcgiNameValue: Target = {
  name: 'fastcgi name-value',
  seeds: [
    encodeNameValuePairs([
      ['SCRIPT_NAME', '/x'],
      ['HTTP_HOST', 'example.test'],
      ['QUERY_STRING', 'a=b'.repeat(50)],
      ['EMPTY', ''],
    ]),
    encodeNameValuePairs([
      ['X'.repeat(200), 'y'.repeat(300)],
      ['CONTENT_LENGTH', '12'],
    ]),
  ],
  check(input) {
    const limits = { maxBytes: 4096, maxPairs: 50 };
    const pairs = decodeNameValuePairs(input, limits);
    if (pairs.ok) {
      let total = 0;
      for (const [name, value] of pairs.pairs) total += Buffer.byteLength(name, 'latin1') + value.length;
      if (total > input.length) throw new Violation(`${total} bytes of pairs from ${input.length}`);
      if (pairs.pairs.length > limits.maxPairs) throw new Violation('more pairs than the limit');
    }
    const params = decodeParams(input, limits);
    if (params.ok !== pairs.ok) throw new Violation('decodeParams and decodeNameValuePairs disagree');
  },
};

const scgi: Target = {
  name: 'scgi netstring',
  seeds: [
    encodeScgiHeader([
      ['CONTENT_LENGTH', '5'],
      ['SCGI', '1'],
      ['REQUEST_METHOD', 'POST'],
      ['REQUEST_URI', '/a?b'],
    ]),
    Buffer.concat([
      encodeScgiHeader([
        ['CONTENT_LENGTH', '0'],
        ['SCGI', '1'],
        ['HTTP_X', '\xe9'],
      ]),
      Buffer.from('body'),
    ]),
  ],
  check(input, random) {
    const limits = { maxBytes: 4096, maxPairs: 50 };
    const whole = parseScgiHeader(input, limits);
    if (whole.kind === 'header') {
      const h = whole.header;
      if (h.bodyOffset > input.length || h.bodyOffset < 3)
        throw new Violation(`bodyOffset ${h.bodyOffset} of ${input.length}`);
      if (!(h.contentLength >= 0) || !Number.isSafeInteger(h.contentLength))
        throw new Violation(`contentLength ${h.contentLength}`);
      // The bytes after the header do not change it.
      same(parseScgiHeader(embedded(input, 0, 1 + random.below(16), random), limits), whole, 'with more bytes after');
    }
    // A prefix is incomplete, or the same answer.
    if (input.length > 1) {
      const k = 1 + random.below(input.length - 1);
      const prefix = parseScgiHeader(input.subarray(0, k), limits);
      if (prefix.kind === 'error' && whole.kind !== 'error')
        throw new Violation(`prefix of ${k} refused, whole accepted`);
      if (prefix.kind === 'header' && whole.kind === 'header') same(prefix, whole, `prefix of ${k}`);
    }
  },
};

const ajp: Target = {
  name: 'ajp packets',
  seeds: [
    Buffer.concat([Buffer.from([0x12, 0x34, 0, 0]), bodyPacket(Buffer.from('hello'))]),
    (() => {
      const payload = forwardRequestPayload({
        method: 'POST',
        reqUri: '/a',
        headers: [
          ['Host', 'example.test'],
          ['Content-Length', '5'],
          ['X-Custom', 'v'],
        ],
        attributes: [
          [0x05, 'q=1'],
          [0x0a, 'AJP_REMOTE_PORT', '1234'],
        ],
      });
      const head = Buffer.from([0x12, 0x34, payload.length >> 8, payload.length & 0xff]);
      return Buffer.concat([head, payload, bodyPacket(Buffer.from('hello'))]);
    })(),
  ],
  check(input, random) {
    const frames = (buf: Buffer, offset: number): unknown[] => {
      const out: unknown[] = [];
      let at = offset;
      for (let n = 0; n < 64; n++) {
        const f = readFrame(buf, at, AJP_DEFAULT_PACKET_SIZE);
        if (isAjpError(f) || 'need' in f) {
          out.push(f);
          break;
        }
        if (f.next <= at || f.next > buf.length)
          throw new Violation(`frame next ${f.next} from ${at} of ${buf.length}`);
        const request = parseForwardRequest(f.payload);
        out.push(isAjpError(request) ? request : JSON.parse(JSON.stringify(request, replacer)));
        out.push(parseBodyChunk(f.payload).toString('hex'));
        at = f.next;
      }
      return out;
    };
    const whole = frames(input, 0);
    const at = random.below(16);
    same(frames(embedded(input, at, 0, random), at), whole, 'at an offset');
  },
};

const cgiHead: Target = {
  name: 'cgi script head',
  seeds: [
    Buffer.from('Status: 404 Gone\nContent-Type: text/plain\nSet-Cookie: a=1\n\nbody'),
    Buffer.from('Location: /next?x=1\r\n\r\n'),
    Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>'),
  ],
  check(input, random) {
    const nph = input.subarray(0, 5).toString('latin1') === 'HTTP/';
    const limits = { maxBytes: 2048, maxLines: 20 };
    const whole = parseCgiHead(input, { nph, limits });
    if (whole !== CGI_HEAD_PARTIAL && !isCgiHeadError(whole)) {
      if (whole.status < 100 || whole.status > 599) throw new Violation(`status ${whole.status}`);
      if (whole.bodyStart > input.length || whole.bodyStart > limits.maxBytes)
        throw new Violation(`bodyStart ${whole.bodyStart}`);
      for (let i = 0; i < whole.fields.length; i += 2) {
        if (!isToken(whole.fields[i]!) || hasControlChars(whole.fields[i + 1]!))
          throw new Violation(`field ${whole.fields[i]}`);
      }
      // The bytes after the head do not change it.
      same(
        parseCgiHead(Buffer.concat([input, embedded(Buffer.alloc(0), 0, 1 + random.below(16), random)]), {
          nph,
          limits,
        }),
        whole,
        'with more bytes after',
      );
    }
    if (whole === CGI_HEAD_PARTIAL && input.length >= limits.maxBytes) throw new Violation('partial past the limit');
  },
};

const TARGETS = [http1Head, chunked, fastcgiRecords, fastcgiNameValue, scgi, ajp, cgiHead];

function main(): void {
  const o = options(process.argv.slice(2));
  const random = new Random(o.seed);
  const slice = (o.seconds * 1000) / TARGETS.length;
  console.log(`fuzzing ${TARGETS.length} targets for ${o.seconds} s (seed ${o.seed})`);
  let escapes = 0;
  for (const target of TARGETS) {
    const pool = [...target.seeds];
    const started = Date.now();
    let runs = 0;
    let found = 0;
    while (Date.now() - started < slice) {
      for (let b = 0; b < 200; b++) {
        const input = mutate(pool[random.below(pool.length)]!, pool, random);
        runs++;
        try {
          target.check(input, random);
          // Keep a few accepted-shaped mutants as seeds, so mutations reach past the first check.
          if (pool.length < 256 && random.below(64) === 0) pool.push(input);
        } catch (err) {
          found++;
          escapes++;
          mkdirSync(o.out, { recursive: true });
          const file = join(o.out, `${target.name.replace(/\W+/g, '-')}-${Date.now()}-${found}.bin`);
          writeFileSync(file, input);
          const kind = err instanceof Violation ? 'invariant' : 'exception';
          console.log(`  ESCAPE ${target.name} (${kind}): ${(err as Error).message.slice(0, 200)} -> ${file}`);
          if (found >= 5) break;
        }
      }
      if (found >= 5) break;
    }
    const seconds = (Date.now() - started) / 1000;
    const rate = String(Math.round(runs / seconds)).padStart(8);
    console.log(`${target.name.padEnd(20)} ${String(runs).padStart(9)} inputs  ${rate} /s  ${found} escapes`);
  }
  console.log(escapes === 0 ? 'no escapes' : `${escapes} escapes, inputs saved under ${o.out}`);
  process.exitCode = escapes === 0 ? 0 : 1;
}

main();
