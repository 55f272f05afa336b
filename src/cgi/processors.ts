// The CGI processor kinds of `--processor .ext=KIND`: `cgi` (the file is a CGI program),
// `cgi:/path/to/interpreter` (a FilteredScript: `.pl=cgi:/usr/bin/perl`) and `php` (php-cgi as CGI).
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { registerProcessorFamily } from '../static/processors.js';
import { CGIScript, FilteredScript, PHPScript, findPhpCgi } from './cgi-script.js';

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

registerProcessorFamily('cgi', (argument) => {
  if (argument === '') return (path, { root }) => new CGIScript(path, { documentRoot: root });
  const filter = checkInterpreter(argument, `cgi:${argument}`);
  return (path, { root }) => new FilteredScript(path, { filter, documentRoot: root });
});

registerProcessorFamily('php', (argument) => {
  const filter = argument === '' ? findPhpCgi() : checkInterpreter(argument, `php:${argument}`);
  if (filter === null) {
    throw new Error('php: php-cgi is not installed (apt-get install php-cgi); or give its path: php:/path/php-cgi');
  }
  return (path, { root }) => new PHPScript(path, { filter, documentRoot: root });
});
