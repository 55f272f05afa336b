// The `fastcgi:ADDRESS` processor kinds: `--processor .php=fastcgi:tcp:127.0.0.1:9000` runs each
// such file through a FastCGI application (php-fpm, `php-cgi -b`), as nginx's fastcgi_pass does.
import { registerProcessorFamily, type Processor } from '../static/processors.js';
import { parseFastCGIAddress } from './address.js';
import { FastCGIClientResource, sharedFastCGIPool, type FastCGIClientOptions } from './resource.js';

/** Most scripts whose resource one processor keeps; past it, the kept ones are dropped and made again as asked for. */
const MAX_KEPT_SCRIPTS = 256;

/**
 * A processor sending each file it is given to the FastCGI application at `address` with
 * SCRIPT_FILENAME set to the file and DOCUMENT_ROOT to the File tree's root; every file shares one
 * pool of connections. The resource of a script is made once and kept (it holds no request state),
 * so each request reuses its encoded PARAMS; the File still stats and resolves the script on every
 * turn before handing it over.
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
  const kept = new Map<string, FastCGIClientResource>();
  return (path, context) => {
    const known = kept.get(path);
    if (known !== undefined && known.documentRoot === context.root) return known;
    if (kept.size >= MAX_KEPT_SCRIPTS) kept.clear();
    const resource = new FastCGIClientResource({ ...options, pool, scriptFilename: path, documentRoot: context.root });
    kept.set(path, resource);
    return resource;
  };
}

registerProcessorFamily('fastcgi', (address) => fastcgiProcessor(address));
