// Streaming a file (or byte ranges of it) into a Request with backpressure: reads into small pooled
// slabs, batched while the client keeps up, each written only when the channel has room; the
// descriptor checked against the stat the decision was made on and judged by the symlink policy.
import { close, closeSync, fstat, fstatSync, open, openSync, readv, type Stats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import type { Request } from '../request.js';
import { statusForFsError } from './path-safety.js';
import type { ByteRange } from './range.js';

/**
 * One read buffer. A response the client stops reading leaves the channel holding about one slab
 * (the write that found the socket full), so this bounds what each stalled connection pins.
 */
export const SLAB = 64 * 1024;
/** Most slabs one read fills (1 MiB): reached by doubling while every write goes straight through. */
const MAX_SLABS_PER_READ = 16;
/** Most free slabs kept for the next responses (8 MiB), so large files do not allocate per read. */
const POOL_MAX = 128;
/** Slabs that responses let go of, reused by later reads. */
const pool: Buffer[] = [];

function takeSlab(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(SLAB);
}

function giveBack(slabs: readonly Buffer[]): void {
  for (const slab of slabs) if (pool.length < POOL_MAX) pool.push(slab);
}

/** Bytes `[at, at + length)` of a file, read into `slabs`; `views` are the parts filled, in order. */
interface Batch {
  at: number;
  length: number;
  slabs: Buffer[];
  views: Buffer[];
}

/** Reads `length` bytes at `at` into fresh slabs with one `preadv`; rejects when the file shrank. */
function readBatch(fd: number, at: number, length: number): Promise<Batch> {
  const slabs: Buffer[] = [];
  const views: Buffer[] = [];
  for (let left = length; left > 0; left -= SLAB) {
    const slab = takeSlab();
    slabs.push(slab);
    views.push(left >= SLAB ? slab : slab.subarray(0, left));
  }
  return new Promise((resolve, reject) =>
    readv(fd, views, at, (err, n) => {
      if (err || n !== length) {
        giveBack(slabs);
        reject(err ?? new Error('file shrank while being sent'));
      } else {
        resolve({ at, length, slabs, views });
      }
    }),
  );
}

/** A piece of the body: either literal bytes or a byte range of the file. */
export type BodyPiece = Buffer | ByteRange;

/** Read-only and never blocking: a FIFO swapped in for the file cannot hold a thread of the pool. */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

function openAsync(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, OPEN_FLAGS, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function fstatAsync(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
}

/** Judges an opened descriptor: null to go on, or the status that refuses it. */
export type OpenedCheck = (fd: number, opened: Stats) => 403 | 404 | null;

/**
 * Opens `path` and checks it is still the regular file `st` described (device and inode), then
 * hands the descriptor and its fstat to `allowed`, which decides on the file actually opened
 * (SECURITY.md §1.2: a symlink swapped in after any earlier check is judged by where it led).
 * Resolves the descriptor, or rejects with an fs error (a refusal rejects as ENOENT or EACCES),
 * which the caller maps to 403/404.
 */
export async function openChecked(path: string, st: Stats, allowed: OpenedCheck): Promise<number> {
  const fd = await openAsync(path);
  try {
    const now = await fstatAsync(fd);
    if (now.dev !== st.dev || now.ino !== st.ino || !now.isFile()) throw refusal(404);
    const refused = allowed(fd, now);
    if (refused !== null) throw refusal(refused);
  } catch (err) {
    close(fd, () => {});
    throw err;
  }
  return fd;
}

/**
 * The check of {@link openChecked} made synchronously on a descriptor opened only for it (and
 * closed): null when the file `st` described is still at `path` and `allowed` passes it, else the
 * status that refuses it (fs errors map to 403/404). A verdict kept with `st` is then about that file.
 */
export function checkOpenedFile(path: string, st: Stats, allowed: OpenedCheck): 403 | 404 | null {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    return statusForFsError(err);
  }
  try {
    const now = fstatSync(fd);
    if (now.dev !== st.dev || now.ino !== st.ino || !now.isFile()) return 404;
    return allowed(fd, now);
  } catch (err) {
    return statusForFsError(err);
  } finally {
    closeSync(fd);
  }
}

function refusal(status: 403 | 404): Error {
  return Object.assign(new Error('file refused after opening'), { code: status === 403 ? 'EACCES' : 'ENOENT' });
}

/**
 * Writes `pieces` from the open descriptor `fd` to `request`, then finishes it and closes `fd`.
 * Waits on `request.drain()` whenever a write reports a full buffer; stops when the client leaves.
 * A read error after the headers went out drops the connection (the length was already promised).
 *
 * Memory per response is bounded by what the client takes, not by the file: reads fill
 * {@link SLAB}-sized buffers, one slab per read at first, doubling up to 1 MiB per read (one
 * `preadv`) while the channel takes every write; each slab is written on its own, so a channel
 * that fills holds the one slab that found it full. Then the slabs not yet written and the read
 * ahead go back to the pool (the position rewinds to the first unsent byte), reads drop to one slab,
 * and the stream waits for the drain. A stalled client thus pins about one or two slabs besides the
 * socket's own buffer, however large the file (test/static/stalled-clients.test.ts).
 *
 * A slab is reused only once the channel let go of it: written straight through to the OS
 * (`request.writesReleased`), never read into again while a channel or encoder may hold it. Free
 * slabs go to a pool shared by later responses, capped at {@link POOL_MAX}; the rest are garbage.
 */
export async function streamPieces(request: Request, fd: number, pieces: readonly BodyPiece[]): Promise<void> {
  let pending: Promise<Batch> | null = null;
  let slabsPerRead = 1;
  try {
    for (const piece of pieces) {
      if (Buffer.isBuffer(piece)) {
        if (!request.write(piece)) await request.drain();
        continue;
      }
      let position = piece.start;
      const end = piece.end + 1;
      const readNext = (): Promise<Batch> | null => {
        if (position >= end) return null;
        const length = Math.min(slabsPerRead * SLAB, end - position);
        const batch = readBatch(fd, position, length);
        position += length;
        batch.catch(() => {});
        return batch;
      };
      pending = readNext();
      while (pending) {
        const batch: Batch = await pending;
        pending = null;
        if (request.disconnected || request.finished) {
          giveBack(batch.slabs);
          return;
        }
        // Read one batch ahead: the next read runs while this one is written.
        pending = readNext();
        let sent = 0;
        let full = false;
        while (sent < batch.views.length && !full) {
          const ok = request.write(batch.views[sent]!);
          // Written straight through to the OS: the slab is free again at once. Else the channel keeps it.
          if (ok && request.writesReleased) giveBack([batch.slabs[sent]!]);
          full = !ok;
          sent++;
        }
        if (!full) {
          slabsPerRead = Math.min(slabsPerRead * 2, MAX_SLABS_PER_READ);
          continue;
        }
        slabsPerRead = 1;
        giveBack(batch.slabs.slice(sent));
        // Keep a read ahead of one slab that follows on (a slow client's usual case); drop a larger
        // one, or one past bytes still unsent, and read again from the first unsent byte later.
        const firstUnsent = batch.at + batch.views.slice(0, sent).reduce((n, v) => n + v.length, 0);
        if (position - firstUnsent > SLAB || firstUnsent !== batch.at + batch.length) {
          const ahead = pending as Promise<Batch> | null;
          pending = null;
          position = firstUnsent;
          if (ahead) giveBack((await ahead).slabs);
        }
        await request.drain();
        pending ??= readNext();
      }
    }
    request.finish();
  } catch {
    request.abortConnection();
  } finally {
    // Never close the descriptor under a read still in flight; a read never written is nobody's.
    if (pending) {
      const unsent = await pending.then(
        (batch) => batch,
        () => null,
      );
      if (unsent) giveBack(unsent.slabs);
    }
    close(fd, () => {});
  }
}
