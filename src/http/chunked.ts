// An incremental decoder of the chunked transfer coding (RFC 9112 §7.1), shared by the HTTP/1.1
// server channel (request bodies) and the proxy's response parser: it hands out views of the bytes
// it is given and never copies them.
import { FIELD_VALUE, TCHAR, trimOws } from './syntax.js';

/** Bounds of the framing around the data. */
export interface ChunkedLimits {
  /** Longest chunk-size line, extensions included, CRLF not (default {@link MAX_CHUNK_LINE_BYTES}). */
  maxChunkLineBytes: number;
  /** Largest trailer section, its final CRLF included (default {@link MAX_TRAILER_BYTES}). */
  maxTrailerBytes: number;
}

/** Default longest chunk-size line, extensions included (RFC 9112 §7.1.1). */
export const MAX_CHUNK_LINE_BYTES = 4096;
/** Default largest trailer section (RFC 9112 §7.1.2); its fields are kept in {@link ChunkedDecoder.trailers}. */
export const MAX_TRAILER_BYTES = 16 * 1024;
/** Most hex digits of a chunk size once leading zeros are gone: 13 keeps every size a safe integer. */
const MAX_CHUNK_SIZE_DIGITS = 13;

const CR = 13;
const LF = 10;
const HTAB = 9;
const SP = 32;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const COLON = 0x3a;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Hex digit values, -1 for other bytes. */
const HEX = new Int8Array(256).map((_, c) =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1,
);
/** Field value bytes (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text; no other control, no DEL. */
const TEXT = FIELD_VALUE.map((kind) => (kind === 0 ? 0 : 1));
/** qdtext (RFC 9110 §5.6.4): TEXT without `"` and `\`. */
const QDTEXT = TEXT.map((v, c) => (c === DQUOTE || c === BACKSLASH ? 0 : v));

const enum Step {
  /** The first hex digit of a chunk size. */
  Size,
  /** More hex digits, or what may follow them. */
  SizeMore,
  /** The first byte of a chunk-ext-name, after `;`. */
  ExtName,
  /** More of a chunk-ext-name, `=`, `;` or the CR. */
  ExtNameMore,
  /** The first byte of a chunk-ext-val, after `=`. */
  ExtValue,
  /** More of a token chunk-ext-val. */
  ExtToken,
  /** Inside a quoted-string chunk-ext-val. */
  ExtQuoted,
  /** The byte after `\` in a quoted-string. */
  ExtQuotedPair,
  /** After the closing quote: `;` or the CR. */
  ExtQuoteEnd,
  SizeLF,
  Data,
  DataCR,
  DataLF,
  /** The start of a trailer line, or of the empty line ending the message. */
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLF,
  FinalLF,
  Done,
  Failed,
}

/** The steps after which a CR ends the chunk-size line: a size digit, an extension name, token or quote. */
const LINE_MAY_END = new Uint8Array(Step.Failed + 1);
for (const step of [Step.SizeMore, Step.ExtNameMore, Step.ExtToken, Step.ExtQuoteEnd]) LINE_MAY_END[step] = 1;

/**
 * Decodes one chunked body at a time, fed in pieces of any size. Malformed framing stops it with
 * `error` set, never a throw. SECURITY.md §3.1: the framing is read one way only, as strictly as
 * llhttp in strict mode reads it (RFC 9112 §7.1 without the BWS it tolerates), so no front end or
 * backend can find a different body in the same bytes:
 *
 * | input                                                      | outcome |
 * |------------------------------------------------------------|---------|
 * | `5\r\nhello\r\n0\r\n\r\n`                                  | `hello`, done |
 * | hex sizes in either case, leading zeros                    | accepted |
 * | `;name`, `;name=token`, `;name="quoted \\" string"` extensions | ignored |
 * | an empty or non-hex size                                   | error   |
 * | SP or HTAB after a size, around `;` or `=` (`5 \r\n`)       | error   |
 * | an empty extension (`5;\r\n`), a name or value not a token | error   |
 * | an unterminated quoted extension value                     | error   |
 * | a size over 13 significant hex digits                      | error   |
 * | a chunk-size line over `maxChunkLineBytes` (4096)          | error   |
 * | a control character in an extension or trailer line        | error   |
 * | a trailer line without `:`, with a name not a token, or starting with SP/HTAB | error |
 * | a bare LF or CR after a size, after data, in the trailers  | error   |
 * | data longer than its size (no CRLF where it ends)          | error   |
 * | trailer fields `name: value` (kept in `trailers`), within `maxTrailerBytes` (16 KiB) | accepted |
 * | trailers over `maxTrailerBytes`                            | error   |
 * | bytes after the final CRLF                                 | not consumed |
 *
 * Pinned by test/http/chunked.test.ts.
 *
 * @example
 * const decoder = new ChunkedDecoder();
 * const used = decoder.push(data, 0, (piece) => body.push(piece));
 * if (used < 0) refuse(400, decoder.error);
 * else if (decoder.done) next(data.subarray(used));
 */
export class ChunkedDecoder {
  #limits: ChunkedLimits;
  #step = Step.Size;
  #error: string | null = null;
  #remaining = 0;
  #digits = 0;
  #lineBytes = 0;
  #trailerBytes = 0;
  /** The trailer lines received so far, each ending in LF (latin1, as on the wire). */
  #trailerText = '';

  constructor(limits: Partial<ChunkedLimits> = {}) {
    this.#limits = {
      maxChunkLineBytes: limits.maxChunkLineBytes ?? MAX_CHUNK_LINE_BYTES,
      maxTrailerBytes: limits.maxTrailerBytes ?? MAX_TRAILER_BYTES,
    };
  }

  /** The final CRLF arrived: the body is complete. */
  get done(): boolean {
    return this.#step === Step.Done;
  }

  /** Why the framing was refused, or null. */
  get error(): string | null {
    return this.#error;
  }

  /**
   * The trailer fields of the body, `[name, value]` in order, values without surrounding OWS
   * (RFC 9112 §7.1.2); empty when there were none. Complete once {@link done}.
   */
  get trailers(): Array<[string, string]> {
    const text = this.#trailerText;
    if (text === '') return [];
    const pairs: Array<[string, string]> = [];
    for (const line of text.split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) pairs.push([line.slice(0, colon), trimOws(line.slice(colon + 1))]);
    }
    return pairs;
  }

  /** Makes the decoder ready for the next body. */
  reset(): void {
    this.#trailerText = '';
    this.#step = Step.Size;
    this.#error = null;
    this.#remaining = 0;
    this.#digits = 0;
    this.#lineBytes = 0;
    this.#trailerBytes = 0;
  }

  /**
   * Feeds `data[start..]`, calling `onData` with a view of each piece of body. Returns how many bytes
   * it consumed: all of them, or fewer once the body ended (the rest belongs to what follows); -1
   * when the framing is malformed (see {@link error}). After the end, consumes nothing.
   */
  push(data: Buffer, start: number, onData: (piece: Buffer) => void): number {
    const end = data.length;
    let i = start;
    while (i < end) {
      const step = this.#step;
      if (step === Step.Data) {
        const n = Math.min(this.#remaining, end - i);
        this.#remaining -= n;
        const piece = data.subarray(i, i + n);
        i += n;
        if (this.#remaining === 0) this.#step = Step.DataCR;
        onData(piece);
        continue;
      }
      if (step === Step.Done) break;
      if (step === Step.Failed) return -1;
      if (!this.#byte(data[i]!)) return -1;
      i++;
    }
    return this.#step === Step.Failed ? -1 : i - start;
  }

  #fail(reason: string): false {
    this.#step = Step.Failed;
    this.#error = reason;
    return false;
  }

  /** Takes one framing byte; false when it breaks the framing. */
  #byte(c: number): boolean {
    const step = this.#step;
    if (step >= Step.TrailerStart) return this.#trailer(c);
    if (step === Step.SizeLF) {
      if (c !== LF) return this.#fail('a chunk-size line does not end in CRLF');
      this.#lineBytes = 0;
      if (this.#remaining === 0) {
        this.#step = Step.TrailerStart;
        this.#trailerBytes = 0;
      } else this.#step = Step.Data;
      return true;
    }
    if (step === Step.DataCR || step === Step.DataLF) {
      if (c !== (step === Step.DataCR ? CR : LF)) return this.#fail('chunk data is not followed by CRLF');
      this.#step = step === Step.DataCR ? Step.DataLF : Step.Size;
      return true;
    }
    // The chunk-size line: size and extensions.
    if (c === CR && LINE_MAY_END[step] === 1) return this.#to(Step.SizeLF);
    if (++this.#lineBytes > this.#limits.maxChunkLineBytes) return this.#fail('a chunk-size line is too long');
    switch (step) {
      case Step.Size:
      case Step.SizeMore: {
        const d = HEX[c]!;
        if (d < 0) {
          if (step === Step.SizeMore && c === SEMICOLON) return this.#to(Step.ExtName);
          if (c === LF && step === Step.SizeMore) return this.#fail('a chunk-size line does not end in CRLF');
          return this.#fail('a chunk-size line is malformed');
        }
        if (step === Step.Size) {
          this.#step = Step.SizeMore;
          this.#remaining = 0;
          this.#digits = 0;
        }
        if (d === 0 && this.#digits === 0) return true;
        if (++this.#digits > MAX_CHUNK_SIZE_DIGITS) return this.#fail('a chunk is too large');
        this.#remaining = this.#remaining * 16 + d;
        return true;
      }
      case Step.ExtName:
        return TCHAR[c] === 1 ? this.#to(Step.ExtNameMore) : this.#badExtension(c);
      case Step.ExtNameMore:
        if (TCHAR[c] === 1) return true;
        if (c === SEMICOLON) return this.#to(Step.ExtName);
        return c === EQUALS ? this.#to(Step.ExtValue) : this.#badExtension(c);
      case Step.ExtValue:
        if (c === DQUOTE) return this.#to(Step.ExtQuoted);
        return TCHAR[c] === 1 ? this.#to(Step.ExtToken) : this.#badExtension(c);
      case Step.ExtToken:
        if (TCHAR[c] === 1) return true;
        return c === SEMICOLON ? this.#to(Step.ExtName) : this.#badExtension(c);
      case Step.ExtQuoted:
        if (QDTEXT[c] === 1) return true;
        if (c === DQUOTE) return this.#to(Step.ExtQuoteEnd);
        if (c === BACKSLASH) return this.#to(Step.ExtQuotedPair);
        return this.#fail('a quoted chunk extension value is not terminated');
      case Step.ExtQuotedPair:
        if (TEXT[c] === 0) return this.#fail('a quoted chunk extension value is not terminated');
        return this.#to(Step.ExtQuoted);
      case Step.ExtQuoteEnd:
        return c === SEMICOLON ? this.#to(Step.ExtName) : this.#badExtension(c);
      default:
        return this.#fail('the chunked decoder is in an impossible state');
    }
  }

  #to(step: Step): true {
    this.#step = step;
    return true;
  }

  #badExtension(c: number): false {
    if (c === LF) return this.#fail('a chunk-size line does not end in CRLF');
    if (TEXT[c] === 0) return this.#fail('a chunk extension has a control character');
    return this.#fail('a chunk extension is malformed');
  }

  /** Trailer lines (`name: value`) up to the empty line: shape, controls and size checked, content kept. */
  #trailer(c: number): boolean {
    if (++this.#trailerBytes > this.#limits.maxTrailerBytes) return this.#fail('the trailer section is too large');
    const step = this.#step;
    if ((step === Step.TrailerName || step === Step.TrailerValue) && c !== CR)
      this.#trailerText += String.fromCharCode(c);
    switch (step) {
      case Step.TrailerStart:
        // A CR at the start of a line begins the empty line that ends the message.
        if (c === CR) return this.#to(Step.FinalLF);
        if (TCHAR[c] === 1) {
          this.#trailerText += String.fromCharCode(c);
          return this.#to(Step.TrailerName);
        }
        if (c === SP || c === HTAB) return this.#fail('a trailer line starts with whitespace (obsolete line folding)');
        return this.#fail(c === LF ? 'a bare LF in the trailer section' : 'a trailer field name is malformed');
      case Step.TrailerName:
        if (TCHAR[c] === 1) return true;
        if (c === COLON) return this.#to(Step.TrailerValue);
        return this.#fail(c === LF || c === CR ? 'a trailer line has no colon' : 'a trailer field name is malformed');
      case Step.TrailerValue:
        if (c === CR) return this.#to(Step.TrailerLF);
        if (TEXT[c] === 1) return true;
        return this.#fail(c === LF ? 'a bare LF in the trailer section' : 'a control character in the trailer section');
      case Step.TrailerLF:
      case Step.FinalLF:
        if (c !== LF) return this.#fail('a bare CR in the trailer section');
        if (step === Step.TrailerLF) this.#trailerText += '\n';
        return this.#to(step === Step.FinalLF ? Step.Done : Step.TrailerStart);
      default:
        return false;
    }
  }
}
