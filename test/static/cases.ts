// Shared case tables for the static-file logic: run once against the pure functions and once over a
// real socket against a File serving a 100-byte file.
import { request as httpRequest } from 'node:http';
import type { RangeDecision } from '../../src/static/range.js';

/** The 100-byte file the socket tests serve: bytes 0..99 are the digits 0-9 repeated. */
export const HUNDRED = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i % 10)).join(''));

/** `Range` header → decision on a 100-byte representation. */
export const RANGE_CASES: Array<[string, string | undefined, RangeDecision]> = [
  ['no header', undefined, { kind: 'full' }],
  ['another unit', 'items=0-1', { kind: 'full' }],
  ['single range', 'bytes=0-9', { kind: 'partial', ranges: [{ start: 0, end: 9 }] }],
  ['single range with blanks', 'bytes= 10-19 ', { kind: 'partial', ranges: [{ start: 10, end: 19 }] }],
  ['open-ended', 'bytes=90-', { kind: 'partial', ranges: [{ start: 90, end: 99 }] }],
  ['suffix', 'bytes=-10', { kind: 'partial', ranges: [{ start: 90, end: 99 }] }],
  ['suffix longer than the file', 'bytes=-500', { kind: 'partial', ranges: [{ start: 0, end: 99 }] }],
  ['end past the file clamped', 'bytes=50-500', { kind: 'partial', ranges: [{ start: 50, end: 99 }] }],
  ['unit is case-insensitive', 'Bytes=0-0', { kind: 'partial', ranges: [{ start: 0, end: 0 }] }],
  [
    'two ranges',
    'bytes=0-1,5-6',
    {
      kind: 'partial',
      ranges: [
        { start: 0, end: 1 },
        { start: 5, end: 6 },
      ],
    },
  ],
  ['overlapping ranges coalesced', 'bytes=0-3,2-5', { kind: 'partial', ranges: [{ start: 0, end: 5 }] }],
  ['adjacent ranges coalesced and sorted', 'bytes=4-5,0-3', { kind: 'partial', ranges: [{ start: 0, end: 5 }] }],
  ['unsatisfiable part dropped', 'bytes=0-1,200-300', { kind: 'partial', ranges: [{ start: 0, end: 1 }] }],
  ['start at the size', 'bytes=100-', { kind: 'unsatisfiable' }],
  ['suffix of zero', 'bytes=-0', { kind: 'unsatisfiable' }],
  ['every part unsatisfiable', 'bytes=100-101,200-', { kind: 'unsatisfiable' }],
  ['reversed range ignored', 'bytes=5-1', { kind: 'full' }],
  ['garbage ignored', 'bytes=x-y', { kind: 'full' }],
  ['lone dash ignored', 'bytes=-', { kind: 'full' }],
  ['no specs ignored', 'bytes=', { kind: 'full' }],
  ['no equals sign ignored', 'bytes', { kind: 'full' }],
  ['negative start ignored', 'bytes=--5', { kind: 'full' }],
  ['huge number ignored', 'bytes=0-99999999999999999999', { kind: 'full' }],
  ['sum over the size ignored (overlap abuse)', 'bytes=0-99,0-99', { kind: 'full' }],
  [
    '50 ranges served',
    `bytes=${Array.from({ length: 50 }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`,
    { kind: 'partial', ranges: Array.from({ length: 50 }, (_, i) => ({ start: i * 2, end: i * 2 })) },
  ],
  [
    '100 copies of one byte coalesced to one range',
    `bytes=${Array.from({ length: 100 }, () => '0-0').join(',')}`,
    { kind: 'partial', ranges: [{ start: 0, end: 0 }] },
  ],
];

/** A response read whole. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Sends one request with the path as given (no normalisation of `..` or `%2e`), reads the whole reply. */
export function send(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
