// The shapes a configuration module, a plugin and a drop-in export (the `.tac`, `mktap NAME` and
// Debian `local.d` ideas), with identity helpers that give them types. Nothing here starts a server.
import type { Endpoint } from '../channels/endpoint.js';
import type { Resource } from '../resource.js';
import type { Site } from '../site.js';

/**
 * One site of an application and where it listens. Endpoint strings are those of `--listen`
 * (`tcp:8080:interface=127.0.0.1`, `ssl:8443:privateKey=key.pem:certKey=cert.pem`, `unix:/run/a.sock`,
 * `fd:3`) and of `--fastcgi`/`--scgi`/`--ajp` (a bare port means loopback there), or parsed
 * {@link Endpoint} objects.
 */
export interface SiteDefinition {
  /** The site, or a root resource (served by a `new Site(root)` with the defaults). */
  site: Site | Resource;
  /** HTTP and HTTPS (HTTP/2) endpoints. Default: none, or `tcp:8080` when no listener at all is given. */
  listen?: ReadonlyArray<string | Endpoint>;
  /** FastCGI responder endpoints. */
  fastcgi?: ReadonlyArray<string | Endpoint>;
  /** SCGI endpoints. */
  scgi?: ReadonlyArray<string | Endpoint>;
  /** AJP13 endpoints. */
  ajp?: ReadonlyArray<string | Endpoint>;
  /** Front ends allowed to reach FastCGI/SCGI/AJP off loopback (`--gateway-trusted-peers`). */
  gatewayTrustedPeers?: readonly string[];
  /** Where the front end mounts the site, for gateways that do not say (`--mount`). */
  mount?: string;
  /** The secret AJP requests must carry (`--ajp-secret`). */
  ajpSecret?: string;
}

/** An application: several sites, each with its own listeners. */
export interface AppDefinition {
  sites: readonly SiteDefinition[];
}

/**
 * Types an application object for `trellis run` (seed 001's `application = service.Application(...)`).
 * A plain object of the same shape works as well.
 *
 * ```ts
 * import { defineApp, File, Site } from 'trellis';
 * export default defineApp({
 *   sites: [
 *     { site: new Site(new File('/var/www')), listen: ['tcp:80', 'ssl:443:privateKey=k.pem:certKey=c.pem'] },
 *     { site: new Site(new Admin()), listen: ['tcp:8081:interface=127.0.0.1'] },
 *   ],
 * });
 * ```
 */
export function defineApp(app: AppDefinition): AppDefinition {
  return app;
}

/** What a configuration module's default export (and a plugin's `build`) may be. */
export type AppExport = Site | Resource | AppDefinition;

/** One option of a plugin, as `trellis NAME --help` lists it and `--save-config` saves it. */
export interface PluginOption {
  /** Placeholder of the value in help (`TEXT`); leave it out for a flag (true when given). */
  value?: string;
  /** A one-letter alias. */
  short?: string;
  /** One line of help. */
  help: string;
  /** The option may be given more than once; its value is then an array. Default false. */
  repeatable?: boolean;
  /** The value is optional, given only as `--name=value`; a bare `--name` stores `''`. Default false. */
  optionalValue?: boolean;
}

/** The option values a plugin's `build` receives: a string per valued option (an array if repeatable), true per flag. */
export type PluginOptionValues = Record<string, string | string[] | true>;

/** What a plugin's `build` is told besides its options. */
export interface PluginContext {
  /** The directory relative paths are resolved against: the working directory, or a saved config's `directory`. */
  cwd: string;
}

/**
 * A service run by `trellis NAME [options]` (the `mktap NAME` idea). An npm package declares its
 * plugins in package.json, `"trellis": { "plugins": { "NAME": "./plugin.js" } }`, the module's
 * default export being the plugin. `trellis web` is itself such a plugin.
 */
export interface TrellisPlugin {
  /** The command name, e.g. `bannerfish`. */
  name: string;
  /** One line for `trellis --help`. */
  description: string;
  /** Option name (without dashes) to its description. */
  options: Readonly<Record<string, PluginOption>>;
  /**
   * Checks the option values without building anything (no files read, nothing started): run before
   * `--save-config` writes them and before every build. Throw an Error saying what is wrong. Optional.
   */
  check?(options: PluginOptionValues): void;
  /**
   * Builds what to serve from the option values (given in the order they were last seen on the command
   * line, or in the saved file). Throw an Error whose message says what is wrong: it is shown in one line.
   */
  build(options: PluginOptionValues, context: PluginContext): AppExport | Promise<AppExport>;
}

/**
 * Types a plugin module's default export.
 *
 * ```ts
 * import { definePlugin, Data, Site } from 'trellis';
 * export default definePlugin({
 *   name: 'bannerfish',
 *   description: 'serve one banner',
 *   options: { text: { value: 'TEXT', help: 'what the banner says' }, port: { value: 'EP', help: 'listen here', repeatable: true } },
 *   build: (o) => ({ sites: [{ site: new Site(new Data(String(o.text ?? 'hi'), 'text/plain')), listen: (o.port as string[] | undefined) ?? ['tcp:8080'] }] }),
 * });
 * ```
 */
export function definePlugin(plugin: TrellisPlugin): TrellisPlugin {
  return plugin;
}

/**
 * What a drop-in module of `--config-dir DIR` receives (Debian's `/etc/twisted-web/local.d`). Drop-ins
 * run in file-name order against the first site, after it is built and before anything listens.
 */
export interface DropInContext {
  /** The site being configured. */
  readonly site: Site;
  /** Its root resource before any wrapping (the File of `trellis web --path`; Debian's `default`). */
  readonly root: Resource;
  /** Serves `resource` at `/name`. */
  putChild(name: string, resource: Resource): void;
  /** Serves `resource` for requests whose Host is `host`; other hosts keep the root. */
  addHost(host: string, resource: Resource): void;
  /**
   * Handles files ending in `ext` by a processor: a kind (`asis`, or one registered with
   * `registerProcessorKind`) or a function `(path) => Resource`. Needs a File root.
   */
  addProcessor(ext: string, processor: string | ((path: string) => Resource)): void;
  /** Adds a listener to the site: an endpoint string, HTTP unless `kind` says otherwise. */
  listen(endpoint: string, kind?: 'http' | 'fastcgi' | 'scgi' | 'ajp'): void;
}

/** A drop-in module's default export. */
export type DropIn = (context: DropInContext) => void | Promise<void>;

/** Types a drop-in module's default export. `export default defineDropIn((c) => c.putChild('doc', new File('/usr/share/doc')));` */
export function defineDropIn(dropIn: DropIn): DropIn {
  return dropIn;
}
