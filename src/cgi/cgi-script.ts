// CGI scripts (RFC 3875), Twisted's twcgi: `CGIScript` runs an executable, `FilteredScript` an
// interpreter given the file, `PHPScript` php-cgi. One process per request, streamed both ways.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { HttpError } from '../errors.js';
import {
  CGI_HEAD_LIMITS,
  CGI_HEAD_PARTIAL,
  isCgiHeadError,
  parseCgiHead,
  type CgiHead,
  type CgiHeadLimits,
} from '../http/cgi-head.js';
import { NOT_DONE_YET, type Request } from '../request.js';
import { Resource, type RenderResult } from '../resource.js';
import { CgiError } from './cgi-error.js';
import { cgiEnvironment, checkScriptSegments, type CgiEnvironmentOptions } from './environment.js';
import { localRedirect } from './local-redirect.js';
import { CgiProcessLimit } from './process-limit.js';
import { scriptRefusal, translatePathInfo } from './script-file.js';

/** Options of {@link CGIScript} (and {@link FilteredScript}, {@link PHPScript}, `CGIDirectory`). */
export interface CGIScriptOptions extends CgiEnvironmentOptions {
  /** The document root: `DOCUMENT_ROOT`, and where `PATH_TRANSLATED` maps PATH_INFO. Default none. */
  documentRoot?: string | null;
  /** Wall-clock time a script may run, ms; then SIGTERM, then SIGKILL, to its whole process group. Default 60 s. */
  timeout?: number;
  /** Time between SIGTERM and SIGKILL, ms. Default 2 s. */
  killGrace?: number;
  /** The cap on concurrent CGI processes; past it 503. Default `CgiProcessLimit.shared` (32). */
  processLimit?: CgiProcessLimit;
  /** Bytes of a script's stderr written to the error log per request; the rest is counted, not kept. Default 16 KiB. */
  maxStderrBytes?: number;
  /** Largest request body given to a script; past it 413. Default the Site's `maxBodySize` (10 MiB). */
  maxBodySize?: number;
  /** Limits on the script's response head. Default 16 KiB and 100 lines. */
  headLimits?: CgiHeadLimits;
  /** Non-parsed headers: the script writes the status line itself. Default: its name starts with `nph-`. */
  nph?: boolean;
  /** Where stderr and refusals are logged. Default the Site's error log. */
  logError?: (message: string) => void;
}

const DEFAULT_TIMEOUT = 60_000;
const DEFAULT_KILL_GRACE = 2_000;
const DEFAULT_STDERR_BYTES = 16 * 1024;

/** The error log for `request`: the option, else the Site's, else stderr. */
function logFor(request: Request, options: CGIScriptOptions): (message: string) => void {
  if (options.logError) return options.logError;
  const site = request.site;
  if (site) return (message) => site.logError(message);
  return (message) => void process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** A line for the error log: controls shown as `?`, so a script cannot forge log lines. */
function loggable(text: string): string {
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '?');
}

/**
 * Runs an executable file as a CGI/1.1 script (RFC 3875) for every request that reaches it
 * (Twisted's `twcgi.CGIScript`); it is a leaf, PATH_INFO being what follows it.
 *
 * What it promises (SECURITY.md §2.1–§2.6), pinned by test/cgi/cgi-script.test.ts and
 * test/cgi/hostile.test.ts with real perl, python3 and php-cgi:
 * - The environment is built from scratch (`cgiEnvironment`): meta-variables, `HTTP_*` for headers
 *   named `[A-Za-z0-9-]+` (never `HTTP_PROXY`), `PATH=/usr/bin:/bin` and only the `passEnv` names of
 *   the server's own environment. argv is never made from the request: no ISINDEX, no shell.
 * - A script writable by group or others (or in such a folder), or not executable, is refused (403,
 *   logged) and never served as source.
 * - The body streams to stdin with backpressure (a chunked one is read first, up to `maxBodySize`,
 *   so CONTENT_LENGTH is always right); past `maxBodySize` 413.
 * - The head is parsed strictly (`parseCgiHead`: 16 KiB, 100 lines, token names, no controls,
 *   `Status` 100–599); a malformed head or output ending before it is 502 with an error log line.
 *   `Location: /local` alone is served internally as a GET from the Site's root (at most 10 in a
 *   row), an absolute one is a 302 to the client. NPH scripts (`nph-*`) give their own status line.
 * - The body streams to the client with backpressure: the script's stdout is paused while the
 *   client does not read, so memory stays bounded whatever the script prints.
 * - stderr goes to the error log, `maxStderrBytes` per request at most; the rest is counted.
 * - After `timeout` the whole process group gets SIGTERM, then SIGKILL (504 if nothing was sent);
 *   a client that goes away has the group killed at once.
 * - At most `processLimit.max` scripts run at once; past it 503 with `Retry-After`.
 *
 * ```ts
 * root.putChild('hello', new CGIScript('/srv/cgi-bin/hello.cgi', { timeout: 10_000 }));
 * ```
 */
export class CGIScript extends Resource {
  override isLeaf = true;
  /** Absolute path of the script. */
  readonly filename: string;
  readonly options: Readonly<CGIScriptOptions>;

  constructor(filename: string, options: CGIScriptOptions = {}) {
    super();
    this.filename = resolve(filename);
    this.options = options;
  }

  /** The program and its arguments: the script itself, with no argument. */
  command(): [string, string[]] {
    return [this.filename, []];
  }

  /** Whether the script file itself must be executable (not so when an interpreter reads it). */
  protected get runsFileItself(): boolean {
    return true;
  }

  /** Variables this kind of script always gets (PHP's REDIRECT_STATUS). */
  protected scriptEnv(): Record<string, string> {
    return {};
  }

  override render(request: Request): RenderResult {
    const refusal = scriptRefusal(this.filename, this.runsFileItself);
    if (refusal === 'missing') throw new HttpError(404, 'No such resource.', { code: 'NOT_FOUND' });
    if (refusal !== null) {
      const why =
        refusal === 'writable' ? 'it or its folder is writable by others than its owner' : 'it is not executable';
      logFor(request, this.options)(`CGI: refused to run ${this.filename}: ${why}`);
      throw new CgiError('UNSAFE_SCRIPT', 'This script may not run.');
    }
    const limit = this.options.maxBodySize ?? request.limits.maxBodySize;
    if (request.contentLength !== null && request.contentLength > limit) {
      const message = `The request body is larger than ${limit} bytes.`;
      throw new HttpError(413, message, { code: 'BODY_TOO_LARGE', close: true });
    }
    if (request.hasBody && request.contentLength === null) {
      // A body of unknown length (chunked, HTTP/2): read first, so CONTENT_LENGTH can be set.
      return request.readBody({ limit }).then((body) => this.#start(request, body));
    }
    return this.#start(request, request.hasBody ? 'stream' : null);
  }

  #start(request: Request, body: Buffer | 'stream' | null): typeof NOT_DONE_YET {
    const options = this.options;
    const root = options.documentRoot ?? null;
    // Checked before PATH_INFO is joined onto the root (cgiEnvironment checks again, for its own callers).
    checkScriptSegments(request.postpath, 'PATH_INFO');
    const env = cgiEnvironment(
      request,
      {
        filename: this.filename,
        documentRoot: root,
        pathTranslated: root !== null ? translatePathInfo(root, request.postpath) : null,
        contentLength: body === null ? null : body === 'stream' ? request.contentLength : body.length,
      },
      { ...options, env: { ...options.env, ...this.scriptEnv() } },
    );
    const slots = options.processLimit ?? CgiProcessLimit.shared;
    if (!slots.tryAcquire()) {
      const message = 'Too many scripts are running; try again shortly.';
      throw new CgiError('TOO_MANY_PROCESSES', message, { 'Retry-After': '1' });
    }
    const [file, args] = this.command();
    let child: ChildProcessWithoutNullStreams;
    try {
      // detached: the script leads a process group of its own, so a timeout kills all it started.
      child = spawn(file, args, { cwd: dirname(this.filename), env, detached: true, stdio: 'pipe' });
    } catch (err) {
      slots.release();
      throw new CgiError('SPAWN_FAILED', `Could not start ${file}: ${(err as Error).message}`);
    }
    new CgiRun(this, request, child, slots, logFor(request, options)).start(body);
    return NOT_DONE_YET;
  }
}

/** One running script: its process, the request it answers, and the state between them. */
class CgiRun {
  readonly #script: CGIScript;
  readonly #request: Request;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #slots: CgiProcessLimit;
  readonly #log: (message: string) => void;
  /** Head bytes so far (bounded by the head limit), until the head is parsed. */
  #head: Buffer | null = Buffer.alloc(0);
  /** Whether the client gets the script's output (false after a failure or local redirect). */
  #relaying = true;
  #ended = false;
  #timer: NodeJS.Timeout | null = null;
  #killTimer: NodeJS.Timeout | null = null;
  #stderrLeft: number;
  #stderrDropped = 0;
  #stderrLine = '';

  constructor(
    script: CGIScript,
    request: Request,
    child: ChildProcessWithoutNullStreams,
    slots: CgiProcessLimit,
    log: (m: string) => void,
  ) {
    this.#script = script;
    this.#request = request;
    this.#child = child;
    this.#slots = slots;
    this.#log = log;
    this.#stderrLeft = script.options.maxStderrBytes ?? DEFAULT_STDERR_BYTES;
  }

  start(body: Buffer | 'stream' | null): void {
    const child = this.#child;
    const request = this.#request;
    child.once('error', (err) => {
      this.#exited();
      this.#fail(new CgiError('SPAWN_FAILED', `Could not start ${this.#script.command()[0]}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      this.#exited();
      this.#flushStderr();
      if (signal) this.#log(`CGI: ${this.#script.filename} was ended by ${signal}`);
      else if (code) this.#log(`CGI: ${this.#script.filename} exited with status ${code}`);
    });
    this.#timer = setTimeout(() => this.#timeout(), this.#script.options.timeout ?? DEFAULT_TIMEOUT);
    request.whenDone((r) => {
      if (r.disconnected) this.#kill();
    });

    // stdin: the script may exit without reading it (EPIPE), which is no error of the request.
    child.stdin.on('error', () => {});
    if (body === 'stream') {
      let stream;
      try {
        stream = request.stream();
      } catch (err) {
        this.#fail(err as Error);
        return;
      }
      stream.on('error', () => this.#kill());
      stream.pipe(child.stdin);
    } else {
      child.stdin.end(body ?? undefined);
    }

    child.stdout.on('data', (chunk: Buffer) => this.#stdout(chunk));
    child.stdout.on('end', () => this.#stdoutEnd());
    child.stdout.on('error', () => {});
    child.stderr.on('data', (chunk: Buffer) => this.#stderr(chunk));
    child.stderr.on('error', () => {});
  }

  #stdout(chunk: Buffer): void {
    if (!this.#relaying) return;
    const request = this.#request;
    if (this.#head === null) {
      this.#write(chunk);
      return;
    }
    const limits = this.#script.options.headLimits ?? CGI_HEAD_LIMITS;
    const buf = this.#head.length ? Buffer.concat([this.#head, chunk]) : chunk;
    const nph = this.#script.options.nph ?? basename(this.#script.filename).startsWith('nph-');
    const parsed = parseCgiHead(buf.length > limits.maxBytes ? buf.subarray(0, limits.maxBytes) : buf, { nph, limits });
    if (parsed === CGI_HEAD_PARTIAL) {
      this.#head = buf;
      return;
    }
    this.#head = null;
    if (isCgiHeadError(parsed)) {
      const message = `${this.#script.filename} printed a malformed response head: ${parsed.error}`;
      this.#fail(new CgiError('BAD_OUTPUT', message));
      return;
    }
    if (request.disconnected || request.finished) {
      this.#relaying = false;
      return;
    }
    if (parsed.kind === 'local-redirect') {
      this.#relaying = false;
      localRedirect(request, parsed.location!, (err) => this.#fail(err));
      return;
    }
    if (!this.#applyHead(parsed)) return;
    if (buf.length > parsed.bodyStart) this.#write(buf.subarray(parsed.bodyStart));
  }

  /** Sets the status and fields of `head` on the response; false (and a 502) when a field is refused. */
  #applyHead(head: CgiHead): boolean {
    const request = this.#request;
    try {
      request.setResponseCode(head.status, head.reason || undefined);
      const fields = head.fields;
      for (let i = 0; i < fields.length; i += 2) request.addHeader(fields[i]!, fields[i + 1]!);
    } catch (err) {
      const message = `${this.#script.filename} sent a field that cannot be sent: ${(err as Error).message}`;
      this.#fail(new CgiError('BAD_OUTPUT', message));
      return false;
    }
    return true;
  }

  /** Relays body bytes; while the client's side is full, the script's stdout waits. */
  #write(chunk: Buffer): void {
    const request = this.#request;
    if (request.disconnected || request.finished) return;
    if (!request.write(chunk)) {
      const stdout = this.#child.stdout;
      stdout.pause();
      void request.drain().then(() => stdout.resume());
    }
  }

  #stdoutEnd(): void {
    if (!this.#relaying) return;
    if (this.#head !== null) {
      const what = this.#head.length ? 'before the end of its response head' : 'without any output';
      this.#fail(new CgiError('NO_HEAD', `${this.#script.filename} ended ${what}`));
      return;
    }
    this.#request.finish();
  }

  #stderr(chunk: Buffer): void {
    if (this.#stderrLeft <= 0) {
      this.#stderrDropped += chunk.length;
      return;
    }
    const kept = chunk.length > this.#stderrLeft ? chunk.subarray(0, this.#stderrLeft) : chunk;
    this.#stderrDropped += chunk.length - kept.length;
    this.#stderrLeft -= kept.length;
    const lines = (this.#stderrLine + kept.toString('utf8')).split('\n');
    this.#stderrLine = lines.pop()!;
    for (const line of lines) this.#log(`CGI ${this.#script.filename} stderr: ${loggable(line)}`);
  }

  #flushStderr(): void {
    if (this.#stderrLine) this.#log(`CGI ${this.#script.filename} stderr: ${loggable(this.#stderrLine)}`);
    this.#stderrLine = '';
    if (this.#stderrDropped) {
      this.#log(`CGI ${this.#script.filename}: ${this.#stderrDropped} more bytes of stderr not logged`);
      this.#stderrDropped = 0;
    }
  }

  #timeout(): void {
    this.#timer = null;
    const seconds = (this.#script.options.timeout ?? DEFAULT_TIMEOUT) / 1000;
    this.#kill();
    const message = `${this.#script.filename} ran past its ${seconds} s timeout; its process group was killed`;
    this.#fail(new CgiError('TIMEOUT', message));
  }

  /** Answers with `error` (or drops the connection once the answer started); the output is ignored from now on. */
  #fail(error: Error): void {
    this.#relaying = false;
    this.#head = null;
    this.#kill();
    this.#request.processingFailed(error);
  }

  /** SIGTERM to the script's process group, SIGKILL after the grace; nothing once it has ended. */
  #kill(): void {
    if (this.#ended || this.#killTimer) return;
    this.#signal('SIGTERM');
    this.#killTimer = setTimeout(() => this.#signal('SIGKILL'), this.#script.options.killGrace ?? DEFAULT_KILL_GRACE);
    this.#killTimer.unref();
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  }

  /** The process is gone (or never started): its slot is free and no timer is left. */
  #exited(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#slots.release();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    // Whatever the script left running in its group goes with it once it is killed.
    if (this.#killTimer) {
      clearTimeout(this.#killTimer);
      this.#killTimer = null;
      this.#signal('SIGKILL');
    }
  }
}

/**
 * Runs a file through an interpreter (Twisted's `twcgi.FilteredScript`): argv is `[filter,
 * filename]`, never more (no query words). The file need not be executable. Set `filter` by option
 * or in a subclass, as seed 001's perl example does:
 *
 * ```ts
 * class PerlScript extends FilteredScript {
 *   override filter = '/usr/bin/perl';
 * }
 * root.processors['.pl'] = (path) => new PerlScript(path);
 * ```
 */
export class FilteredScript extends CGIScript {
  /** The interpreter. Default `/usr/bin/cat` (Twisted's). */
  filter: string;

  constructor(filename: string, options: CGIScriptOptions & { filter?: string } = {}) {
    super(filename, options);
    this.filter = options.filter ?? '/usr/bin/cat';
  }

  override command(): [string, string[]] {
    return [this.filter, [this.filename]];
  }

  protected override get runsFileItself(): boolean {
    return false;
  }
}

/** Where `php-cgi` is looked for, in order. */
const PHP_CGI_PATHS = ['/usr/bin/php-cgi', '/usr/local/bin/php-cgi'];

/** The path of `php-cgi` on this machine, or null when it is not installed. */
export function findPhpCgi(): string | null {
  return PHP_CGI_PATHS.find((path) => existsSync(path)) ?? null;
}

/**
 * A PHP page run by `php-cgi` as a CGI script: the FilteredScript of `php-cgi` with what it needs,
 * `REDIRECT_STATUS=200` (php-cgi's `cgi.force_redirect` refuses to run without it) and
 * `SCRIPT_FILENAME` (the page it runs). The interpreter is `options.filter`, or `php-cgi` found on
 * the usual paths.
 *
 * ```ts
 * root.processors['.php'] = (path, { root: docRoot }) => new PHPScript(path, { documentRoot: docRoot });
 * ```
 */
export class PHPScript extends FilteredScript {
  constructor(filename: string, options: CGIScriptOptions & { filter?: string } = {}) {
    super(filename, { ...options, filter: options.filter ?? findPhpCgi() ?? '/usr/bin/php-cgi' });
  }

  protected override scriptEnv(): Record<string, string> {
    return { REDIRECT_STATUS: '200' };
  }

  /** php-cgi reads the page from SCRIPT_FILENAME; the argument stays off so no query becomes argv. */
  override command(): [string, string[]] {
    return [this.filter, []];
  }
}
