// Trellis's public surface: everything user code imports from 'trellis'.
// Channel authors import from 'trellis/channels' (src/channels/index.ts), tests from 'trellis/testing'
// (src/testing.ts). `Request` is a type here: only a channel builds one.
export {
  Resource,
  ErrorPage,
  NoResource,
  ForbiddenResource,
  UnsupportedMethod,
  getChildForRequest,
  allowedMethods,
  KNOWN_METHODS,
} from './resource.js';
export type { RenderResult, RenderBody, ChildResult, Handler, HandlerName, ResourceInit } from './resource.js';
export { NOT_DONE_YET, CACHED, encodePathSegment, splitPath, DEFAULT_REQUEST_LIMITS } from './request.js';
export type { Request, Address, RequestLimits, NotDoneYet, Cached } from './request.js';
export type { ContentEncoder, SiteContext } from './request.js';
export { Site, DEFAULT_LIMITS } from './site.js';
export type { SiteOptions, SiteLimits } from './site.js';
export { toNodeListener } from './channels/node-listener.js';
export { HttpError } from './errors.js';
export type { HttpErrorOptions } from './errors.js';
export { RequestHeaders } from './http/headers.js';
export type { Args, UploadedFile } from './http/form.js';
export type { CookieOptions } from './http/cookies.js';
export { URLPath } from './url-path.js';
export { Data } from './data.js';
export { File, DEFAULT_INDEX_NAMES } from './static/file.js';
export type { FileOptions } from './static/file.js';
export { FileCache } from './static/file-cache.js';
export type { FileCacheOptions } from './static/file-cache.js';
export { DirectoryLister, ListingCache } from './static/listing.js';
export type { ListingCacheOptions, ListingSource } from './static/listing.js';
export { SinglePageFallback } from './static/single-page.js';
export { SourceWatcher } from './util/source-watcher.js';
export type { CorsPolicy } from './http/cors.js';
export { AsisResource } from './static/asis.js';
export {
  registerProcessorKind,
  registerProcessorFamily,
  processorFor,
  PROGRAM_EXTENSIONS,
} from './static/processors.js';
export type { Processor, ProcessorContext, ProcessorFamily, ProcessorSettings } from './static/processors.js';
export { CGIScript, FilteredScript, PHPScript, findPhpCgi } from './cgi/cgi-script.js';
export type { CGIScriptOptions } from './cgi/cgi-script.js';
export { CGIDirectory } from './cgi/cgi-directory.js';
export { CgiError } from './cgi/cgi-error.js';
export type { CgiErrorCode } from './cgi/cgi-error.js';
export { CgiProcessLimit, DEFAULT_MAX_CGI_PROCESSES } from './cgi/process-limit.js';
export { cgiEnvironment, cgiMetaVariables, DEFAULT_CGI_PATH } from './cgi/environment.js';
export type { CgiEnvironmentOptions, CgiScriptFacts } from './cgi/environment.js';
export { parseCgiHead, isCgiHeadError, CGI_HEAD_LIMITS, CGI_HEAD_PARTIAL } from './http/cgi-head.js';
export type { CgiHead, CgiHeadError, CgiHeadLimits, CgiResponseKind } from './http/cgi-head.js';
import './cgi/processors.js';
export type { SymlinkPolicy, HiddenPolicy } from './static/path-safety.js';
export { Redirect, ParentRedirect, redirectTo } from './util/redirect.js';
export { Session, SessionStoreUnavailable } from './session/session.js';
export type { SessionData, SessionLimits, SessionStore } from './session/session.js';
export { MemorySessionStore } from './session/memory-store.js';
export type { MemorySessionStoreOptions } from './session/memory-store.js';
export { SqliteSessionStore } from './session/sqlite-store.js';
export type { SqliteSessionStoreOptions } from './session/sqlite-store.js';
export { RedisSessionStore } from './session/redis-store.js';
export type { RedisSessionStoreOptions } from './session/redis-store.js';
export { openSessionStore, parseSessionsUrl } from './session/open-store.js';
export type { SessionsSpec } from './session/open-store.js';
export {
  openAccessLog,
  terminalAccessLog,
  combinedLogLine,
  readableLogLine,
  jsonLogLine,
  type AccessLogOptions,
} from './access-log.js';
export type { AccessLog, AccessLogEntry } from './access-log.js';
export { parseEndpoint, formatEndpoint, EndpointError } from './channels/endpoint.js';
export type { Endpoint } from './channels/endpoint.js';
export { listenHttp, createHttpServer, createHttpsServer, type HttpsServers } from './channels/http.js';
export type { ChannelServer, Listener } from './channels/listen.js';
export { VERSION } from './version.js';
export { EncodingResourceWrapper, varyOnAcceptEncoding } from './encoding/encoding-resource-wrapper.js';
export { GzipEncoderFactory, BrotliEncoderFactory } from './encoding/encoders.js';
export type { EncoderFactory } from './encoding/encoders.js';
export { negotiateEncoding } from './encoding/negotiate.js';
export { shouldCompress, MIN_COMPRESS_BYTES } from './encoding/compressible.js';
export { ReverseProxyResource, parseUnixBackend } from './proxy/reverse-proxy.js';
export type { ReverseProxyOptions, Backend, UnixBackendAddress } from './proxy/reverse-proxy.js';
export {
  UserDirectory,
  userTildeRule,
  USER_DIR_NAME,
  PERSONAL_SOCKET_NAME,
  PERSONAL_SUFFIX,
  personalSocketPath,
} from './users/user-directory.js';
export type { UserDirectoryOptions } from './users/user-directory.js';
export { PasswdFile, parsePasswd, realName } from './users/passwd.js';
export type { PasswdEntry, UserDatabase } from './users/passwd.js';
export { personalRoot, UserVirtualHost } from './users/personal-server.js';
export type { UserVirtualHostOptions } from './users/personal-server.js';
export { ForwardProxyResource, DENIED_DESTINATIONS } from './proxy/forward-proxy.js';
export type { ForwardProxyPolicy } from './proxy/forward-proxy.js';
export { TrustedProxies, CidrError, trustForwarded, tcpPeer } from './proxy/trusted-proxies.js';
export type { TrustOptions } from './proxy/trusted-proxies.js';
export { stripHopByHop, HOP_BY_HOP } from './proxy/hop-by-hop.js';
export { upgradeOf } from './request.js';
export type { UpgradeSocket } from './request.js';
export { NameVirtualHost } from './vhost/name-virtual-host.js';
export type { NameVirtualHostOptions } from './vhost/name-virtual-host.js';
export { VHostMonsterResource } from './vhost/vhost-monster.js';
export type { VHostMonsterOptions } from './vhost/vhost-monster.js';
export { VHostPath } from './vhost/vhost-path.js';
export { RewriterResource, tildeToUsers, alias } from './rewrite/rewriter.js';
export type { RewriteRule } from './rewrite/rewriter.js';
export { AutoVHostURIRewrite, VHostURIRewrite } from './rewrite/vhost-uri-rewrite.js';
export type { AutoVHostOptions } from './rewrite/vhost-uri-rewrite.js';
export { listenFastCgi, createFastCgiServer } from './channels/fastcgi/server.js';
export { listenScgi, createScgiServer } from './channels/scgi/server.js';
export type { GatewayOptions } from './channels/gateway.js';
export { NodeAppResource, AppSocket, serveNodeApp } from './app/node-app.js';
export type { NodeAppOptions, NodeRequestListener, NodeUpgradeListener, AppRequest } from './app/node-app.js';
export { FetchAppResource, serveFetchApp, fetchRequestFor, sendFetchResponse } from './app/fetch-app.js';
export { LazyFetchRequest } from './app/fetch-request.js';
export { LightResponse, installLightResponse, lightResponseInstalled } from './app/light-response.js';
export type { FetchHandler, FetchApp } from './app/fetch-app.js';
export { appResource, koaListener } from './app/detect.js';
export type { AppKind, AppResourceOptions } from './app/detect.js';
export { appPaths, publicUrl } from './app/mount.js';
export type { AppPaths } from './app/mount.js';
export { serveFetch } from './channels/fetch.js';
export type { FetchServeOptions } from './channels/fetch.js';
export { Registry } from './script/registry.js';
export type { ComponentKey } from './script/registry.js';
export {
  ResourceScript,
  importScript,
  defaultRegistry,
  isScriptName,
  SCRIPT_EXTENSIONS,
} from './script/resource-script.js';
export type { ScriptContext, ScriptLoader, ResourceScriptOptions } from './script/resource-script.js';
export { ResourceScriptDirectory, SCRIPT_INDEX_NAMES } from './script/directory.js';
export type { ResourceScriptDirectoryOptions } from './script/directory.js';
export { scriptProcessor } from './script/processor.js';
export type { ScriptProcessorOptions } from './script/processor.js';
export { FastCGIClientResource, sharedFastCGIPool } from './fcgi-client/resource.js';
export type { FastCGIClientOptions } from './fcgi-client/resource.js';
export { FastCGIPool } from './fcgi-client/pool.js';
export type {
  FastCGIConnection,
  FastCGIConnectionHandler,
  FastCGIPoolOptions,
  PooledSocket,
} from './fcgi-client/pool.js';
export { fastcgiProcessor } from './fcgi-client/processor.js';
export { parseFastCGIAddress, formatFastCGIAddress } from './fcgi-client/address.js';
export type { FastCGIAddress } from './fcgi-client/address.js';
export { defineApp, definePlugin, defineDropIn } from './cli/app.js';
export type {
  AppDefinition,
  SiteDefinition,
  AppExport,
  TrellisPlugin,
  PluginOption,
  PluginOptionValues,
  PluginContext,
  DropIn,
  DropInContext,
} from './cli/app.js';
