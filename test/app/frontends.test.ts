// Node apps behind real front ends, from the recipes in docs/deploy/recipes/ and the commands in
// docs/deploy/node-apps.md: every framework fixture under /app behind nginx (FastCGI) and Apache
// (AJP), and seed 004's Express app under /app behind Apache mod_proxy_fcgi, lighttpd (SCGI) and as
// CGI, each answering with the public URLs right.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FIXTURES, FRAMEWORKS, checkRoutes, type AppReply, type Framework, type Send } from '../helpers/apps.js';
import { startApache, startLighttpd, startNginx, type Daemon } from '../helpers/daemon.js';
import { recipe } from '../helpers/gateway-matrix.js';
import { needPeer } from '../helpers/peers.js';
import { CLI, freePort, spawnTrellis, tempDir } from '../helpers/server.js';

const SECRET = 'node-apps-secret';

/** The `--app` spec of a fixture mounted at /app (a Fetch app is built with the mount as base path). */
function appSpec(framework: Framework): string {
  return join(FIXTURES, `${framework}-app.mjs${framework === 'hono' ? '#atApp' : ''}`);
}

function sender(port: number): Send {
  return (method, path, options = {}) =>
    new Promise<AppReply>((resolve, reject) => {
      const body = options.body === undefined ? undefined : Buffer.from(options.body);
      const headers = { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
}

/** `trellis web --app SPEC` with FastCGI, SCGI and AJP listeners, mounted at /app; returns their ports. */
async function startApp(t: TestContext, framework: Framework): Promise<{ fastcgi: number; scgi: number; ajp: number }> {
  const args = [
    'web',
    '--app',
    appSpec(framework),
    '--mount',
    '/app',
    '--ajp-secret',
    SECRET,
    '--add-header',
    'X-Added: yes',
  ];
  for (const gw of ['--fastcgi', '--scgi', '--ajp']) args.push(gw, 'tcp:0:interface=127.0.0.1');
  const proc = await spawnTrellis(args, { timeoutMs: 30_000 });
  t.after(() => proc.stop());
  const deadline = Date.now() + 10_000;
  const port = (scheme: string): number =>
    Number(new RegExp(`serving ${scheme}://127\\.0\\.0\\.1:(\\d+)`).exec(proc.stdout())?.[1] ?? 0);
  while (!(port('fastcgi') && port('scgi') && port('ajp'))) {
    if (Date.now() > deadline) throw new Error(`trellis did not report its gateways: ${proc.stdout()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { fastcgi: port('fastcgi'), scgi: port('scgi'), ajp: port('ajp') };
}

function workDir(t: TestContext): string {
  const dir = tempDir('trellis-apps-');
  t.after(() => dir.cleanup());
  chmodSync(dir.path, 0o755);
  return dir.path;
}

async function through(
  t: TestContext,
  daemon: Daemon,
  port: number,
  framework: Framework,
  where: string,
): Promise<void> {
  t.after(() => daemon.stop());
  await checkRoutes(sender(port), framework, '/app', `http://127.0.0.1:${port}`, where);
}

for (const framework of FRAMEWORKS) {
  describe(`${framework} under /app behind real front ends`, () => {
    test(`${framework} behind nginx over FastCGI (nginx-fastcgi.conf)`, async (t) => {
      const nginx = needPeer(t, 'nginx');
      if (!nginx) return;
      const ports = await startApp(t, framework);
      const dir = workDir(t);
      const port = await freePort();
      const daemon = await startNginx(
        nginx,
        dir,
        port,
        recipe('nginx-fastcgi.conf', { PORT: port, FASTCGI_PORT: ports.fastcgi }),
      );
      await through(t, daemon, port, framework, `${framework} nginx fastcgi`);
    });

    test(`${framework} behind Apache over AJP (apache-ajp.conf)`, async (t) => {
      const apache = needPeer(t, 'apache2');
      if (!apache) return;
      const ports = await startApp(t, framework);
      const dir = workDir(t);
      const port = await freePort();
      const daemon = await startApache(
        apache,
        dir,
        port,
        ['proxy', 'proxy_ajp'],
        recipe('apache-ajp.conf', { AJP_PORT: ports.ajp, SECRET }),
      );
      await through(t, daemon, port, framework, `${framework} apache ajp`);
    });
  });
}

describe('seed 004 in Node terms: one Express app under /app', () => {
  test('behind Apache mod_proxy_fcgi (apache-fastcgi.conf)', async (t) => {
    const apache = needPeer(t, 'apache2');
    if (!apache) return;
    const ports = await startApp(t, 'express');
    const dir = workDir(t);
    const port = await freePort();
    const daemon = await startApache(
      apache,
      dir,
      port,
      ['proxy', 'proxy_fcgi'],
      recipe('apache-fastcgi.conf', { FASTCGI_PORT: ports.fastcgi }),
    );
    await through(t, daemon, port, 'express', 'express apache mod_proxy_fcgi');
  });

  test('behind lighttpd over SCGI (lighttpd-scgi.conf)', async (t) => {
    const lighttpd = needPeer(t, 'lighttpd');
    if (!lighttpd) return;
    const ports = await startApp(t, 'express');
    const dir = workDir(t);
    const port = await freePort();
    const daemon = await startLighttpd(
      lighttpd,
      dir,
      port,
      recipe('lighttpd-scgi.conf', { SCGI_PORT: ports.scgi, DIR: dir }),
    );
    await through(t, daemon, port, 'express', 'express lighttpd scgi');
  });

  test('as CGI under lighttpd (lighttpd-cgi.conf running trellis-app.cgi: trellis cgi --app)', async (t) => {
    const lighttpd = needPeer(t, 'lighttpd');
    if (!lighttpd) return;
    const dir = workDir(t);
    const script = join(dir, 'trellis.cgi');
    writeFileSync(
      script,
      recipe('trellis-app.cgi', {
        NODE: process.execPath,
        TRELLIS: CLI,
        APP: `${appSpec('express')} --add-header 'X-Added: yes'`,
      }),
    );
    chmodSync(script, 0o755);
    const port = await freePort();
    const daemon = await startLighttpd(lighttpd, dir, port, recipe('lighttpd-cgi.conf', { DIR: dir }));
    await through(t, daemon, port, 'express', 'express lighttpd cgi');
  });

  test('the recipes the tests run appear unchanged in docs/deploy/node-apps.md', async () => {
    const { readFileSync } = await import('node:fs');
    const { ROOT } = await import('../helpers/server.js');
    const page = readFileSync(join(ROOT, 'docs/deploy/node-apps.md'), 'utf8');
    for (const name of ['trellis-app.cgi']) {
      const text = readFileSync(join(ROOT, 'docs/deploy/recipes', name), 'utf8').trimEnd();
      assert.ok(page.includes(text), `node-apps.md does not show ${name}`);
    }
    for (const name of [
      'nginx-fastcgi.conf',
      'apache-ajp.conf',
      'apache-fastcgi.conf',
      'lighttpd-scgi.conf',
      'lighttpd-cgi.conf',
    ]) {
      assert.ok(page.includes(name), `node-apps.md does not point to ${name}`);
    }
    assert.ok(page.includes('trellis web --app'), 'node-apps.md shows the Trellis side');
  });
});
