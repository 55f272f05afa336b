// The `fastcgi:ADDRESS` processor kinds: `--processor .php=fastcgi:tcp:127.0.0.1:9000` runs each
// such file through a FastCGI application (php-fpm, `php-cgi -b`), as nginx's fastcgi_pass does.
import { registerProcessorFamily, type Processor } from '../static/processors.js';
import { parseFastCGIAddress } from './address.js';
import { FastCGIClientResource, sharedFastCGIPool, type FastCGIClientOptions } from './resource.js';

/**
 * A processor sending each file it is given to the FastCGI application at `address` with
 * SCRIPT_FILENAME set to the file and DOCUMENT_ROOT to the File tree's root; every file shares one
 * pool of connections.
 *
 * ```ts
 * new File('/srv/www', { processors: { '.php': fastcgiProcessor('unix:/run/php/php8.2-fpm.sock') } });
 * ```
 */
export function fastcgiProcessor(
  address: string,
  options: Omit<FastCGIClientOptions, 'address' | 'scriptFilename' | 'documentRoot'> = {},
): Processor {
  const parsed = parseFastCGIAddress(address);
  if (!parsed) throw new TypeError(`fastcgi: needs an address like tcp:127.0.0.1:9000 or unix:/path, not "${address}"`);
  const pool = options.pool ?? sharedFastCGIPool(parsed, options.poolOptions);
  return (path, context) =>
    new FastCGIClientResource({ ...options, pool, scriptFilename: path, documentRoot: context.root });
}

registerProcessorFamily('fastcgi', (address) => fastcgiProcessor(address));
