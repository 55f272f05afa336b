// SIGHUP: read the configuration again (the module, the JSON file, the drop-ins, the certificates)
// and swap it in under the open listeners; a configuration that fails keeps the running one.
import { nextModuleGeneration } from './load-module.js';
import type { AppPlan } from './app-plan.js';
import type { RunningApp } from './serve.js';

function logLine(text: string): void {
  if (process.stderr.writable && !process.stderr.destroyed) process.stderr.write(`${new Date().toISOString()} trellis: ${text}\n`);
}

/**
 * Reloads `running` from `load` on each SIGHUP. User modules are imported afresh (a module imported
 * by name on the command line, in `run FILE`, in `--config-dir`, is read again; what those import
 * stays as first loaded). Reloads never overlap: a SIGHUP during one starts another after it.
 * Either line goes to stderr: `configuration reloaded`, or `configuration not reloaded: WHY; still
 * serving the previous one`. Pinned by test/cli/reload.test.ts (zero failed requests under load).
 */
export function reloadOnHangup(running: RunningApp, load: () => Promise<AppPlan>): void {
  let busy = false;
  let again = false;
  const reload = async (): Promise<void> => {
    busy = true;
    do {
      again = false;
      nextModuleGeneration();
      try {
        await running.replace(await load());
        logLine('SIGHUP: configuration reloaded');
      } catch (err) {
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        logLine(`SIGHUP: configuration not reloaded: ${why}; still serving the previous one`);
      }
    } while (again);
    busy = false;
  };
  process.on('SIGHUP', () => {
    if (busy) again = true;
    else void reload();
  });
}
