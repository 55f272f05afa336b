// Cookie parsing and Set-Cookie serialisation (RFC 6265), on top of the `cookie` library.
import { createRequire } from 'node:module';
import { hasCtl } from './syntax.js';

type CookieLib = typeof import('cookie');
let lib: CookieLib | null = null;
/** The `cookie` library, loaded on first use: a CommonJS import costs every start-up (`trellis cgi`) a parse. */
function cookieLib(): CookieLib {
  lib ??= createRequire(import.meta.url)('cookie') as CookieLib;
  return lib;
}

/** Options of {@link formatSetCookie}; each maps to the attribute of the same name. */
export interface CookieOptions {
  expires?: Date;
  maxAge?: number;
  domain?: string;
  /** Default: none (the browser uses the request path). */
  path?: string;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: 'strict' | 'lax' | 'none';
}

/** Parses a Cookie header into name → value (the first of duplicates wins). */
export function parseCookies(header: string | undefined): Record<string, string> {
  if (!header) return {};
  return cookieLib().parse(header) as Record<string, string>;
}

/**
 * Builds a Set-Cookie value. CR, LF and other controls anywhere are refused with a TypeError,
 * never replaced (SECURITY.md §6.7); the value is percent-encoded where it must be.
 */
export function formatSetCookie(name: string, value: string, options: CookieOptions = {}): string {
  for (const part of [name, value, options.domain ?? '', options.path ?? '']) {
    if (hasCtl(part))
      throw new TypeError(`Cookie ${JSON.stringify(name)}: control characters (CR, LF, NUL) are not allowed`);
  }
  const opts: Parameters<CookieLib['serialize']>[2] = {};
  if (options.expires) opts.expires = options.expires;
  if (options.maxAge !== undefined) opts.maxAge = options.maxAge;
  if (options.domain) opts.domain = options.domain;
  if (options.path) opts.path = options.path;
  if (options.secure) opts.secure = true;
  if (options.httpOnly) opts.httpOnly = true;
  if (options.sameSite) opts.sameSite = options.sameSite;
  return cookieLib().serialize(name, value, opts);
}
