// Streaming a file (or byte ranges of it) into a Request with backpressure: big reads, each written
// only when the channel has room, the descriptor checked against the stat the decision was made on.
import { close, closeSync, fstat, fstatSync, open, openSync, read, constants as fsConstants, type Stats } from 'node:fs';
import type { Request } from '../request.js';
import { statusForFsError } from './path-safety.js';
import type { ByteRange } from './range.js';

/** Read size for streamed bodies: large reads keep a 64 MiB file near disk/loopback speed. */
export const READ_CHUNK = 1024 * 1024;
/** Most released read buffers kept for the next responses (8 MiB): enough for a few concurrent streams. */
const POOL_MAX = 8;
/** Read buffers a finished response let go of, reused by the next ones. */
const pool: Buffer[] = [];

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

function readAsync(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buffer, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
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
 * Reads go into at most two {@link READ_CHUNK} buffers per response, used in turn: one is being read
 * into while the other is written. A buffer is read into again only after the write that carried it
 * reported a full channel and the channel then drained, which means it let go of those bytes, or
 * after a write the channel says it passed straight to the OS (`request.writesReleased`); a channel
 * that accepted a write without saying so may still hold it, so that buffer is not reused.
 * Reusing the memory spares the page faults of a fresh megabyte for every read; when the response
 * ends, its released buffers go to a small pool shared by later responses (at most {@link POOL_MAX}),
 * so a stream of large-file requests does not leave megabytes for the garbage collector each time.
 */
export async function streamPieces(request: Request, fd: number, pieces: readonly BodyPiece[]): Promise<void> {
  let pending: Promise<Buffer> | null = null;
  const spare: Buffer[] = [];
  try {
    for (const piece of pieces) {
      if (Buffer.isBuffer(piece)) {
        if (!request.write(piece)) await request.drain();
        continue;
      }
      // Read one chunk ahead: the next read runs while the channel drains the previous write.
      let position = piece.start;
      const end = piece.end + 1;
      const readNext = (): Promise<Buffer> | null => {
        if (position >= end) return null;
        const length = Math.min(READ_CHUNK, end - position);
        const at = position;
        position += length;
        const buffer = (spare.pop() ?? pool.pop())?.subarray(0, length) ?? Buffer.allocUnsafeSlow(length);
        return readAsync(fd, buffer, length, at).then((n) => {
          if (n !== length) throw new Error('file shrank while being sent');
          return buffer;
        });
      };
      pending = readNext();
      while (pending) {
        const chunk = await pending;
        if (request.disconnected || request.finished) return;
        pending = readNext();
        pending?.catch(() => {});
        if (request.write(chunk)) {
          // Written straight through to the OS: the buffer is free again at once.
          if (chunk.buffer.byteLength === READ_CHUNK && request.writesReleased) spare.push(Buffer.from(chunk.buffer, 0, READ_CHUNK));
          continue;
        }
        await request.drain();
        if (chunk.buffer.byteLength === READ_CHUNK && !request.disconnected && !request.finished && !request.encodingBody) {
          spare.push(Buffer.from(chunk.buffer, 0, READ_CHUNK));
        }
      }
    }
    request.finish();
  } catch {
    request.abortConnection();
  } finally {
    // Never close the descriptor under a read still in flight.
    if (pending) {
      const unsent = await pending.then(
        (buffer) => buffer,
        () => null,
      );
      // A read that was never written is not held by the channel.
      if (unsent && unsent.buffer.byteLength === READ_CHUNK) spare.push(Buffer.from(unsent.buffer, 0, READ_CHUNK));
    }
    close(fd, () => {});
    while (spare.length > 0 && pool.length < POOL_MAX) pool.push(spare.pop()!);
  }
}
