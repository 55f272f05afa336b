// `--pidfile F`: the running server's pid in a file, claimed atomically, stale ones cleaned.
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { CliError } from './options.js';

/** The pid written in `path`, or null when it is missing or holds no pid. */
function readPid(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/** Whether a process `pid` exists (EPERM: it does, under another user). */
function alive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function refuse(path: string, pid: number): never {
  throw new CliError(`--pidfile ${path}: a server with pid ${pid} is running; stop it first (kill ${pid})`, 1);
}

/**
 * Writes this process's pid to `path`, or refuses while a live process holds it. Race-free between
 * servers starting together: the pid is written to a private file first and then linked into place
 * (`link` fails if the name exists, like O_EXCL, and readers never see a half-written file). A file
 * naming a process that is gone is stale: it is renamed away (atomic, so only one starter gets it),
 * checked to be the stale one that was read, and removed; a live file moved away by mistake is put
 * back. Returns the function that removes the file at exit if it still names this process.
 * Pinned by test/cli/pidfile.test.ts.
 */
export function claimPidfile(path: string): () => void {
  const mine = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(mine, `${process.pid}\n`, { mode: 0o644 });
  } catch (err) {
    throw new CliError(
      `--pidfile ${path}: cannot write there (${(err as NodeJS.ErrnoException).code}); choose a writable directory`,
      1,
    );
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, path);
        return () => release(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new CliError(`--pidfile ${path}: ${(err as Error).message}`, 1);
      }
      const holder = readPid(path);
      if (holder !== null && alive(holder)) refuse(path, holder);
      const aside = `${path}.${process.pid}.stale`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // another starter moved it first
      }
      const moved = readPid(aside);
      if (moved !== null && moved !== holder && alive(moved)) {
        // A server that started meanwhile: give its file back and give way.
        try {
          linkSync(aside, path);
        } finally {
          unlinkSync(aside);
        }
        refuse(path, moved);
      }
      unlinkSync(aside);
    }
    throw new CliError(`--pidfile ${path}: could not claim it; other servers keep starting with it`, 1);
  } finally {
    unlinkSync(mine);
  }
}

/** Removes the pidfile if it still names this process. */
function release(path: string): void {
  if (readPid(path) !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // The directory may no longer be writable after --uid; the next start sees the file is stale.
  }
}
