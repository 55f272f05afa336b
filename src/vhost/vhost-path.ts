// `--vhost-path DIR`: every subdirectory of DIR is the site of the host it is named after (web2).
import { join } from 'node:path';
import type { Resource } from '../resource.js';
import type { Request } from '../request.js';
import { statIs } from '../util/stat-is.js';
import { NameVirtualHost, type NameVirtualHostOptions } from './name-virtual-host.js';

/** Host names that may name a directory: dot-separated labels, never `.`, `..` or a leading dot. */
const HOST_DIR = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/**
 * A NameVirtualHost whose hosts are the subdirectories of `dir`, looked up when a request comes
 * (new directories need no restart): Host `www.example.com` is served from `dir/www.example.com`
 * by `makeResource(path)`. Parent domains are tried as in NameVirtualHost. A Host that is not a
 * plain name (so never `..`) never reaches the file system; unknown hosts go to `default` or 404.
 *
 * ```ts
 * const root = new VHostPath('/var/vhosts', (path) => new File(path));
 * ```
 */
export class VHostPath extends NameVirtualHost {
  readonly dir: string;
  readonly makeResource: (path: string) => Resource;
  #cache = new Map<string, Resource>();

  constructor(dir: string, makeResource: (path: string) => Resource, options: NameVirtualHostOptions = {}) {
    super(options);
    this.dir = dir;
    this.makeResource = makeResource;
  }

  #lookup(name: string): Resource | null {
    if (!HOST_DIR.test(name)) return null;
    const cached = this.#cache.get(name);
    const path = join(this.dir, name);
    if (!statIs(path, (st) => st.isDirectory())) {
      this.#cache.delete(name);
      return null;
    }
    if (cached) return cached;
    const made = this.makeResource(path);
    this.#cache.set(name, made);
    return made;
  }

  override resourceFor(request: Request): Resource | null {
    const explicit = this.hosts.get(request.getRequestHostname().toLowerCase().replace(/\.$/, ''));
    if (explicit) return explicit;
    let host = request.getRequestHostname().toLowerCase().replace(/\.$/, '');
    for (;;) {
      const found = this.#lookup(host);
      if (found) return found;
      const dot = host.indexOf('.');
      if (!this.supportNested || dot === -1 || host.indexOf('.', dot + 1) === -1) break;
      host = host.slice(dot + 1);
    }
    return this.default;
  }
}
