// Seed 001's CGI examples ported as written there: the perl FilteredScript as a File processor
// with `index.pl`, and a cgi-bin (CGIDirectory) beside static files.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CGIDirectory, File, FilteredScript } from '../../src/index.js';
import { needPeer } from '../helpers/peers.js';
import { scriptFolder, serveLogged } from '../helpers/cgi.js';

const HELLO_PL =
  '#!/usr/bin/perl\nprint "Content-Type: text/html\\n\\n<p>Hello from perl at $ENV{SCRIPT_NAME}</p>\\n";\n';

describe('seed 001: the perl FilteredScript', () => {
  // "resource = static.File('/perlsite'); resource.processors = {'.pl': PerlScript}; resource.indexNames = ['index.pl']"
  class PerlScript extends FilteredScript {
    override filter = '/usr/bin/perl'; // Points to the perl parser
  }
  const perlsite = scriptFolder([], {
    'index.pl': { text: HELLO_PL, mode: 0o644 },
    'page.pl': { text: HELLO_PL, mode: 0o644 },
    'style.css': { text: 'p { color: green }\n', mode: 0o644 },
  });
  let server: Awaited<ReturnType<typeof serveLogged>>;
  before(async () => {
    const resource = new File(perlsite.path); // Points to the perl website
    resource.processors = { '.pl': (path) => new PerlScript(path) }; // Files that end with .pl will be processed by PerlScript
    resource.indexNames = ['index.pl'];
    server = await serveLogged(resource);
  });
  after(async () => {
    await server.close();
    perlsite.cleanup();
  });

  it('the index is index.pl, run by perl (the file need not be executable)', async (t) => {
    if (!needPeer(t, 'perl')) return;
    const res = await fetch(`${server.base}/`);
    assert.equal(res.status, 200);
    // SCRIPT_NAME is the URL that reached it, as in Twisted: the folder's.
    assert.equal(await res.text(), '<p>Hello from perl at /</p>\n');
  });

  it('other .pl files run; other files are served as files', async (t) => {
    if (!needPeer(t, 'perl')) return;
    assert.equal(await (await fetch(`${server.base}/page.pl`)).text(), '<p>Hello from perl at /page.pl</p>\n');
    const css = await fetch(`${server.base}/style.css`);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  });
});

describe('seed 001: a cgi-bin', () => {
  const site = scriptFolder([], { 'index.html': { text: '<p>home</p>\n', mode: 0o644 } });
  const bin = join(site.path, 'cgi-bin');
  let server: Awaited<ReturnType<typeof serveLogged>>;
  before(async () => {
    mkdirSync(join(bin, 'tools'), { recursive: true });
    chmodSync(bin, 0o755);
    chmodSync(join(bin, 'tools'), 0o755);
    const write = (name: string, text: string, mode: number) => {
      writeFileSync(join(bin, name), text);
      chmodSync(join(bin, name), mode);
    };
    write(
      'hello',
      '#!/usr/bin/perl\nprint "Content-Type: text/plain\\n\\nhello $ENV{SCRIPT_NAME} $ENV{PATH_INFO}\\n";\n',
      0o755,
    );
    write('tools/date.sh', '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nsh at %s\\n" "$SCRIPT_NAME"\n', 0o755);
    write('config.ini', 'password=hunter2\n', 0o644);
    write('.htpasswd', 'admin:x\n', 0o755);
    symlinkSync('/bin/sh', join(bin, 'shell'));
    const root = new File(site.path);
    root.putChild('cgi-bin', new CGIDirectory(bin));
    server = await serveLogged(root);
  });
  after(async () => {
    await server.close();
    site.cleanup();
  });

  it('every executable in the cgi-bin runs, with PATH_INFO after its name, subfolders too', async (t) => {
    if (!needPeer(t, 'perl')) return;
    assert.equal(await (await fetch(`${server.base}/cgi-bin/hello/a/b`)).text(), 'hello /cgi-bin/hello /a/b\n');
    assert.equal(await (await fetch(`${server.base}/cgi-bin/tools/date.sh`)).text(), 'sh at /cgi-bin/tools/date.sh\n');
    assert.equal(await (await fetch(`${server.base}/`)).text(), '<p>home</p>\n');
  });

  it('nothing in the cgi-bin is ever sent as a file: a non-executable file is 403, its content never shown', async () => {
    const res = await fetch(`${server.base}/cgi-bin/config.ini`);
    assert.equal(res.status, 403);
    assert.doesNotMatch(await res.text(), /hunter2/);
  });

  it('the cgi-bin lists nothing; hidden names, missing names and links out of it are 404', async () => {
    for (const path of ['/cgi-bin/', '/cgi-bin', '/cgi-bin/.htpasswd', '/cgi-bin/missing', '/cgi-bin/shell']) {
      assert.equal((await fetch(`${server.base}${path}`, { redirect: 'manual' })).status, 404, path);
    }
  });
});
