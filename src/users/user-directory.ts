// UserDirectory (Twisted's distrib.UserDirectory): every user's ~/public_html as /users/NAME/ (or
// /~NAME/ through tildeToUsers), and each user's personal server, reached over the UNIX socket in
// their home directory, as /users/NAME.trellis/ (/~NAME.trellis/).
import { join } from 'node:path';
import { escapeHtml } from '../internal/escape.js';
import { PAGE_STYLE } from '../pages.js';
import { ReverseProxyResource, type ReverseProxyOptions } from '../proxy/reverse-proxy.js';
import { encodePath, encodePathSegment, type Request } from '../request.js';
import { NoResource, Resource, type ChildResult, type RenderResult } from '../resource.js';
import { tildeToUsers, type RewriteRule } from '../rewrite/rewriter.js';
import { File } from '../static/file.js';
import { redirectTo } from '../util/redirect.js';
import { statIs } from '../util/stat-is.js';
import { PERSONAL_SUFFIX, USER_DIR_NAME, isAccountName, personalSocketPath } from './names.js';
import { PasswdFile, realName, type PasswdEntry, type UserDatabase } from './passwd.js';

export { PERSONAL_SOCKET_NAME, PERSONAL_SUFFIX, USER_DIR_NAME, personalSocketPath } from './names.js';

/** Requests whose first segment `~name` {@link userTildeRule} rewrote to `users/name`. */
const viaTilde = new WeakSet<Request>();

/**
 * Twisted's `tildeToUsers` (`/~name/x` → `/users/name/x`), remembering which requests it rewrote so
 * that UserDirectory's redirects, relayed prefixes and cookie paths keep the `~name` form the
 * client used. Wrap the root with it: `new RewriterResource(root, userTildeRule)`.
 */
export const userTildeRule: RewriteRule = (request) => {
  const first = request.postpath[0];
  tildeToUsers(request);
  if (first !== undefined && first !== request.postpath[0]) viaTilde.add(request);
};

/** Options of {@link UserDirectory}. */
export interface UserDirectoryOptions {
  /** Where users are looked up. Default: `/etc/passwd` ({@link PasswdFile}). */
  users?: UserDatabase;
  /**
   * The resource serving a user's public_html. Default: a `File` with no processors (resource
   * scripts, CGI and PHP are never run; program files answer 403) and the `owner-match` symlink
   * policy (SECURITY.md §1.2, §2.1).
   */
  files?: (dir: string, user: PasswdEntry) => Resource;
  /** Relay `NAME.trellis` to the user's personal server. Default true. */
  personal?: boolean;
  /** Options of the relay to personal servers (defaults: preserveHost, forwardedFor 'client', connect timeout 2 s). */
  relay?: ReverseProxyOptions;
}

/** What is public of one user: a public_html directory, a personal server socket. */
interface Published {
  entry: PasswdEntry;
  files: boolean;
  personal: boolean;
}

/**
 * Serves users' web directories (Twisted's `UserDirectory`, with `tildeToUsers` for `~name` URLs):
 *
 * | request (mounted at `/users`, root wrapped in {@link userTildeRule}) | answer                                 |
 * |-------------------------------------------------------|------------------------------------------------|
 * | `/users/`, `/`                                        | the users with a public_html or a personal server |
 * | `/~alice/x.html`, `/users/alice/x.html`               | ~alice/public_html/x.html (a program file: 403) |
 * | `/~alice`                                             | 302 to the public `/~alice/` (absolute, after `--trust-proxy`) |
 * | `/~alice.trellis/x`                                   | relayed to ~alice/.trellis-web.sock as `/x`, prefix `/~alice.trellis` |
 * | `/~nobody/`, `/~alice/` without public_html, `/~..`   | 404                                             |
 * | `/~alice.trellis/` with the personal server down      | 502 at once                                     |
 *
 * Nothing in a user directory is executed unless `files` says so (the CLI's `--user-scripts`):
 * user content runs in the user's own personal server, never in this process (SECURITY.md §2.1).
 * Pinned by test/users/user-directory.test.ts and test/cli/users.test.ts.
 *
 * ```ts
 * const root = new Resource();
 * root.putChild('users', new UserDirectory());
 * const site = new Site(new RewriterResource(root, userTildeRule));
 * ```
 */
export class UserDirectory extends Resource {
  readonly users: UserDatabase;
  readonly personal: boolean;
  #files: (dir: string, user: PasswdEntry) => Resource;
  #relayOptions: ReverseProxyOptions;
  #trees = new Map<string, { dir: string; resource: Resource }>();
  #relays = new Map<string, { socket: string; resource: ReverseProxyResource }>();

  constructor(options: UserDirectoryOptions = {}) {
    super();
    this.users = options.users ?? new PasswdFile();
    this.personal = options.personal ?? true;
    this.#files = options.files ?? ((dir) => new File(dir, { processors: {}, symlinks: 'owner-match' }));
    this.#relayOptions = { preserveHost: true, forwardedFor: 'client', connectTimeout: 2_000, ...options.relay };
  }

  /** Closes the idle connections to personal servers. */
  close(): void {
    for (const relay of this.#relays.values()) relay.resource.close();
  }

  /** The users with something public, in passwd order. */
  #published(): Published[] {
    const out: Published[] = [];
    for (const entry of this.users.list()) {
      if (!isAccountName(entry.name)) continue;
      const files = statIs(join(entry.home, USER_DIR_NAME), (st) => st.isDirectory());
      const personal = this.personal && statIs(personalSocketPath(entry.home), (st) => st.isSocket());
      if (files || personal) out.push({ entry, files, personal });
    }
    return out;
  }

  /** The relay to `user`'s personal server (one per user, kept while their home stays the same). */
  personalServer(user: PasswdEntry): ReverseProxyResource {
    const socket = personalSocketPath(user.home);
    const known = this.#relays.get(user.name);
    if (known && known.socket === socket) return known.resource;
    known?.resource.close();
    const resource = new ReverseProxyResource(`unix:${socket}`, this.#relayOptions);
    this.#relays.set(user.name, { socket, resource });
    return resource;
  }

  #filesOf(user: PasswdEntry, dir: string): Resource {
    const known = this.#trees.get(user.name);
    if (known && known.dir === dir) return known.resource;
    const resource = this.#files(dir, user);
    this.#trees.set(user.name, { dir, resource });
    return resource;
  }

  /**
   * Puts the public form of the user's path on `prepath` (`~name` when the client wrote it so) and
   * returns it, so links, redirects, the relayed prefix and cookie paths all use it.
   */
  #publicPrepath(segment: string, request: Request): string[] {
    const base = request.prepath.slice(0, -1);
    const tilde = viaTilde.has(request) && base.at(-1) === 'users';
    const shown = tilde ? [...base.slice(0, -1), `~${segment}`] : [...base, segment];
    request.prepath.splice(0, request.prepath.length, ...shown);
    return shown;
  }

  /** A redirect to the public URL of `prepath` with a trailing slash, the query kept. */
  #slashRedirect(prepath: readonly string[], request: Request): Resource {
    const query = request.queryString ? `?${request.queryString}` : '';
    const url = `${request.origin()}${encodePath(prepath)}/${query}`;
    return new Resource({ GET: (r) => redirectTo(url, r), isLeaf: true });
  }

  override getChild(segment: string, request: Request): ChildResult {
    if (segment === '') return this;
    const personal = this.personal && segment.endsWith(PERSONAL_SUFFIX);
    const name = personal ? segment.slice(0, -PERSONAL_SUFFIX.length) : segment;
    // A name that cannot be a login is a 404 without asking the user database.
    const user = isAccountName(name) ? this.users.lookup(name) : undefined;
    if (!user) return new NoResource('No such user.');
    if (personal) {
      const shown = this.#publicPrepath(segment, request);
      if (request.postpath.length === 0) return this.#slashRedirect(shown, request);
      return this.personalServer(user);
    }
    const dir = join(user.home, USER_DIR_NAME);
    if (!statIs(dir, (st) => st.isDirectory())) return new NoResource('This user publishes no web directory.');
    const shown = this.#publicPrepath(segment, request);
    if (request.postpath.length === 0) return this.#slashRedirect(shown, request);
    return this.#filesOf(user, dir);
  }

  override GET(request: Request): RenderResult {
    // `/users` without its slash: the listing's relative links need it.
    if (!request.path.endsWith('/'))
      return redirectTo(`./${encodePathSegment(request.prepath.at(-1) ?? '')}/`, request);
    return this.listing(request, './');
  }

  /**
   * The page listing the users with a public_html (`NAME/`) or a personal server (`NAME.trellis/`),
   * each link `hrefPrefix` + name, shown with the user's real name (escaped, SECURITY.md §1.4).
   */
  listing(request: Request, hrefPrefix: string): string {
    const items: string[] = [];
    for (const { entry, files, personal } of this.#published()) {
      const shown = escapeHtml(realName(entry));
      if (files) items.push(`<li><a href="${hrefPrefix}${encodePathSegment(entry.name)}/">${shown}</a> (files)</li>`);
      if (personal)
        items.push(
          `<li><a href="${hrefPrefix}${encodePathSegment(entry.name + PERSONAL_SUFFIX)}/">${shown}</a> (personal server)</li>`,
        );
    }
    request.setHeader('Content-Type', 'text/html; charset=utf-8');
    request.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    const list = items.length ? `<ul>${items.join('')}</ul>` : '<p>No user publishes a web directory.</p>';
    return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Users</title><style>${PAGE_STYLE}</style></head><body><h1>Users</h1>${list}</body></html>`;
  }
}
