// `--config-dir DIR` (Debian's /etc/twisted-web/local.d): every module in DIR, in name order, may add
// children, virtual hosts, processors and listeners to the first site before anything listens.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { Resource } from '../resource.js';
import type { DropInContext } from './app.js';
import { listenEndpoint, type AppPlan, type ListenKind } from './app-plan.js';
import { importUserModule, oneLineMessage } from './load-module.js';
import { CliError } from './options.js';

/** File names a drop-in may have; others (README, *.dpkg-old, editor backups) are skipped. */
const DROP_IN = /^[^.].*\.(m?[jt]s|cjs|cts)$/;

/** The drop-in modules of `dir`, in name order (code-point order, as `ls` under LC_ALL=C). */
export function dropInFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `--config-dir ${dir}: ${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'is not readable' : 'is not a directory'}; give a directory of drop-in modules`,
    );
  }
  return names
    .filter((n) => DROP_IN.test(n) && !n.endsWith('.d.ts'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => join(dir, n));
}

/**
 * Runs every drop-in of `dir` against the first site of `plan`, then puts the site's layers back
 * around its root. A drop-in that fails to load or throws is named in a one-line error.
 */
export async function applyDropIns(plan: AppPlan, dir: string, cwd: string): Promise<void> {
  const path = resolvePath(cwd, dir);
  const files = dropInFiles(path);
  const sitePlan = plan.sites[0]!;
  const [{ NameVirtualHost }, { File }, { normalizeExt, processorKind, processorKinds }] = await Promise.all([
    import('../vhost/name-virtual-host.js'),
    import('../static/file.js'),
    import('../static/processors.js'),
  ]);
  let vhosts: InstanceType<typeof NameVirtualHost> | null = null;
  let top = sitePlan.root;
  const context: DropInContext = {
    site: sitePlan.site,
    root: sitePlan.root,
    putChild: (name, resource) => sitePlan.root.putChild(name, resource),
    addHost: (host, resource) => {
      if (!(resource instanceof Resource)) throw new Error(`addHost("${host}", ...) needs a Resource from 'trellis'`);
      if (!vhosts) top = vhosts = new NameVirtualHost({ default: sitePlan.root });
      vhosts.addHost(host, resource);
    },
    addProcessor: (ext, processor) => {
      const root = sitePlan.root;
      if (!(root instanceof File)) throw new Error('addProcessor needs a File root (trellis web --path DIR)');
      if (!/^\.[^/\\\0=]+$/.test(ext)) throw new Error(`addProcessor needs an extension like .rpy, not "${ext}"`);
      const made = typeof processor === 'string' ? processorKind(processor) : (path: string) => processor(path);
      if (!made)
        throw new Error(
          `addProcessor("${ext}", "${processor as string}"): unknown kind; use one of ${processorKinds().join(', ')}, or a function`,
        );
      root.processors[normalizeExt(ext)] = made;
    },
    listen: (endpoint, kind: ListenKind = 'http') => {
      if (!['http', 'fastcgi', 'scgi', 'ajp'].includes(kind))
        throw new Error(`listen kind must be http, fastcgi, scgi or ajp, not "${kind}"`);
      sitePlan.listeners.push({ kind, endpoint: listenEndpoint(kind, endpoint, `listen("${endpoint}")`) });
    },
  };
  for (const file of files) {
    const mod = await importUserModule(file, cwd, `--config-dir: drop-in ${file}`);
    const dropIn = mod.default;
    if (typeof dropIn !== 'function') {
      throw new CliError(
        `--config-dir: drop-in ${file} has no default export function; export default defineDropIn((site) => { ... })`,
        1,
      );
    }
    try {
      await (dropIn as (c: DropInContext) => unknown)(context);
    } catch (err) {
      throw new CliError(`--config-dir: drop-in ${file} failed: ${oneLineMessage(err)}`, 1);
    }
  }
  if (top !== sitePlan.root) {
    sitePlan.root = top;
    sitePlan.site.resource = sitePlan.wrap(top);
  }
}
