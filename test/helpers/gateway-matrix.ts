// One matrix for every front end that reaches Trellis over FastCGI or SCGI: each entry starts the
// real server from its documented recipe (docs/deploy/recipes/), and gives a client that sends
// requests through it, so the same cases run behind nginx, lighttpd, Apache, HAProxy and cgi-fcgi.
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { listenFastCgi } from '../../src/channels/fastcgi/server.js';
import type { Listener } from '../../src/channels/listen.js';
import { listenScgi } from '../../src/channels/scgi/server.js';
import { startApache, startHaproxy, startLighttpd, startNginx, type Daemon } from './daemon.js';
import { parseCgiReply } from './fastcgi-client.js';
import { gatewaySite, type StreamEvents } from './gateway-site.js';
import { needPeer } from './peers.js';
import { ROOT, freePort, tempDir } from './server.js';

/** Where the recipes live; the deployment docs show these same files. */
export const RECIPES = join(ROOT, 'docs/deploy/recipes');

/** A recipe with its placeholders filled in. */
export function recipe(name: string, values: Record<string, string | number>): string {
  return readFileSync(join(RECIPES, name), 'utf8').replace(/\{\{(\w+)\}\}/g, (m, key: string) => {
    if (!(key in values)) throw new Error(`recipe ${name}: no value for ${m}`);
    return String(values[key]);
  });
}

/** An answer as the client saw it. */
/** Starts a GET, waits for the first body bytes, then hangs up. */
export function hangUpDuring(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end();
  });
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A way to send requests through one front end. */
export interface GatewayClient {
  /** Sends one request; `keepAlive` sends it on one kept-alive client connection shared by such requests. */
  request(
    method: string,
    path: string,
    options?: { body?: Buffer; headers?: Record<string, string>; keepAlive?: boolean; chunked?: boolean },
  ): Promise<Reply>;
  close(): void;
  /** Starts a GET of `path`, waits for the first body bytes, then hangs up. */
  hangUpDuring(path: string): Promise<void>;
  /** The public origin the front end is reached at (what generated URLs must use). */
  origin: string;
}

/** One front end of the matrix. */
export interface FrontEnd {
  name: string;
  /** Peer binaries it needs (skipped with the install command when missing). */
  peers: string[];
  protocol: 'fastcgi' | 'scgi';
  recipe: string;
  /** Trellis listens on a UNIX socket `DIR/trellis.<protocol>` instead of TCP. */
  unix?: boolean;
  /** `--mount` for front ends that do not report the mount point. */
  mount?: string;
  /** The recipe keeps backend connections open across requests (FCGI_KEEP_CONN and a pool). */
  reuses?: boolean;
  /**
   * What a chunked (length-less) upload gets: `'ok'` when the front end buffers it into a
   * CONTENT_LENGTH or streams it, else the status the front end refuses it with itself.
   */
  chunked?: 'ok' | number;
  /** The recipe lets the front end put several requests on one connection (FCGI_MPXS_CONNS). */
  multiplexes?: boolean;
  start?(bin: string, dir: string, port: number, config: string): Promise<Daemon>;
}

export const FRONT_ENDS: FrontEnd[] = [
  {
    name: 'nginx fastcgi_pass (keepalive)',
    peers: ['nginx'],
    protocol: 'fastcgi',
    recipe: 'nginx-fastcgi.conf',
    reuses: true,
    chunked: 'ok',
    start: (b, d, p, c) => startNginx(b, d, p, c),
  },
  {
    name: 'nginx scgi_pass (UNIX socket)',
    peers: ['nginx'],
    protocol: 'scgi',
    recipe: 'nginx-scgi.conf',
    chunked: 'ok',
    unix: true,
    start: (b, d, p, c) => startNginx(b, d, p, c),
  },
  {
    name: 'lighttpd mod_fastcgi',
    peers: ['lighttpd'],
    protocol: 'fastcgi',
    recipe: 'lighttpd-fastcgi.conf',
    chunked: 'ok',
    mount: '/app',
    start: (b, d, p, c) => startLighttpd(b, d, p, c),
  },
  {
    name: 'lighttpd mod_scgi',
    peers: ['lighttpd'],
    protocol: 'scgi',
    recipe: 'lighttpd-scgi.conf',
    chunked: 'ok',
    mount: '/app',
    start: (b, d, p, c) => startLighttpd(b, d, p, c),
  },
  {
    name: 'Apache mod_proxy_fcgi',
    peers: ['apache2'],
    protocol: 'fastcgi',
    recipe: 'apache-fastcgi.conf',
    reuses: true,
    chunked: 'ok',
    start: (b, d, p, c) => startApache(b, d, p, ['proxy', 'proxy_fcgi'], c),
  },
  {
    name: 'Apache mod_proxy_scgi',
    peers: ['apache2'],
    protocol: 'scgi',
    recipe: 'apache-scgi.conf',
    chunked: 411,
    mount: '/app',
    start: (b, d, p, c) => startApache(b, d, p, ['proxy', 'proxy_scgi'], c),
  },
  {
    name: 'HAProxy fcgi-app',
    peers: ['haproxy'],
    protocol: 'fastcgi',
    recipe: 'haproxy-fastcgi.cfg',
    reuses: true,
    multiplexes: true,
    chunked: 400,
    start: (b, d, p, c) => startHaproxy(b, d, p, c),
  },
  { name: 'cgi-fcgi (libfcgi)', peers: ['cgi-fcgi'], protocol: 'fastcgi', recipe: 'cgi-fcgi.sh' },
];

function httpClient(port: number): GatewayClient {
  const origin = `http://127.0.0.1:${port}`;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    origin,
    close: () => agent.destroy(),
    request: (method, path, options = {}) =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, method, path, headers: options.headers, agent: options.keepAlive ? agent : false },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(res.headers))
                if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
              resolve({ status: res.statusCode!, headers, body: Buffer.concat(chunks) });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        if (options.chunked && options.body) {
          // No Content-Length: node sends the body chunked.
          const half = options.body.length >> 1;
          req.write(options.body.subarray(0, half));
          req.end(options.body.subarray(half));
        } else {
          req.end(options.body);
        }
      }),
    hangUpDuring: (path) => hangUpDuring(port, path),
  };
}

/** The CGI environment a web server would give cgi-fcgi for `method path` on 127.0.0.1:8080, mounted at /app. */
function cgiEnv(
  method: string,
  path: string,
  body: Buffer | undefined,
  headers: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const q = path.indexOf('?');
  const pathOnly = q === -1 ? path : path.slice(0, q);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: method,
    REQUEST_URI: path,
    SCRIPT_NAME: '/app',
    PATH_INFO: decodeURIComponent(pathOnly.replace(/^\/app/, '')),
    QUERY_STRING: q === -1 ? '' : path.slice(q + 1),
    SERVER_NAME: '127.0.0.1',
    SERVER_PORT: '8080',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '40000',
    HTTP_HOST: '127.0.0.1:8080',
  };
  if (body) {
    env.CONTENT_LENGTH = String(body.length);
    env.CONTENT_TYPE = 'application/octet-stream';
  }
  for (const [k, v] of Object.entries(headers)) env[`HTTP_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  return env;
}

function cgiFcgiClient(script: string): GatewayClient {
  const run = (method: string, path: string, body?: Buffer, headers?: Record<string, string>) =>
    spawn('/bin/sh', [script], { env: cgiEnv(method, path, body, headers), stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    origin: 'http://127.0.0.1:8080',
    close: () => {},
    request: (method, path, options = {}) =>
      new Promise((resolve, reject) => {
        const child = run(method, path, options.body, options.headers);
        const chunks: Buffer[] = [];
        child.stdout.on('data', (c: Buffer) => chunks.push(c));
        child.on('error', reject);
        child.on('close', () => {
          try {
            const r = parseCgiReply(Buffer.concat(chunks));
            resolve({ status: r.status, headers: Object.fromEntries(r.headers), body: r.body });
          } catch (err) {
            reject(err);
          }
        });
        // cgi-fcgi may answer and exit before reading a body nobody wanted (like a web server would see).
        child.stdin.on('error', () => {});
        child.stdin.end(options.body);
      }),
    hangUpDuring: (path) =>
      new Promise((resolve) => {
        const child = run('GET', path);
        child.stdin.end();
        child.stdout.once('data', () => {
          child.kill('SIGKILL');
          resolve();
        });
      }),
  };
}

/**
 * Starts Trellis (in this process, serving the gateway test site) and the front end from its recipe.
 * Returns null when a peer is missing (the test is then skipped). Everything stops with the test.
 */
export async function openFrontEnd(
  t: TestContext,
  fe: FrontEnd,
): Promise<{ client: GatewayClient; events: StreamEvents; daemon: Daemon | null; accepted(): number } | null> {
  const bins: string[] = [];
  for (const peer of fe.peers) {
    const bin = needPeer(t, peer);
    if (!bin) return null;
    bins.push(bin);
  }
  const dir = tempDir('trellis-gw-');
  t.after(() => dir.cleanup());
  const { site, events } = gatewaySite({ filesDir: dir.path });
  const options = fe.mount ? { mount: fe.mount } : {};
  const listen = fe.protocol === 'fastcgi' ? listenFastCgi : listenScgi;
  const ep = fe.unix
    ? { type: 'unix' as const, path: join(dir.path, `trellis.${fe.protocol}`) }
    : { type: 'tcp' as const, port: 0, interface: '127.0.0.1' };
  const listener: Listener = await listen(site, ep, options);
  t.after(() => listener.close(200));
  let accepted = 0;
  listener.server.on('connection', () => accepted++);
  const port = await freePort();
  const values = { PORT: port, DIR: dir.path, FASTCGI_PORT: listener.port ?? 0, SCGI_PORT: listener.port ?? 0 };
  const config = recipe(fe.recipe, values);
  if (!fe.start) {
    const script = join(dir.path, fe.recipe);
    writeFileSync(script, config);
    chmodSync(script, 0o755);
    return { client: cgiFcgiClient(script), events, daemon: null, accepted: () => accepted };
  }
  const daemon = await fe.start(bins[0]!, dir.path, port, config);
  t.after(() => daemon.stop());
  const client = httpClient(port);
  t.after(() => client.close());
  return { client, events, daemon, accepted: () => accepted };
}
