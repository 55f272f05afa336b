// The CGI meta-variables (RFC 3875 §4.1) a FastCGI application receives as PARAMS: built from the
// request alone, never from the server's environment.
import type { Request } from '../request.js';
import { VERSION } from '../version.js';

/** Where the script behind a request lies. */
export interface ScriptLocation {
  /** SCRIPT_FILENAME: the file the application runs (PHP's script); '' when the application is the script. */
  scriptFilename: string;
  /** DOCUMENT_ROOT; '' for none. */
  documentRoot: string;
}

/**
 * The CGI meta-variables for `request`, as name/value pairs (RFC 3875 §4.1, plus what PHP and
 * FastCGI applications expect: SCRIPT_FILENAME, DOCUMENT_ROOT, REQUEST_URI, REQUEST_SCHEME, HTTPS,
 * REDIRECT_STATUS=200 for php-cgi's `cgi.force_redirect`):
 *
 * | variable        | from |
 * |-----------------|------|
 * | SCRIPT_NAME     | `/` + `prepath` (the URL up to the script), '' at the root |
 * | PATH_INFO       | `/` + `postpath`, '' when nothing follows; PATH_TRANSLATED = DOCUMENT_ROOT + PATH_INFO |
 * | QUERY_STRING, REQUEST_URI, REQUEST_METHOD, SERVER_PROTOCOL | the request line |
 * | SERVER_NAME, SERVER_PORT, HTTPS, REQUEST_SCHEME | the public host (`getRequestHostname`, `getHost`, `isSecure`) |
 * | REMOTE_ADDR, REMOTE_PORT | the client (after trusted-proxy rewriting) |
 * | CONTENT_TYPE, CONTENT_LENGTH | the body's headers; CONTENT_LENGTH given as `contentLength` |
 * | HTTP_*          | every other request header, upper-cased, `-` as `_` |
 *
 * Header names holding `_` are dropped (they would pass as the `-` spelling of another header), and
 * `Proxy` never becomes HTTP_PROXY (httpoxy, CVE-2016-5385): an application's HTTP client would take
 * it as its proxy. Duplicated headers are joined with `, ` (Cookie with `; `). Pinned by
 * test/fcgi-client/fastcgi-client.test.ts.
 */
export function cgiMetaVariables(request: Request, where: ScriptLocation, contentLength: number | null): Array<[string, string]> {
  const secure = request.isSecure();
  const client = request.getClientAddress();
  const prepath = request.prepath.join('/');
  const pathInfo = request.postpath.length ? `/${request.postpath.join('/')}` : '';
  const env: Array<[string, string]> = [
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['SERVER_SOFTWARE', `Trellis/${VERSION}`],
    ['SERVER_PROTOCOL', request.clientproto],
    ['SERVER_NAME', request.getRequestHostname()],
    ['SERVER_PORT', String(request.getHost().port)],
    ['REQUEST_SCHEME', secure ? 'https' : 'http'],
    ['REQUEST_METHOD', request.method],
    ['REQUEST_URI', request.uri],
    ['QUERY_STRING', request.queryString],
    ['SCRIPT_NAME', prepath ? `/${prepath}` : ''],
    ['PATH_INFO', pathInfo],
    ['SCRIPT_FILENAME', where.scriptFilename],
    ['DOCUMENT_ROOT', where.documentRoot],
    ['REDIRECT_STATUS', '200'],
  ];
  if (secure) env.push(['HTTPS', 'on']);
  if (pathInfo && where.documentRoot) env.push(['PATH_TRANSLATED', where.documentRoot + pathInfo]);
  if (client && client.type !== 'UNIX') env.push(['REMOTE_ADDR', client.host], ['REMOTE_PORT', String(client.port)]);
  const type = request.getHeader('content-type');
  if (type !== undefined) env.push(['CONTENT_TYPE', type]);
  if (contentLength !== null) env.push(['CONTENT_LENGTH', String(contentLength)]);
  for (const name of request.requestHeaders.names()) {
    const key = name.toLowerCase();
    if (key === 'content-type' || key === 'content-length' || key === 'proxy' || key.includes('_')) continue;
    const values = request.requestHeaders.getAll(name);
    env.push([`HTTP_${key.toUpperCase().replace(/-/g, '_')}`, values.join(key === 'cookie' ? '; ' : ', ')]);
  }
  return env;
}
