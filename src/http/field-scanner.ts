// The byte scanner of an HTTP/1 header section (RFC 9112 §5), shared by the request head parser and
// the proxy's response parser: it checks every field line where it stands, records where each name
// and value lies, and notes the fields the message framing depends on (src/http/framing.ts).
import { framingFault, FramingFault } from './framing.js';
import { FIELD_VALUE, isHostBytes, MAX_CONTENT_LENGTH_DIGITS, TCHAR } from './syntax.js';

/** What stopped a scan: nothing (the section is complete), more bytes needed, or a malformation. */
export const enum ScanFault {
  None,
  /** More bytes are needed, and those so far are within the limits. */
  Partial,
  BareCR,
  BareLF,
  /** A line starting with SP or HTAB (obs-fold, RFC 9112 §5.2). */
  ObsFold,
  WhitespaceBeforeColon,
  BadName,
  EmptyName,
  /** A control other than HTAB (or DEL) in a field value. */
  Control,
  /** More than the allowed number of fields. */
  TooMany,
  /** The section ran past its byte limit. */
  TooLarge,
  /** The framing fields are refused: `framing` says why (src/http/framing.ts). */
  Framing,
  /** With `hostRule`: a second Host field, or one that is not a valid host (SECURITY.md §6.3). */
  Host,
}

/** What a scan found; one object is reused, as parsing is synchronous and never re-entered. */
export interface FieldScan {
  fault: ScanFault;
  /** Index just past the empty line that ends the section (when `fault` is None). */
  end: number;
  /** Number of fields; field `f` lies at `spans[4f..4f+3]`: name start, name end, value start, value end. */
  count: number;
  spans: number[];
  /** Host fields seen, the index of the first, and whether every one was a valid host (SECURITY.md §6.3). */
  hostCount: number;
  hostField: number;
  hostValid: boolean;
  /** Indexes of the Expect fields, or null. */
  expectFields: number[] | null;
  /** An Upgrade field is present. */
  upgradeField: boolean;
  /** Connection tokens (RFC 9110 §7.6.1), of every Connection field, any case. */
  close: boolean;
  keepAliveToken: boolean;
  upgradeToken: boolean;
  /** A Connection token other than close, keep-alive and upgrade: a field name to drop. */
  otherToken: boolean;
  /** Content-Length fields seen, and the value of the last, or -1 when one was not 1 to 15 digits. */
  lengthCount: number;
  contentLength: number;
  /** Transfer-Encoding fields seen, and whether there was exactly one, `chunked` in any case. */
  codingCount: number;
  chunked: boolean;
  /** Why the framing was refused, when `fault` is Framing. */
  framing: FramingFault;
}

/** A fresh scan record. */
export function newFieldScan(): FieldScan {
  return {
    fault: ScanFault.None,
    end: 0,
    count: 0,
    spans: [],
    hostCount: 0,
    hostField: -1,
    hostValid: true,
    expectFields: null,
    upgradeField: false,
    close: false,
    keepAliveToken: false,
    upgradeToken: false,
    otherToken: false,
    lengthCount: 0,
    contentLength: -1,
    codingCount: 0,
    chunked: false,
    framing: FramingFault.None,
  };
}

const enum Byte {
  HTAB = 9,
  LF = 10,
  CR = 13,
  SP = 32,
  COMMA = 0x2c,
  COLON = 58,
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

/** Lower-case names of the fields the framing depends on, and the tokens looked for, as bytes. */
const HOST = ascii('host');
const EXPECT = ascii('expect');
const UPGRADE = ascii('upgrade');
const CONNECTION = ascii('connection');
const CONTENT_LENGTH = ascii('content-length');
const TRANSFER_ENCODING = ascii('transfer-encoding');
const CLOSE = ascii('close');
const KEEP_ALIVE = ascii('keep-alive');
const CHUNKED = ascii('chunked');

/**
 * Whether `buf[at..at+length)` is `word`, ignoring ASCII case. `word` holds lower-case letters,
 * digits and `-` only, so folding with 0x20 cannot turn another byte into one of them.
 */
export function equalsFolded(buf: Uint8Array, at: number, length: number, word: Uint8Array): boolean {
  if (length !== word.length) return false;
  for (let k = 0; k < length; k++) if ((buf[at + k]! | 0x20) !== word[k]) return false;
  return true;
}

/**
 * Scans the field lines at `buf[i..end)` up to and including the empty line that ends them, into
 * `out`. Each rule is decided at the byte that breaks it, so the same bytes in any number of pieces
 * give `Partial` until the same final answer:
 *
 * | input                                                      | fault |
 * |------------------------------------------------------------|-------|
 * | a bare LF, or a CR not followed by LF                      | BareLF, BareCR |
 * | a line starting with SP or HTAB (obs-fold)                 | ObsFold |
 * | whitespace before `:`; a name not a token; an empty name   | WhitespaceBeforeColon, BadName, EmptyName |
 * | a value with a control other than HTAB (NUL, DEL, ...)     | Control |
 * | a value with obs-text (0x80–0xff)                          | kept |
 * | bytes past `stop` before the section ends                  | TooLarge |
 * | more than `maxCount` fields                                | TooMany |
 * | framing fields the table of src/http/framing.ts refuses    | Framing (`framing` says why) |
 * | with `hostRule`: a second Host, or one not host[:port]     | Host |
 *
 * Values are recorded without surrounding OWS. The framing table is applied after each framing
 * field, so a refused message is refused at the field that breaks it, as llhttp does. Pinned by
 * test/channels/http1/request-head.test.ts, test/proxy/response-parser.test.ts and test/http/framing.test.ts.
 */
export function scanFields(
  buf: Uint8Array,
  i: number,
  end: number,
  stop: number,
  maxCount: number,
  minor: number,
  hostRule: boolean,
  out: FieldScan,
): void {
  const limit = stop;
  if (stop > end) stop = end;
  const spans = out.spans;
  let count = 0;
  out.hostCount = 0;
  out.hostField = -1;
  out.hostValid = true;
  out.expectFields = null;
  out.upgradeField = false;
  out.close = false;
  out.keepAliveToken = false;
  out.upgradeToken = false;
  out.otherToken = false;
  out.lengthCount = 0;
  out.contentLength = -1;
  out.codingCount = 0;
  out.chunked = false;
  out.framing = FramingFault.None;
  let fault = ScanFault.None;
  for (;;) {
    if (i === end) {
      fault = ScanFault.Partial;
      break;
    }
    const first = buf[i]!;
    if (first === Byte.CR) {
      if (++i === end) {
        fault = ScanFault.Partial;
        break;
      }
      if (buf[i] !== Byte.LF) {
        fault = ScanFault.BareCR;
        break;
      }
      i++;
      break;
    }
    if (first === Byte.LF) {
      fault = ScanFault.BareLF;
      break;
    }
    if (first === Byte.SP || first === Byte.HTAB) {
      fault = ScanFault.ObsFold;
      break;
    }
    if (count === maxCount) {
      fault = ScanFault.TooMany;
      break;
    }

    const nameStart = i;
    while (i < stop && TCHAR[buf[i]!] === 1) i++;
    if (i === stop) {
      fault = i === end ? ScanFault.Partial : ScanFault.TooLarge;
      break;
    }
    if (buf[i] !== Byte.COLON) {
      fault =
        buf[i] === Byte.SP || buf[i] === Byte.HTAB
          ? ScanFault.WhitespaceBeforeColon
          : buf[i] === Byte.LF
            ? ScanFault.BareLF
            : buf[i] === Byte.CR
              ? ScanFault.BareCR
              : ScanFault.BadName;
      break;
    }
    if (i === nameStart) {
      fault = ScanFault.EmptyName;
      break;
    }
    const nameEnd = i++;
    while (i < stop && FIELD_VALUE[buf[i]!] === 2) i++;
    const valueStart = i;
    let valueEnd = i;
    while (i < stop) {
      const kind = FIELD_VALUE[buf[i]!];
      if (kind === 0) break;
      i++;
      if (kind === 1) valueEnd = i;
    }
    if (i === stop) {
      fault = i === end ? ScanFault.Partial : ScanFault.TooLarge;
      break;
    }
    if (buf[i] !== Byte.CR) {
      fault = buf[i] === Byte.LF ? ScanFault.BareLF : ScanFault.Control;
      break;
    }
    if (++i === end) {
      fault = ScanFault.Partial;
      break;
    }
    if (i === limit) {
      fault = ScanFault.TooLarge;
      break;
    }
    if (buf[i] !== Byte.LF) {
      fault = ScanFault.BareCR;
      break;
    }
    i++;

    switch (nameEnd - nameStart) {
      case 4:
        if (equalsFolded(buf, nameStart, 4, HOST)) {
          if (out.hostCount++ === 0) out.hostField = count;
          if (!isHostBytes(buf, valueStart, valueEnd)) out.hostValid = false;
          if (hostRule && (out.hostCount > 1 || !out.hostValid)) {
            fault = ScanFault.Host;
            break;
          }
        }
        break;
      case 6:
        if (equalsFolded(buf, nameStart, 6, EXPECT)) (out.expectFields ??= []).push(count);
        break;
      case 7:
        if (equalsFolded(buf, nameStart, 7, UPGRADE)) out.upgradeField = true;
        break;
      case 10:
        if (equalsFolded(buf, nameStart, 10, CONNECTION)) connectionTokens(buf, valueStart, valueEnd, out);
        break;
      case 14:
        if (equalsFolded(buf, nameStart, 14, CONTENT_LENGTH)) {
          out.lengthCount++;
          out.contentLength = digits(buf, valueStart, valueEnd);
          if ((out.framing = framingFault(out, minor)) !== FramingFault.None) fault = ScanFault.Framing;
        }
        break;
      case 17:
        if (equalsFolded(buf, nameStart, 17, TRANSFER_ENCODING)) {
          // Several fields join into a list, which can never be exactly `chunked`.
          out.chunked = ++out.codingCount === 1 && equalsFolded(buf, valueStart, valueEnd - valueStart, CHUNKED);
          if ((out.framing = framingFault(out, minor)) !== FramingFault.None) fault = ScanFault.Framing;
        }
        break;
    }
    if (fault !== ScanFault.None) break;
    const at = count++ * 4;
    spans[at] = nameStart;
    spans[at + 1] = nameEnd;
    spans[at + 2] = valueStart;
    spans[at + 3] = valueEnd;
  }
  out.fault = fault;
  out.end = i;
  out.count = count;
}

/** Notes the comma-separated tokens of a Connection value, OWS around each, empty elements allowed (RFC 9110 §5.6.1). */
function connectionTokens(buf: Uint8Array, t: number, valueEnd: number, out: FieldScan): void {
  while (t < valueEnd) {
    let e = t;
    while (e < valueEnd && buf[e] !== Byte.COMMA) e++;
    let s = t;
    let z = e;
    while (s < z && FIELD_VALUE[buf[s]!] === 2) s++;
    while (z > s && FIELD_VALUE[buf[z - 1]!] === 2) z--;
    if (z > s) {
      if (equalsFolded(buf, s, z - s, CLOSE)) out.close = true;
      else if (equalsFolded(buf, s, z - s, KEEP_ALIVE)) out.keepAliveToken = true;
      else if (equalsFolded(buf, s, z - s, UPGRADE)) out.upgradeToken = true;
      else out.otherToken = true;
    }
    t = e + 1;
  }
}

/** The value of 1 to 15 ASCII digits at `buf[s..e)`, or -1 (RFC 9110 §8.6, as `isContentLength`). */
function digits(buf: Uint8Array, s: number, e: number): number {
  if (e === s || e - s > MAX_CONTENT_LENGTH_DIGITS) return -1;
  let n = 0;
  for (let d = s; d < e; d++) {
    const c = buf[d]!;
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}
