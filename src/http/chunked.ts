// An incremental decoder of the chunked transfer coding (RFC 9112 §7.1), shared by the HTTP/1.1
// server channel (request bodies) and the proxy's response parser: it hands out views of the bytes
// it is given and never copies them.

/** Bounds of the framing around the data. */
export interface ChunkedLimits {
  /** Longest chunk-size line, extensions included, CRLF not (default {@link MAX_CHUNK_LINE_BYTES}). */
  maxChunkLineBytes: number;
  /** Largest trailer section, its final CRLF included (default {@link MAX_TRAILER_BYTES}). */
  maxTrailerBytes: number;
}

/** Default longest chunk-size line, extensions included (RFC 9112 §7.1.1). */
export const MAX_CHUNK_LINE_BYTES = 4096;
/** Default largest trailer section (RFC 9112 §7.1.2); trailers are read and dropped. */
export const MAX_TRAILER_BYTES = 16 * 1024;
/** Most hex digits of a chunk size once leading zeros are gone: 13 keeps every size a safe integer. */
const MAX_CHUNK_SIZE_DIGITS = 13;

const CR = 13;
const LF = 10;

/** Hex digit values, -1 for other bytes. */
const HEX = new Int8Array(256).map((_, c) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1));
/** Bytes allowed inside chunk extensions and trailer lines: HTAB, SP, visible, obs-text (no controls, no DEL). */
const TEXT = new Uint8Array(256).map((_, c) => (c === 9 || (c >= 0x20 && c !== 0x7f) ? 1 : 0));

const enum Step {
  /** The first hex digit of a chunk size. */
  Size,
  /** More hex digits, or what may follow them. */
  SizeMore,
  /** Whitespace after the size (BWS before an extension). */
  SizeSpace,
  /** Chunk extensions: checked for controls, otherwise ignored. */
  Extension,
  SizeLF,
  Data,
  DataCR,
  DataLF,
  /** The start of a trailer line, or of the empty line ending the message. */
  TrailerStart,
  Trailer,
  TrailerLF,
  FinalLF,
  Done,
  Failed,
}

/**
 * Decodes one chunked body at a time, fed in pieces of any size. Malformed framing stops it with
 * `error` set, never a throw (SECURITY.md §3.1: the framing must be read one way only):
 *
 * | input                                                      | outcome |
 * |------------------------------------------------------------|---------|
 * | `5\r\nhello\r\n0\r\n\r\n`                                  | `hello`, done |
 * | hex sizes in either case, leading zeros                    | accepted |
 * | `;name=value` extensions, SP/HTAB before them               | ignored |
 * | an empty or non-hex size                                   | error   |
 * | a size over 13 significant hex digits                      | error   |
 * | a chunk-size line over `maxChunkLineBytes` (4096)          | error   |
 * | a control character in an extension or trailer line        | error   |
 * | a bare LF or CR after a size, after data, in the trailers  | error   |
 * | data longer than its size (no CRLF where it ends)          | error   |
 * | trailer fields (discarded), within `maxTrailerBytes` (16 KiB) | accepted |
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

  constructor(limits: Partial<ChunkedLimits> = {}) {
    this.#limits = { maxChunkLineBytes: limits.maxChunkLineBytes ?? MAX_CHUNK_LINE_BYTES, maxTrailerBytes: limits.maxTrailerBytes ?? MAX_TRAILER_BYTES };
  }

  /** The final CRLF arrived: the body is complete. */
  get done(): boolean {
    return this.#step === Step.Done;
  }

  /** Why the framing was refused, or null. */
  get error(): string | null {
    return this.#error;
  }

  /** Makes the decoder ready for the next body. */
  reset(): void {
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
    switch (this.#step) {
      case Step.Size:
      case Step.SizeMore: {
        const d = HEX[c]!;
        if (d >= 0) {
          if (++this.#lineBytes > this.#limits.maxChunkLineBytes) return this.#fail('a chunk-size line is too long');
          if (this.#step === Step.Size) {
            this.#step = Step.SizeMore;
            this.#remaining = 0;
            this.#digits = 0;
          }
          if (d === 0 && this.#digits === 0) return true;
          if (++this.#digits > MAX_CHUNK_SIZE_DIGITS) return this.#fail('a chunk is too large');
          this.#remaining = this.#remaining * 16 + d;
          return true;
        }
        if (this.#step === Step.Size) return this.#fail('a chunk-size line is malformed');
        return this.#afterSize(c);
      }
      case Step.SizeSpace:
        return this.#afterSize(c);
      case Step.Extension:
        if (c === CR) {
          this.#step = Step.SizeLF;
          return true;
        }
        if (c === LF) return this.#fail('a chunk-size line does not end in CRLF');
        if (TEXT[c] === 0) return this.#fail('a chunk extension has a control character');
        if (++this.#lineBytes > this.#limits.maxChunkLineBytes) return this.#fail('a chunk-size line is too long');
        return true;
      case Step.SizeLF:
        if (c !== LF) return this.#fail('a chunk-size line does not end in CRLF');
        this.#lineBytes = 0;
        if (this.#remaining === 0) {
          this.#step = Step.TrailerStart;
          this.#trailerBytes = 0;
        } else this.#step = Step.Data;
        return true;
      case Step.DataCR:
        if (c !== CR) return this.#fail('chunk data is not followed by CRLF');
        this.#step = Step.DataLF;
        return true;
      case Step.DataLF:
        if (c !== LF) return this.#fail('chunk data is not followed by CRLF');
        this.#step = Step.Size;
        return true;
      default:
        return this.#trailer(c);
    }
  }

  /** A byte after at least one size digit that is not a digit. */
  #afterSize(c: number): boolean {
    if (c === CR) {
      this.#step = Step.SizeLF;
      return true;
    }
    if (c === LF) return this.#fail('a chunk-size line does not end in CRLF');
    if (++this.#lineBytes > this.#limits.maxChunkLineBytes) return this.#fail('a chunk-size line is too long');
    if (c === 32 || c === 9) this.#step = Step.SizeSpace;
    else if (c === 0x3b /* ; */) this.#step = Step.Extension;
    else return this.#fail('a chunk-size line is malformed');
    return true;
  }

  /** Trailer lines up to the empty line: their line endings, controls and size checked, their content dropped. */
  #trailer(c: number): boolean {
    if (++this.#trailerBytes > this.#limits.maxTrailerBytes) return this.#fail('the trailer section is too large');
    const step = this.#step;
    switch (step) {
      case Step.TrailerStart:
      case Step.Trailer:
        if (c === CR) {
          // A CR at the start of a line begins the empty line that ends the message.
          this.#step = step === Step.TrailerStart ? Step.FinalLF : Step.TrailerLF;
          return true;
        }
        if (TEXT[c] === 0) return this.#fail(c === LF ? 'a bare LF in the trailer section' : 'a control character in the trailer section');
        this.#step = Step.Trailer;
        return true;
      case Step.TrailerLF:
      case Step.FinalLF:
        if (c !== LF) return this.#fail('a bare CR in the trailer section');
        this.#step = step === Step.FinalLF ? Step.Done : Step.TrailerStart;
        return true;
      default:
        return false;
    }
  }
}
