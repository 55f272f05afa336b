// The `--save-config` round trips: `trellis web OPTIONS --save-config FILE`, then the same requests
// against `trellis web OPTIONS` and `trellis run FILE`, over every kind of listener `web` has.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import {
  AJP_END_RESPONSE,
  AJP_SEND_BODY_CHUNK,
  AJP_SEND_HEADERS,
  forwardRequestPayload,
  readContainerFrame,
  serverPacket,
} from '../../src/channels/ajp/packets.js';
import { encodeScgiHeader } from '../../src/channels/scgi/netstring.js';
import { cgiParams, FcgiClient, parseCgiReply } from './fastcgi-client.js';
import { needPeer } from './peers.js';
import { ROOT, runTrellis, spawnTrellis, tempDir, type TrellisProcess } from './server.js';
import { httpGet as get, servingUrls, type Answer } from './serving.js';
import { makeCertificate } from './tls.js';

/** Start-up can take long on a loaded machine (TypeScript modules go through tsx): a liveness bound only. */
const START = 30_000;

const LOOPBACK = 'tcp:0:interface=127.0.0.1';

async function fastcgiGet(url: string, path: string): Promise<Answer> {
  const c = await FcgiClient.open(Number(/:(\d+)\/$/.exec(url)![1]));
  c.begin(1, cgiParams('GET', path));
  c.stdin(1);
  const r = await c.response(1);
  c.close();
  const { date: _d, ...headers } = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status: r.status, headers, body: r.body.toString('latin1') };
}

async function scgiGet(url: string, path: string): Promise<Answer> {
  const port = Number(/:(\d+)\/$/.exec(url)![1]);
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.write(encodeScgiHeader([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...Object.entries(cgiParams('GET', path))]));
  });
  const r = parseCgiReply(reply);
  const { date: _d, ...headers } = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status: r.status, headers, body: r.body.toString('latin1') };
}

async function ajpGet(url: string, path: string, secret: string): Promise<Answer> {
  const port = Number(/:(\d+)\/$/.exec(url)![1]);
  const s = connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let status = 0;
  let body = '';
  await new Promise<void>((resolve, reject) => {
    s.on('error', reject);
    s.on('close', () => resolve());
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let frame = readContainerFrame(buf, 0); frame; frame = readContainerFrame(buf, 0)) {
        buf = buf.subarray(frame.next);
        const type = frame.payload[0];
        if (type === AJP_SEND_HEADERS) status = frame.payload.readUInt16BE(1);
        if (type === AJP_SEND_BODY_CHUNK)
          body += frame.payload.subarray(3, 3 + frame.payload.readUInt16BE(1)).toString('latin1');
        if (type === AJP_END_RESPONSE) resolve();
      }
    });
    s.write(
      serverPacket(
        forwardRequestPayload({
          method: 'GET',
          reqUri: path,
          remoteAddr: '127.0.0.1',
          serverName: 'localhost',
          serverPort: 80,
          headers: [['host', 'localhost']],
          attributes: [[0x0c, secret]],
        }),
      ),
    );
  });
  s.destroy();
  return { status, headers: {}, body };
}

/** One round trip: options, and the requests to compare (`urls` as the server announced them). */
export interface Case {
  name: string;
  args: string[];
  listeners: number;
  requests: (urls: string[]) => Array<() => Promise<Answer>>;
  /** Something to compare besides the answers (a log file), read after the server stopped. */
  after?: () => string;
  setup?: (t: TestContext) => Promise<boolean> | boolean;
}

async function answers(server: TrellisProcess, c: Case): Promise<Answer[]> {
  const urls = await servingUrls(server, c.listeners);
  const out: Answer[] = [];
  // The two servers listen on different ephemeral ports; a page may show its own URL.
  for (const r of c.requests(urls)) {
    const a = await r();
    out.push({ ...a, body: a.body.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT') });
  }
  return out;
}

function site(): { path: string; cleanup(): void } {
  const dir = tempDir('trellis-save-');
  const files = join(dir.path, 'site');
  mkdirSync(join(files, 'sub'), { recursive: true });
  writeFileSync(join(files, 'main.html'), '<p>main</p>');
  writeFileSync(join(files, 'index.html'), '<p>the app</p>');
  writeFileSync(join(files, 'page.html'), '<p>page</p>');
  writeFileSync(join(files, 'thing.foo'), 'foo');
  writeFileSync(join(files, 'blob.zzz'), 'zzz');
  writeFileSync(join(files, 'raw.asis'), 'Status: 299 Custom\nContent-Type: text/plain\n\nas is\n');
  writeFileSync(join(files, 'sub/x.txt'), 'x');
  for (const host of ['a.example', 'b.example']) {
    mkdirSync(join(dir.path, 'vhosts', host), { recursive: true });
    writeFileSync(join(dir.path, 'vhosts', host, 'index.html'), `host ${host}`);
  }
  copyFileSync(join(ROOT, 'test/fixtures/class-site.ts'), join(dir.path, 'class-site.ts'));
  writeFileSync(
    join(dir.path, 'hello.rpy.js'),
    `import { Data } from 'trellis';\nexport const resource = () => new Data('script says hello', 'text/plain');\n`,
  );
  writeFileSync(join(dir.path, 'app.mjs'), `export default (req, res) => res.end('node app saw ' + req.url);\n`);
  writeFileSync(
    join(dir.path, 'fetch-app.mjs'),
    `const Loaded = Response;\nexport default { fetch: (r) => new Response(r.url + ' light=' + (Response !== Loaded)) };\n`,
  );
  writeFileSync(
    join(dir.path, 'upper.mjs'),
    `import { Data } from 'trellis';\nexport const upper = (path) => new Data('processed ' + path.split('/').pop(), 'text/plain');\n`,
  );
  return dir;
}

const STATIC_PATHS = [
  '/',
  '/main.html',
  '/page',
  '/main',
  '/thing.foo',
  '/blob.zzz',
  '/raw.asis',
  '/sub/',
  '/sub/x.txt',
  '/x.up',
  '/missing',
];
const http =
  (paths: string[], headers: Record<string, string> = {}) =>
  (urls: string[]) =>
    paths.map((p) => () => get(urls[0]!, p, headers));

export const dir = site();
writeFileSync(join(dir.path, 'site/x.up'), 'to process');
const backend = createServer((req, res) => res.end(`backend saw ${req.url}`));
let backendPort = 0;
let tls: { key: string; cert: string } | null = null;

/** Every round trip; the test files each register a share (one file would outlast the per-file time bound). */
export const cases: Case[] = [
  {
    name: 'static files',
    args: [
      '--path',
      'site',
      '-i',
      'main.html',
      '--index',
      'index.html',
      '--ignore-ext',
      '.html',
      '--allow-ignore-ext',
      '-m',
      '.foo=text/x-foo',
      '--mime-type',
      'text/x-unknown',
      '--processor',
      '.asis=asis',
      '--processor',
      '.up=./upper.mjs#upper',
      '--cache-control',
      'public, max-age=60',
      '--add-header',
      'X-A: 1',
      '--add-header',
      'X-B: 2',
      '--no-listing',
      '-p',
      LOOPBACK,
    ],
    listeners: 1,
    requests: http(STATIC_PATHS),
  },
  {
    name: 'no processors',
    args: ['--path', 'site', '--processor', '.asis=asis', '--no-processors', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(STATIC_PATHS),
  },
  {
    name: 'class and tracebacks',
    args: ['--class', './class-site.ts#Root', '--display-tracebacks', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/hello', '/boom', '/nothing']),
  },
  {
    name: 'notracebacks after display-tracebacks',
    args: ['--class', './class-site.ts#Root', '--display-tracebacks', '-n', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/hello', '/boom']),
  },
  {
    name: '--notracebacks alone',
    args: ['--path', 'site', '--notracebacks', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/main.html']),
  },
  {
    name: 'the last root option wins',
    args: ['--vhost-path', 'vhosts', '--path', 'site', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/main.html', '/']),
  },
  {
    name: 'virtual hosts',
    args: ['--vhost-path', 'vhosts', '--listen', LOOPBACK],
    listeners: 1,
    requests: (urls) => ['a.example', 'b.example', 'c.example'].map((host) => () => get(urls[0]!, '/', { host })),
  },
  {
    name: 'trusted proxies, VHostMonster and reverse proxying',
    args: [
      '--path',
      'site',
      '--trust-proxy',
      '127.0.0.1',
      '--vhost-monster',
      '--proxy',
      '/api=http://127.0.0.1:BACKEND/v1',
      '--listen',
      LOOPBACK,
    ],
    listeners: 1,
    requests: (urls) => [
      () => get(urls[0]!, '/api/x?y=1'),
      () => get(urls[0]!, '/vhost/https/www.example.com:443/sub'),
      () => get(urls[0]!, '/sub', { 'x-forwarded-host': 'proxied.example', 'x-forwarded-proto': 'https' }),
    ],
  },
  {
    name: 'user directories',
    // The listing changes as other tests add users: the proxied /api is what answers 200 here.
    args: [
      '--user',
      '--user-scripts',
      '--user-vhost',
      'people.test',
      '--proxy',
      '/api=http://127.0.0.1:BACKEND/v1',
      '--listen',
      LOOPBACK,
    ],
    listeners: 1,
    requests: (urls) => [
      ...['/api/x', '/~root/', '/~tr-nobody-here/', '/users', '/~tr-nobody-here.trellis/'].map(
        (p) => () => get(urls[0]!, p),
      ),
      () => get(urls[0]!, '/', { host: 'tr-nobody-here.people.test' }),
    ],
  },
  {
    name: 'personal server on a port',
    args: ['--path', 'site', '--personal', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/main.html', '/sub'], { 'x-forwarded-host': 'ignored.example' }),
  },
  {
    name: 'public URL',
    args: ['--path', 'site', '--public-url', 'https://public.example/app/', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/sub', '/main.html']),
  },
  {
    name: 'HTTPS with certificate and key',
    setup: (t) => {
      const openssl = needPeer(t, 'openssl');
      if (!openssl) return false;
      tls = makeCertificate(openssl, dir.path);
      return true;
    },
    args: [], // filled in once the certificate exists
    listeners: 2,
    requests: (urls) => [() => get(urls[0]!, '/main.html'), () => get(urls[1]!, '/main.html')],
  },
  {
    name: 'access log',
    args: ['--path', 'site', '-l', 'access.log', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/main.html', '/missing']),
    after: () => {
      const text = readFileSync(join(dir.path, 'access.log'), 'utf8').replace(/\[[^\]]+\]/g, '[time]');
      writeFileSync(join(dir.path, 'access.log'), '');
      return text;
    },
  },
  {
    name: 'gateways',
    args: [
      '--path',
      'site',
      '--fastcgi',
      'tcp:0',
      '--scgi',
      '0',
      '--ajp',
      'tcp:0',
      '--ajp-secret',
      's3cret',
      '--mount',
      '/app',
      '--gateway-trusted-peers',
      '10.0.0.0/8,192.168.0.0/16',
      '--gateway-trusted-peers',
      '172.16.0.0/12',
      '--listen',
      `unix:${join(dir.path, 'web.sock')}:mode=600`,
    ],
    listeners: 4,
    requests: (urls) => [
      () => get(urls[0]!, '/main.html'),
      () => ajpGet(urls[1]!, '/app/main.html', 's3cret'),
      () => ajpGet(urls[1]!, '/app/main.html', 'wrong'),
      () => fastcgiGet(urls[2]!, '/main.html'),
      () => scgiGet(urls[3]!, '/page.html'),
    ],
  },
];

/**
 * Options saved by --save-config but not served by a round trip here, each with its reason; the
 * coverage test checks that they are saved. --daemon would detach from the test, and --gid only
 * makes sense beside --uid (served: --uid root, as the tests run).
 */
export const SAVED_ONLY: Readonly<Record<string, string>> = {
  daemon: 'detaches from the test',
  gid: 'needs root',
  'personal-group': 'sets the group of the socket in the home directory, never a test port (test/cli/users.test.ts)',
};

cases.push(
  {
    name: 'CGI settings',
    args: [
      '--path',
      'site',
      '--cgi-timeout',
      '5',
      '--cgi-max-processes',
      '3',
      '--cgi-pass-env',
      'LANG',
      '--cgi-pass-env',
      'TZ',
      '--listen',
      LOOPBACK,
    ],
    listeners: 1,
    requests: http(['/main.html', '/missing']),
  },
  {
    name: 'single-page app, CORS and per-IP cap',
    args: [
      '--path',
      'site',
      '--single',
      '--cors=https://a.example,https://b.example',
      '--cors-credentials',
      '--max-connections-per-ip',
      '50',
      '--no-logfile',
      '--listen',
      LOOPBACK,
    ],
    listeners: 1,
    requests: http(['/main.html', '/users/42', '/app.js'], { origin: 'https://a.example' }),
  },
  {
    name: 'SQLite sessions',
    args: ['--path', 'site', '--sessions', 'sqlite:state/sessions.sqlite', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/main.html']),
  },
  {
    name: 'any origin',
    args: ['--path', 'site', '--cors', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/main.html'], { origin: 'https://c.example' }),
  },
  {
    name: 'resource script',
    args: ['--resource-script', './hello.rpy.js', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/', '/x']),
  },
  {
    name: 'Node app',
    args: ['--app', './app.mjs', '--app-kind', 'node', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/x?y=1', '/']),
  },
  {
    name: 'Fetch app, no light Response',
    args: ['--app', './fetch-app.mjs', '--no-light-response', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/x?y=1']),
  },
  {
    name: 'watch and open',
    args: ['--class', './class-site.ts#Root', '--watch', '--open', '--listen', LOOPBACK],
    listeners: 1,
    requests: http(['/hello']),
  },
  {
    name: 'process options',
    args: [
      '--path',
      'site',
      '--pidfile',
      'trellis.pid',
      '--errorlog',
      'error.log',
      '--log-format',
      'json',
      '-l',
      'json.log',
      '--umask',
      '022',
      '--chdir',
      '.',
      '-u',
      'root',
      '--workers',
      '2',
      '--listen',
      LOOPBACK,
    ],
    listeners: 1,
    requests: http(['/main.html']),
    after: () => {
      const text = readFileSync(join(dir.path, 'json.log'), 'utf8').replace(
        /"(time|duration|remote|port)":[^,}]+/g,
        '"$1":X',
      );
      writeFileSync(join(dir.path, 'json.log'), '');
      return text;
    },
  },
);

/** The cases test/cli/save-config-gateways.test.ts runs; test/cli/save-config.test.ts runs the others. */
export const SECOND_FILE: ReadonlySet<string> = new Set([
  'CGI settings',
  'resource script',
  'Node app',
  'process options',
  'HTTPS with certificate and key',
  'access log',
  'gateways',
  'trusted proxies, VHostMonster and reverse proxying',
  'public URL',
  'virtual hosts',
]);

/** Registers the round trips `which` selects in the calling test file, with the shared site and backend. */
export function registerRoundTrips(which: (c: Case) => boolean): void {
  before(async () => {
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendPort = (backend.address() as { port: number }).port;
  });
  after(() => {
    backend.close();
    dir.cleanup();
  });
  for (const c of cases.filter(which)) {
    test(`--save-config then run serves the same as web: ${c.name}`, async (t) => {
      if (c.setup && !(await c.setup(t))) return;
      c.args = c.args.map((a) => a.replace('BACKEND', String(backendPort)));
      if (c.name.startsWith('HTTPS')) {
        c.args = [
          '--path',
          'site',
          '--https',
          '0',
          '-c',
          tls!.cert,
          '-k',
          'key.pem',
          '--listen',
          `ssl:0:interface=127.0.0.1:privateKey=key.pem:certKey=${tls!.cert}`,
        ];
      }
      const file = join(dir.path, `${c.name.replace(/\W+/g, '-')}.json`);
      const saved = await runTrellis(['web', ...c.args, '--save-config', file], { cwd: dir.path });
      assert.equal(saved.code, 0, saved.stderr);
      assert.match(saved.stdout, /Wrote .*\.json/);
      const json = JSON.parse(readFileSync(file, 'utf8')) as {
        service: string;
        directory: string;
        options: Record<string, unknown>;
      };
      assert.equal(json.service, 'web');
      assert.equal(json.directory, dir.path);

      const direct = await spawnTrellis(['web', ...c.args], { cwd: dir.path, timeoutMs: START });
      let expected: Answer[];
      try {
        expected = await answers(direct, c);
      } finally {
        await direct.stop();
      }
      const expectedAfter = c.after?.();
      // Run from another directory: the file's `directory` keeps relative paths meaning the same.
      const fromFile = await spawnTrellis(['run', file], { cwd: ROOT, timeoutMs: START });
      let got: Answer[];
      try {
        got = await answers(fromFile, c);
        const same = (text: string) => text.replace(/:\d+\//g, ':PORT/').replace(/pid \d+/g, 'pid N');
        assert.equal(same(fromFile.stdout()), same(direct.stdout()), 'the same listeners and notes are announced');
      } finally {
        await fromFile.stop();
      }
      assert.deepEqual(got, expected);
      assert.equal(c.after?.(), expectedAfter);
      assert.ok(
        expected.some((a) => a.status === 200),
        `something answered 200: ${JSON.stringify(expected.map((a) => a.status))}`,
      );
    });
  }
}
