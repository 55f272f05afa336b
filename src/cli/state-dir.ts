// The state directory: where Trellis keeps what must outlive a process (the default SQLite session
// file of a --workers pool).
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * `$TRELLIS_STATE_DIR`, else `$XDG_STATE_HOME/trellis`, else `~/.local/state/trellis`
 * (created `0700` when first needed).
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRELLIS_STATE_DIR) return env.TRELLIS_STATE_DIR;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'trellis');
  return join(homedir(), '.local', 'state', 'trellis');
}

/**
 * The default session file of a `--workers` pool: `sessions-HASH.sqlite` in the state directory, HASH
 * taken from the working directory and the listeners, so two sites on one machine never share a file
 * by accident.
 */
export function defaultSessionFile(
  cwd: string,
  listeners: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([cwd, ...listeners]))
    .digest('hex')
    .slice(0, 12);
  return join(stateDir(env), `sessions-${hash}.sqlite`);
}
