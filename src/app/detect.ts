// Which kind of app a value is (`trellis web --app`, `appResource`): node:http listeners and the
// frameworks built on them, Fastify, and Fetch apps, each turned into the resource that serves it.
import type { Server } from 'node:http';
import type { Resource } from '../resource.js';
import { FetchAppResource, type FetchApp, type FetchHandler } from './fetch-app.js';
import { NodeAppResource, type NodeRequestListener } from './node-app.js';

/** What kind of app a value was found to be. */
export type AppKind = 'node' | 'fetch';

/** Options of {@link appResource}. */
export interface AppResourceOptions {
  /** Skips detection: `node` for a `(req, res)` function, `fetch` for a `(Request) => Response` one. */
  kind?: AppKind;
}

type Koa = { callback(): NodeRequestListener; middleware: unknown[] };
type KoaContext = { req: { originalUrl?: string }; originalUrl: string; request: { originalUrl: string } };
type Fastify = { routing: NodeRequestListener; ready(): PromiseLike<unknown>; server: unknown };

function isKoa(value: object): value is Koa {
  return typeof (value as Koa).callback === 'function' && Array.isArray((value as Koa).middleware);
}

function isFastify(value: object): value is Fastify {
  return (
    typeof (value as Fastify).routing === 'function' &&
    typeof (value as Fastify).ready === 'function' &&
    'server' in value
  );
}

function isNodeServer(value: object): value is Server {
  return (
    typeof (value as Server).listen === 'function' &&
    typeof (value as Server).listeners === 'function' &&
    typeof (value as Server).emit === 'function'
  );
}

/** An Express or Connect app: a function with `handle` and `use`. */
function isConnectLike(value: object): boolean {
  return (
    typeof (value as { handle?: unknown }).handle === 'function' &&
    typeof (value as { use?: unknown }).use === 'function'
  );
}

/**
 * Koa's listener, with `ctx.originalUrl` set to the public path: Koa takes it from `req.url`, which
 * holds the path below the mount. A first middleware is composed in for this callback only; the app's
 * own middleware list is left as it was.
 */
export function koaListener(app: Koa): NodeRequestListener {
  const keepOriginal = (ctx: KoaContext, next: () => Promise<unknown>) => {
    const original = ctx.req.originalUrl;
    if (original) ctx.originalUrl = ctx.request.originalUrl = original;
    return next();
  };
  const own = app.middleware;
  app.middleware = [keepOriginal, ...own];
  try {
    return app.callback();
  } finally {
    app.middleware = own;
  }
}

/** A short account of what `value` is, for the error that says it is no app. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function of ${value.length} parameters`;
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name = (value as object).constructor?.name;
  const keys = Object.keys(value).slice(0, 6);
  return `${name && name !== 'Object' ? `a ${name}` : 'an object'}${keys.length ? ` with ${keys.join(', ')}` : ' with no own keys'}`;
}

/** What every kind of app looks like, for error messages. */
export const APP_KINDS_HELP =
  'a (req, res) listener, an Express/Connect app, a Koa app, a Fastify instance, a node:http Server, an object with fetch(), or a (Request) => Response function';

/**
 * The resource serving `app`, its kind found by these rules, in order (`kind` overrides the last two):
 *
 * | value                                              | served as                                  |
 * |----------------------------------------------------|--------------------------------------------|
 * | Fastify instance (`routing`, `ready`, `server`)    | `NodeAppResource(fastify.routing)` after `await ready()` |
 * | Koa app (`callback()`, `middleware` array)         | `NodeAppResource(app.callback())`, `ctx.originalUrl` public |
 * | node:http Server (not listening)                   | `NodeAppResource(server)`: its `request` and `upgrade` listeners |
 * | object with `fetch()` (Hono, Workers modules)      | `FetchAppResource(app)`                    |
 * | Express/Connect app (function with `handle`, `use`) | `NodeAppResource(app)`                    |
 * | function of 2 or 3 parameters `(req, res[, next])` | `NodeAppResource(fn)`                      |
 * | function of 1 parameter `(request)`                | `FetchAppResource(fn)`                     |
 * | function of 0 parameters (rest or defaults only)   | refused: say `kind`                        |
 *
 * Anything else is a TypeError naming what it is.
 */
export async function appResource(app: unknown, options: AppResourceOptions = {}): Promise<Resource> {
  const kind = options.kind;
  if (app !== null && typeof app === 'object') {
    if (isFastify(app)) {
      await app.ready();
      return new NodeAppResource(app.routing.bind(app));
    }
    if (isKoa(app)) return new NodeAppResource(koaListener(app));
    if (isNodeServer(app)) return new NodeAppResource(app);
    if (typeof (app as FetchApp).fetch === 'function') return new FetchAppResource(app as FetchApp);
  }
  if (typeof app === 'function') {
    if (kind === 'node' || (kind === undefined && (isConnectLike(app) || app.length === 2 || app.length === 3))) {
      return new NodeAppResource(app as NodeRequestListener);
    }
    if (kind === 'fetch' || (kind === undefined && app.length === 1)) return new FetchAppResource(app as FetchHandler);
    throw new TypeError(
      `${describeValue(app)}: cannot tell a (req, res) listener from a (Request) => Response function; say which kind`,
    );
  }
  throw new TypeError(`${describeValue(app)} is not an app; export ${APP_KINDS_HELP}`);
}
