// Cross-origin resource sharing (Fetch standard §3.2, "CORS protocol"): which headers answer a
// request that carries `Origin`, and whether it is a preflight to answer without the resource.
import { isToken } from './syntax.js';

/** A CORS policy: who may read responses cross-origin, and what preflights are told. */
export interface CorsPolicy {
  /** Allowed origins (`https://app.example`), or `['*']` for any. */
  origins: readonly string[];
  /** Send `Access-Control-Allow-Credentials: true` (only with named origins). Default false. */
  credentials?: boolean;
  /** Methods preflights allow. Default GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS. */
  methods?: readonly string[];
  /** How long browsers may cache a preflight answer, in seconds. Default 600. */
  maxAge?: number;
}

/** The methods a preflight allows by default. */
export const CORS_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** What the CORS policy says about one request. */
export interface CorsAnswer {
  /** Headers to add to the response (possibly none). */
  headers: Array<[string, string]>;
  /** A preflight (OPTIONS with `Origin` and `Access-Control-Request-Method`): answer 204 with the headers, do not render. */
  preflight: boolean;
}

/** The request fields CORS looks at. */
export interface CorsRequest {
  method: string;
  origin: string | undefined;
  /** `Access-Control-Request-Method`. */
  requestMethod: string | undefined;
  /** `Access-Control-Request-Headers`. */
  requestHeaders: string | undefined;
}

/**
 * The CORS headers for a request, as a pure decision:
 *
 * | request                                    | answer                                                      |
 * |--------------------------------------------|-------------------------------------------------------------|
 * | no `Origin`                                | nothing (`Vary: Origin` when origins are named)             |
 * | `Origin` not allowed                       | `Vary: Origin` only; the browser withholds the response     |
 * | `Origin` allowed, any method               | `Access-Control-Allow-Origin` (`*`, or the origin + `Vary`)  |
 * | OPTIONS + `Access-Control-Request-Method`  | preflight: also `-Allow-Methods`, `-Allow-Headers` (the     |
 * |                                            | requested names, if all are tokens), `-Max-Age`              |
 *
 * Credentials are never allowed with `*` (browsers refuse that pair); the CLI rejects it up front.
 */
export function corsAnswer(policy: CorsPolicy, req: CorsRequest): CorsAnswer {
  const any = policy.origins.includes('*');
  const headers: Array<[string, string]> = [];
  if (!any) headers.push(['Vary', 'Origin']);
  const preflight = req.method === 'OPTIONS' && req.origin !== undefined && req.requestMethod !== undefined;
  if (req.origin === undefined) return { headers, preflight: false };
  const allowed = any || policy.origins.includes(req.origin);
  if (!allowed) return { headers, preflight };
  headers.push(['Access-Control-Allow-Origin', any && !policy.credentials ? '*' : req.origin]);
  if (policy.credentials && !any) headers.push(['Access-Control-Allow-Credentials', 'true']);
  if (!preflight) return { headers, preflight };
  headers.push(['Access-Control-Allow-Methods', (policy.methods ?? CORS_METHODS).join(', ')]);
  const names = (req.requestHeaders ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length && names.every(isToken)) {
    headers.push(['Access-Control-Allow-Headers', names.join(', ')]);
    headers.push(['Vary', 'Access-Control-Request-Headers']);
  }
  headers.push(['Access-Control-Max-Age', String(policy.maxAge ?? 600)]);
  return { headers, preflight };
}
