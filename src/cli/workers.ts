// `--workers N`: a primary process and N worker processes (node:cluster) serving the same listeners.
// The primary binds (as root if need be), replaces a worker that dies, restarts them one at a time on
// SIGHUP, passes SIGUSR1 on and stops them all on SIGTERM/SIGINT; each worker is a full server.
import cluster, { type Worker } from 'node:cluster';
import { CliError } from './options.js';
import { onReopenLogs } from './signals.js';

/** What a worker tells the primary. */
type WorkerMessage = { trellis: 'ready'; lines: string[] } | { trellis: 'failed'; message: string; exitCode: number };

function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && 'trellis' in m;
}

/** Whether this process is a worker of a `--workers` pool. */
export function isWorker(): boolean {
  return cluster.isWorker;
}

/**
 * The per-IP connection cap each of `workers` processes applies, so that one address holds at most
 * `max` connections across the pool: each worker gets an equal share, rounded up. The kernel spreads
 * connections unevenly, so a client may be refused a little before `max` (documented in
 * docs/deploy/production.md); trusted front ends are exempt anyway.
 */
export function perWorkerCap(max: number, workers: number): number {
  return workers > 0 ? Math.max(1, Math.ceil(max / workers)) : max;
}

/** In a worker: serving; `lines` are the start-up lines (the URLs) the primary prints once. */
export function workerReady(lines: string[]): void {
  process.send!({ trellis: 'ready', lines } satisfies WorkerMessage);
  // The primary restarts workers on SIGHUP; one reaching a worker directly (a terminal's hang-up
  // reaches the whole group) must not stop it.
  process.on('SIGHUP', () => {});
}

/**
 * In a worker whose listeners are closed: leaves the pool and resolves once the primary knows, so the
 * worker can exit. The primary may have passed this worker a connection just before it learnt that
 * the listener closed; until the worker answers, the primary holds it, and a worker that exits
 * without answering leaves its client waiting for ever. The worker-initiated disconnect asks the
 * primary and waits for its reply, which comes after every connection it sent before, and each of
 * those is handed back to another worker. Outside a pool, or once the primary is gone, at once.
 */
export function leavePool(): Promise<void> {
  const worker = cluster.worker;
  if (!worker?.isConnected()) return Promise.resolve();
  return new Promise((resolve) => {
    worker.once('disconnect', () => resolve());
    // A primary that never answers must not keep the worker for ever.
    setTimeout(resolve, 5000).unref();
    worker.disconnect();
  });
}

/** In a worker: it could not start; the primary reports `message` and exits. */
export function workerFailed(message: string, exitCode: number): void {
  process.send!({ trellis: 'failed', message, exitCode } satisfies WorkerMessage, () => process.exit(exitCode));
}

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  /** How many workers. */
  count: number;
  /** Called once every first worker is serving, before the start-up lines are printed (privilege drop). */
  onServing(): void;
  /** Called before the primary exits (removing UNIX socket files). */
  onExit(): void;
}

/** Forks one worker and resolves when it serves, or rejects with its one-line reason. */
function fork(): { worker: Worker; ready: Promise<string[]> } {
  const worker = cluster.fork();
  const ready = new Promise<string[]>((resolve, reject) => {
    const onMessage = (m: unknown) => {
      if (!isWorkerMessage(m)) return;
      if (m.trellis === 'ready') resolve(m.lines);
      else reject(new CliError(m.message, m.exitCode));
    };
    worker.on('message', onMessage);
    worker.once('exit', (code, signal) =>
      reject(new CliError(`a worker exited while starting (${signal ?? `status ${code}`})`, 1)),
    );
  });
  ready.catch(() => {});
  return { worker, ready };
}

/**
 * Runs the primary: forks `count` workers (node:cluster, so every worker accepts on the listeners the
 * primary binds for them, whatever their kind), resolves with the first worker's start-up lines once
 * all serve. Then a worker that dies is replaced at once (after a second if it died while starting,
 * so a broken one cannot spin); SIGHUP restarts the workers one at a time, each new one serving
 * before the old one drains, so no request fails; SIGUSR1 is passed to every worker (they reopen
 * their logs); SIGTERM/SIGINT drain every worker and exit. Pinned by test/cli/workers.test.ts.
 */
export async function runPrimary(options: PrimaryOptions): Promise<string[]> {
  const live = new Set<Worker>();
  const retiring = new Set<Worker>();
  let stopping = false;
  let restarting = false;

  const replaceWhenDead = (worker: Worker, started: Promise<unknown>) => {
    live.add(worker);
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      const retired = retiring.delete(worker);
      if (stopping) {
        if (live.size === 0 && retiring.size === 0) finish();
        return;
      }
      if (retired) return;
      process.stderr.write(
        `trellis: worker ${worker.process.pid} exited (${signal ?? `status ${code}`}); starting another\n`,
      );
      started.then(
        () => spawnOne(),
        () => setTimeout(spawnOne, 1000).unref(),
      );
    });
  };
  const spawnOne = (): Promise<string[]> => {
    const { worker, ready } = fork();
    replaceWhenDead(worker, ready);
    ready.catch((err: Error) => process.stderr.write(`trellis: ${err.message}\n`));
    return ready;
  };
  const finish = () => {
    options.onExit();
    process.exit(0);
  };

  const first = Array.from({ length: options.count }, () => fork());
  for (const { worker, ready } of first) replaceWhenDead(worker, ready);
  let lines: string[];
  try {
    lines = (await Promise.all(first.map((f) => f.ready)))[0] ?? [];
  } catch (err) {
    stopping = true;
    for (const { worker } of first) worker.process.kill('SIGKILL');
    options.onExit();
    throw err;
  }
  options.onServing();

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`trellis: ${signal} received, workers finishing in-flight requests\n`);
    if (live.size === 0) finish();
    for (const w of live) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  onReopenLogs(() => {
    for (const w of live) w.process.kill('SIGUSR1');
  });
  process.on('SIGHUP', () => {
    if (restarting || stopping) return;
    restarting = true;
    process.stderr.write('trellis: SIGHUP received, restarting the workers one at a time\n');
    void (async () => {
      for (const old of [...live]) {
        if (stopping) break;
        try {
          await spawnOne();
        } catch {
          process.stderr.write('trellis: a new worker failed to start; keeping the old ones\n');
          break;
        }
        retiring.add(old);
        live.delete(old);
        old.process.kill('SIGTERM');
      }
      restarting = false;
      process.stderr.write('trellis: workers restarted\n');
    })();
  });
  return lines;
}
