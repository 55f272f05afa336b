// Byte ranges (RFC 9110 §14): parsing a Range header against a file size into a decision, with the
// abuse limits of SECURITY.md §1.6 (at most 50 ranges after coalescing, total no larger than the file).

/** Most ranges served in one response after coalescing (SECURITY.md §1.6); more and Range is ignored. */
export const MAX_RANGES = 50;

/** One satisfiable byte range, both ends inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What a Range header asks for. */
export type RangeDecision =
  /** Serve the whole representation (no header, another unit, malformed, or abusive). */
  | { kind: 'full' }
  /** 416 with `Content-Range: bytes *\/SIZE`. */
  | { kind: 'unsatisfiable' }
  /** 206 with one range, or `multipart/byteranges` with several (sorted and coalesced). */
  | { kind: 'partial'; ranges: ByteRange[] };

const FULL: RangeDecision = { kind: 'full' };
const SPEC = /^(\d*)-(\d*)$/;

/**
 * Decides what to answer to `Range: header` on a representation of `size` bytes.
 *
 * | header (size 100)      | result                                  |
 * |------------------------|-----------------------------------------|
 * | absent / `items=0-1`   | full                                    |
 * | `bytes=0-9`            | partial 0-9                             |
 * | `bytes=90-`            | partial 90-99                           |
 * | `bytes=-10`            | partial 90-99                           |
 * | `bytes=-500`           | partial 0-99 (suffix longer than file)  |
 * | `bytes=50-500`         | partial 50-99 (end clamped)             |
 * | `bytes=0-1,1-3,5-6`    | partial 0-3, 5-6 (coalesced, sorted)    |
 * | `bytes=100-` / `-0`    | unsatisfiable                           |
 * | `bytes=5-1`, `bytes=x` | full (malformed: ignored)               |
 * | more than 50 ranges    | full (after coalescing)                 |
 * | ranges summing > size  | full (overlap abuse)                    |
 *
 * Unsatisfiable specs among satisfiable ones are dropped; the answer is 416 only when none is left.
 */
export function parseRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return FULL;
  const eq = header.indexOf('=');
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return FULL;
  const specs = header.slice(eq + 1).split(',');
  // Bound the work before parsing: a header with thousands of specs is abuse, not a request.
  if (specs.length > MAX_RANGES * 4) return FULL;
  const ranges: ByteRange[] = [];
  let requested = 0;
  let sawSpec = false;
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === '') continue;
    sawSpec = true;
    const m = SPEC.exec(spec);
    if (!m) return FULL;
    const [, first, last] = m as unknown as [string, string, string];
    if (first === '' && last === '') return FULL;
    let start: number;
    let end: number;
    if (first === '') {
      const suffix = Number(last);
      if (!Number.isSafeInteger(suffix)) return FULL;
      if (suffix === 0 || size === 0) continue;
      start = Math.max(0, size - suffix);
      end = size - 1;
    } else {
      start = Number(first);
      end = last === '' ? size - 1 : Number(last);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return FULL;
      if (last !== '' && end < start) return FULL;
      if (start >= size) continue;
      end = Math.min(end, size - 1);
    }
    requested += end - start + 1;
    ranges.push({ start, end });
  }
  if (!sawSpec) return FULL;
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  if (requested > size && ranges.length > 1) return FULL;
  const merged = coalesce(ranges);
  if (merged.length > MAX_RANGES) return FULL;
  return { kind: 'partial', ranges: merged };
}

/** Sorts ranges and merges overlapping or adjacent ones. */
export function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** `Content-Range` value for a range of a `size`-byte representation (`bytes 0-9/100`). */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** `Content-Range` value of a 416 answer (`bytes *\/100`). */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}
