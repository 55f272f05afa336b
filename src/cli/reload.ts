// SIGHUP: read the configuration again (the module, the JSON file, the drop-ins, the certificates)
// and swap it in under the open listeners; a configuration that fails keeps the running one.
import { nextModuleGeneration, oneLineMessage } from './load-module.js';
import type { AppPlan } from './app-plan.js';
import type { RunningApp } from './serve.js';

function logLine(text: string): void {
  if (process.stderr.writable && !process.stderr.destroyed)
    process.stderr.write(`${new Date().toISOString()} trellis: ${text}\n`);
}

/**
 * Reloads the served configuration from `load` on each SIGHUP. The signal is taken at once (Node's
 * default for SIGHUP is to exit), before anything listens; one that arrives while starting reloads
 * once {@link Reloader.serving} is called. User modules are imported afresh (a module named on the
 * command line, `run FILE`, the drop-ins of `--config-dir`; what those import stays as first loaded).
 * Reloads never overlap: a SIGHUP during one starts another after it. Either line goes to stderr:
 * `configuration reloaded`, or `configuration not reloaded: WHY; still serving the previous one`.
 * Pinned by test/cli/reload.test.ts (zero failed requests under load).
 */
export function reloadOnHangup(load: () => Promise<AppPlan>): Reloader {
  let running: RunningApp | null = null;
  let busy = false;
  let again = false;
  const reload = async (app: RunningApp): Promise<void> => {
    busy = true;
    do {
      again = false;
      nextModuleGeneration();
      try {
        await app.replace(await load());
        logLine('SIGHUP: configuration reloaded');
      } catch (err) {
        logLine(`SIGHUP: configuration not reloaded: ${oneLineMessage(err)}; still serving the previous one`);
      }
    } while (again);
    busy = false;
  };
  process.on('SIGHUP', () => {
    if (busy || !running) again = true;
    else void reload(running);
  });
  return {
    serving(app) {
      running = app;
      if (again) void reload(app);
    },
  };
}

/** What {@link reloadOnHangup} returns. */
export interface Reloader {
  /** Says what is being served; reloads from now on. */
  serving(app: RunningApp): void;
}
