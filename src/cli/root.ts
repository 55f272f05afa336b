// Building the root resource `trellis web` serves from its configuration.
import { accessSync, constants, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { Resource } from '../resource.js';
import { importModuleVersion, loadExport } from './load-module.js';
import { CliError } from './options.js';
import type { ProcessorSettings } from '../static/processors.js';
import type { SymlinkPolicy } from '../static/path-safety.js';
import { statIs } from '../util/stat-is.js';
import type { FilesConfig, WebConfig } from './web-config.js';
import { Welcome } from './welcome.js';

/** Turns an export into a Resource: a Resource instance as is, a Resource class constructed with no arguments. */
export function toResource(value: unknown, what: string): Resource {
  if (value instanceof Resource) return value;
  if (typeof value === 'function' && value.prototype instanceof Resource) {
    return new (value as new () => Resource)();
  }
  throw new CliError(
    `${what} is not a Resource class or instance; export a class that extends Resource from 'trellis' (for an Express, Koa, Fastify or Fetch app, use --app)`,
  );
}

/**
 * The File root for `--path DIR` with the static options applied (in any order). A missing or
 * unreadable DIR, or an unknown processor kind, is a one-line CliError.
 */
export async function buildFileRoot(dir: string, files: FilesConfig, cwd: string): Promise<Resource> {
  const path = resolvePath(cwd, dir);
  let st;
  try {
    st = statSync(path);
    accessSync(path, st.isDirectory() ? constants.R_OK | constants.X_OK : constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not readable'
          : `cannot be read (${code ?? 'error'})`;
    throw new CliError(`--path ${dir}: ${path} ${why}; give a directory (or file) to serve`);
  }
  if (!st.isDirectory() && !st.isFile())
    throw new CliError(`--path ${dir}: ${path} is neither a directory nor a regular file`);
  return (await fileRootFactory(files, cwd))(path);
}

/**
 * Loads what the static options name (processor modules) once, and returns a synchronous maker of
 * File roots with those options: `--path` uses it once, `--vhost-path` once per host when first asked.
 */
async function fileRootFactory(
  files: FilesConfig,
  cwd: string,
  extra: { symlinks?: SymlinkPolicy } = {},
): Promise<(path: string) => Resource> {
  const { File } = await import('../static/file.js');
  const { processorKind, processorKinds, registerProcessorKind } = await import('../static/processors.js');
  await import('../cgi/processors.js');
  await import('../fcgi-client/processor.js');
  const { scriptProcessor } = await import('../script/processor.js');
  // Scripts load through the command's module loader (TypeScript, 'trellis' from anywhere).
  registerProcessorKind('script', scriptProcessor({ loader: importModuleVersion }));
  const processors: Record<string, (p: string, ctx: { root: string }) => Resource> = {};
  if (!files.noProcessors) {
    for (const [ext, kind] of await effectiveProcessors(files)) {
      let known;
      try {
        known = processorKind(kind, processorSettings(files));
      } catch (err) {
        throw new CliError(`--processor ${ext}=${kind}: ${(err as Error).message}`);
      }
      if (known) {
        processors[ext] = known;
        continue;
      }
      if (!kind.includes('#') && !/\.(m?[jt]s)$/.test(kind)) {
        throw new CliError(
          `--processor ${ext}=${kind}: unknown kind "${kind}"; use one of ${processorKinds().join(', ')}, or MODULE#export`,
        );
      }
      const factory = await loadExport(kind, cwd, '--processor');
      if (typeof factory !== 'function')
        throw new CliError(`--processor ${ext}=${kind} is not a function (path) => Resource`);
      processors[ext] = (p, ctx) =>
        toResource((factory as (p: string, ctx: { root: string }) => unknown)(p, ctx), `--processor ${kind}`);
    }
  }
  return (path) =>
    new File(path, {
      ...(files.indexNames ? { indexNames: files.indexNames } : {}),
      ignoredExts: files.ignoreExts,
      ...(files.defaultType ? { defaultType: files.defaultType } : {}),
      contentTypes: Object.fromEntries(files.mimeTypes),
      processors,
      listing: files.listing,
      cacheControl: files.cacheControl,
      ...extra,
    });
}

/** What `--cgi-*` tells the processors that run programs. */
function processorSettings(files: FilesConfig): ProcessorSettings {
  const settings: ProcessorSettings = {};
  if (files.cgi.timeout !== null) settings.timeout = files.cgi.timeout;
  if (files.cgi.maxProcesses !== null) settings.maxProcesses = files.cgi.maxProcesses;
  if (files.cgi.passEnv.length) settings.passEnv = files.cgi.passEnv;
  return settings;
}

/**
 * The processors `--path` runs, as `[extension, kind]`: the defaults of `twistd web --path` that
 * apply here (`.rpy.ts` and `.rpy.js` → `script`, as twistd runs `.rpy`; `.cgi` → `cgi`; `.php` →
 * `php` when php-cgi is installed), then each `--processor` (a later one for the same extension
 * wins); none with `--no-processors`.
 */
export async function effectiveProcessors(files: FilesConfig): Promise<Array<[string, string]>> {
  if (files.noProcessors) return [];
  const { findPhpCgi } = await import('../cgi/cgi-script.js');
  const { normalizeExt } = await import('../static/processors.js');
  const chosen = new Map<string, string>([
    ['.rpy.ts', 'script'],
    ['.rpy.js', 'script'],
    ['.cgi', 'cgi'],
  ]);
  if (findPhpCgi() !== null) chosen.set('.php', 'php');
  for (const [ext, kind] of files.processors) chosen.set(normalizeExt(ext), kind);
  return [...chosen];
}

/** The start-up line saying which extensions execute under `--path` (SECURITY.md §2.1). */
export async function describeProcessors(files: FilesConfig): Promise<string> {
  if (files.noProcessors) return 'No file executes (--no-processors); program files answer 403';
  const list = (await effectiveProcessors(files)).map(([ext, kind]) => `${ext} (${kind})`).join(', ');
  return `Executing ${list}; other program files answer 403`;
}

/** `--vhost-path DIR`: each subdirectory is served, as by `--path`, for the host of its name. */
async function buildVHostPathRoot(dir: string, files: FilesConfig, cwd: string): Promise<Resource> {
  const { VHostPath } = await import('../vhost/vhost-path.js');
  const { unknownHost } = await import('./proxy-config.js');
  const path = resolvePath(cwd, dir);
  if (!statIs(path, (st) => st.isDirectory()))
    throw new CliError(
      `--vhost-path ${dir}: ${path} is not a directory; give a directory whose subdirectories are named after hosts`,
    );
  // Each host's File is built like the --path root (same options) when its host is first asked for,
  // so a host directory added while serving needs no restart.
  return new VHostPath(path, await fileRootFactory(files, cwd), { default: unknownHost() });
}

/**
 * `--resource-script FILE`: the script is the whole site, loaded on the first request and reloaded
 * when it changes. A missing FILE, or one without a script extension, is a one-line CliError.
 */
async function buildScriptRoot(file: string, cwd: string): Promise<Resource> {
  const { ResourceScript, isScriptName, SCRIPT_EXTENSIONS } = await import('../script/resource-script.js');
  const { Registry } = await import('../script/registry.js');
  const path = resolvePath(cwd, file);
  if (!statIs(path, (st) => st.isFile()))
    throw new CliError(`--resource-script ${file}: ${path} is not a file; give a resource script such as site.rpy.ts`);
  if (!isScriptName(path))
    throw new CliError(
      `--resource-script ${file}: a resource script's name ends in ${SCRIPT_EXTENSIONS.join(' or ')}; rename it`,
    );
  return new ResourceScript(path, { registry: new Registry(), loader: importModuleVersion });
}

/** Static-file options only make sense with a `path` root. */
function checkFilesUnused(config: WebConfig): void {
  const f = config.files;
  const used: string[] = [];
  if (f.indexNames) used.push('--index');
  if (f.ignoreExts.length) used.push('--ignore-ext/--allow-ignore-ext');
  if (f.defaultType || f.mimeTypes.length) used.push('--mime-type');
  if (f.processors.length || f.noProcessors) used.push('--processor/--no-processors');
  if (!f.listing) used.push('--no-listing');
  if (f.cacheControl) used.push('--cache-control');
  if (f.cgi.timeout !== null || f.cgi.maxProcesses !== null || f.cgi.passEnv.length) used.push('--cgi-*');
  if (used.length)
    throw new CliError(`${used.join(', ')} only apply to --path; drop them or serve files with --path DIR`);
}

/**
 * `--app MODULE#export`: the app's resource, its kind detected (or `--app-kind`); a one-line error when
 * it is no app. A Fetch app gets `LightResponse` as the global `Response` unless `--no-light-response`.
 */
async function buildAppRoot(spec: string, config: WebConfig, cwd: string): Promise<Resource> {
  const value = await loadExport(spec, cwd, '--app');
  const { appResource } = await import('../app/detect.js');
  let resource: Resource;
  try {
    resource = await appResource(value, config.appKind ? { kind: config.appKind } : {});
  } catch (err) {
    if (err instanceof TypeError)
      throw new CliError(
        `--app ${spec}: ${err.message}${/say which kind/.test(err.message) ? ' with --app-kind node or --app-kind fetch' : ''}`,
      );
    throw err;
  }
  const { FetchAppResource } = await import('../app/fetch-app.js');
  if (config.lightResponse && resource instanceof FetchAppResource) {
    const { installLightResponse } = await import('../app/light-response.js');
    installLightResponse();
  }
  return resource;
}

/** The root resource for `config`. */
export async function buildRoot(config: WebConfig, cwd: string): Promise<Resource> {
  const root = config.root;
  if (config.appKind && root.kind !== 'app')
    throw new CliError('--app-kind only applies to --app; drop it or serve an app with --app MODULE#export');
  if (!config.lightResponse && root.kind !== 'app')
    throw new CliError(
      '--no-light-response only applies to --app; drop it or serve a Fetch app with --app MODULE#export',
    );
  if (root.kind !== 'path' && root.kind !== 'vhost-path' && root.kind !== 'user') checkFilesUnused(config);
  switch (root.kind) {
    case 'welcome':
      return new Welcome();
    case 'path': {
      const files = await buildFileRoot(root.dir, config.files, cwd);
      if (!config.single) return files;
      const { SinglePageFallback } = await import('../static/single-page.js');
      const index = (config.files.indexNames ?? ['index.html'])[0]!;
      const fallback = await buildFileRoot(resolvePath(cwd, root.dir, index), config.files, cwd).catch(() => {
        throw new CliError(
          `--single: ${resolvePath(cwd, root.dir, index)} does not exist; the app's ${index} is served for its routes`,
        );
      });
      return new SinglePageFallback(files, fallback);
    }
    case 'vhost-path':
      return buildVHostPathRoot(root.dir, config.files, cwd);
    case 'class':
      return toResource(await loadExport(root.spec, cwd, '--class'), `--class ${root.spec}`);
    case 'app':
      return buildAppRoot(root.spec, config, cwd);
    case 'resource-script':
      return buildScriptRoot(root.file, cwd);
    case 'user':
      return buildUserRoot(config, cwd);
  }
}

/**
 * `--user`: `/` and `/users/` list the users, `/~NAME/` (Twisted's tildeToUsers) serves their
 * public_html with the `--path` file options, the owner-match symlink policy and, unless
 * `--user-scripts`, no processor at all; `/~NAME.trellis/` and `--user-vhost`'s NAME.DOMAIN relay to
 * personal servers.
 */
async function buildUserRoot(config: WebConfig, cwd: string): Promise<Resource> {
  const { UserDirectory, userTildeRule } = await import('../users/user-directory.js');
  const { UserVirtualHost } = await import('../users/personal-server.js');
  const { RewriterResource } = await import('../rewrite/rewriter.js');
  const files = await fileRootFactory(
    config.users.scripts ? config.files : { ...config.files, noProcessors: true },
    cwd,
    { symlinks: 'owner-match' },
  );
  const users = new UserDirectory({ files: (dir) => files(dir) });
  const top = new Resource({ GET: (request) => users.listing(request, './~') });
  top.putChild('users', users);
  const root = new RewriterResource(top, userTildeRule);
  return config.users.vhost ? new UserVirtualHost({ domain: config.users.vhost, users, default: root }) : root;
}
