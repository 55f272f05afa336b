// The CGI processor kinds of `--processor .ext=KIND`: `cgi` (the file is a CGI program),
// `cgi:/path/to/interpreter` (a FilteredScript: `.pl=cgi:/usr/bin/perl`) and `php` (php-cgi as CGI).
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { registerProcessorFamily, type ProcessorSettings } from '../static/processors.js';
import { CGIScript, FilteredScript, PHPScript, findPhpCgi, type CGIScriptOptions } from './cgi-script.js';
import { CgiProcessLimit } from './process-limit.js';

/**
 * Checks that `path` is an executable regular file, else throws an Error saying what to do
 * (SECURITY.md §2.2: refuse to start with a processor whose interpreter does not exist).
 */
export function checkInterpreter(path: string, kind: string): string {
  if (!isAbsolute(path)) throw new Error(`${kind}: the interpreter must be an absolute path, e.g. cgi:/usr/bin/perl`);
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${kind}: ${path} is not an executable file; install it or give the right path`);
  }
  return path;
}

/** One process limit per `--cgi-max-processes` value, shared by every CGI kind that uses it. */
const limits = new Map<number, CgiProcessLimit>();

/** The CGIScript options the settings ask for (nothing set keeps each default). */
function scriptOptions(settings: ProcessorSettings): CGIScriptOptions {
  const options: CGIScriptOptions = {};
  if (settings.timeout !== undefined) options.timeout = settings.timeout;
  if (settings.passEnv !== undefined) options.passEnv = settings.passEnv;
  const max = settings.maxProcesses;
  if (max !== undefined) {
    let limit = limits.get(max);
    if (!limit) limits.set(max, (limit = new CgiProcessLimit(max)));
    options.processLimit = limit;
  }
  return options;
}

registerProcessorFamily('cgi', (argument, settings) => {
  const options = scriptOptions(settings);
  if (argument === '') return (path, { root }) => new CGIScript(path, { ...options, documentRoot: root });
  const filter = checkInterpreter(argument, `cgi:${argument}`);
  return (path, { root }) => new FilteredScript(path, { ...options, filter, documentRoot: root });
});

registerProcessorFamily('php', (argument, settings) => {
  const options = scriptOptions(settings);
  const filter = argument === '' ? findPhpCgi() : checkInterpreter(argument, `php:${argument}`);
  if (filter === null) {
    throw new Error('php: php-cgi is not installed (apt-get install php-cgi); or give its path: php:/path/php-cgi');
  }
  return (path, { root }) => new PHPScript(path, { ...options, filter, documentRoot: root });
});
