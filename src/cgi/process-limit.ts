// How many CGI processes may run at once: a counter of slots shared by the scripts given it.

/** The number of slots of {@link CgiProcessLimit.shared}. */
export const DEFAULT_MAX_CGI_PROCESSES = 32;

/**
 * A cap on concurrent CGI processes: a script takes a slot before it is spawned and gives it back
 * when its process has exited; with none free the request is a 503 (SECURITY.md, the promise that
 * bad input never takes the server down: a flood of script requests cannot fork without end).
 *
 * ```ts
 * const limit = new CgiProcessLimit(8);
 * new CGIScript('/srv/cgi-bin/report', { processLimit: limit });
 * ```
 */
export class CgiProcessLimit {
  /** The limit every CGI resource uses unless given its own: 32 processes. */
  static readonly shared: CgiProcessLimit = new CgiProcessLimit(DEFAULT_MAX_CGI_PROCESSES);
  readonly max: number;
  #running = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`A CGI process limit must be a positive integer, not ${max}`);
    }
    this.max = max;
  }

  /** Processes running now. */
  get running(): number {
    return this.#running;
  }

  /** Takes a slot; false when none is free. */
  tryAcquire(): boolean {
    if (this.#running >= this.max) return false;
    this.#running++;
    return true;
  }

  /** Gives a slot back. */
  release(): void {
    if (this.#running > 0) this.#running--;
  }
}
