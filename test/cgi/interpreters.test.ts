// The same CGI application in perl, python3 and PHP (php-cgi), run by Trellis through real
// interpreters: a form POST, a file upload, redirects, cookies, and 50 MiB streamed with backpressure.
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FilteredScript, PHPScript } from '../../src/cgi/cgi-script.js';
import { File } from '../../src/static/file.js';
import { findPeer, needPeer } from '../helpers/peers.js';
import { scriptFolder, serveLogged, until } from '../helpers/cgi.js';

const LANGUAGES = [
  { name: 'perl', peer: 'perl', script: 'app.pl' },
  { name: 'python3', peer: 'python3', script: 'app.py' },
  { name: 'php-cgi', peer: 'php-cgi', script: 'app.php' },
] as const;

const BIG = 800 * 65536;

// The memory a relay holds, not the garbage it leaves: V8 collects the relayed buffers lazily, and
// how lazily differs between Node versions (up to ~40 MiB uncollected on a 50 MiB relay).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** This process's resident set after a full collection. */
function retainedRss(): number {
  collectGarbage();
  return process.memoryUsage().rss;
}

describe('CGI scripts through real interpreters', () => {
  const dir = scriptFolder(['app.pl', 'app.py', 'app.php'], { 'static.txt': { text: 'static file\n', mode: 0o644 } });
  let server: Awaited<ReturnType<typeof serveLogged>>;

  before(async () => {
    const perl = findPeer('perl') ?? '/usr/bin/perl';
    const python = findPeer('python3') ?? '/usr/bin/python3';
    const root = new File(dir.path, {
      processors: {
        '.pl': (path, { root: docRoot }) => new FilteredScript(path, { filter: perl, documentRoot: docRoot }),
        '.py': (path, { root: docRoot }) => new FilteredScript(path, { filter: python, documentRoot: docRoot }),
        '.php': (path, { root: docRoot }) => new PHPScript(path, { documentRoot: docRoot }),
      },
    });
    server = await serveLogged(root);
  });
  after(async () => {
    await server.close();
    dir.cleanup();
  });

  for (const lang of LANGUAGES) {
    describe(lang.name, () => {
      const url = (path: string) => `${server.base}/${lang.script}${path}`;

      it(`${lang.name}: a form POST reaches the script on stdin`, async (t) => {
        if (!needPeer(t, lang.peer)) return;
        const res = await fetch(url('/form'), {
          method: 'POST',
          body: new URLSearchParams({ name: 'Ada Lovelace & co' }),
        });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), 'name=Ada Lovelace & co method=POST\n');
      });

      it(`${lang.name}: a file upload (multipart) arrives whole`, async (t) => {
        if (!needPeer(t, lang.peer)) return;
        const form = new FormData();
        const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
        form.append('upload', new Blob([bytes]), 'picture.bin');
        const res = await fetch(url('/upload'), { method: 'POST', body: form });
        assert.equal(await res.text(), 'file=picture.bin size=300000\n');
      });

      it(`${lang.name}: an absolute Location is a 302 to the client`, async (t) => {
        if (!needPeer(t, lang.peer)) return;
        const res = await fetch(url('/redirect'), { redirect: 'manual' });
        assert.equal(res.status, 302);
        assert.equal(res.headers.get('location'), 'http://example.org/elsewhere');
      });

      it(`${lang.name}: a local Location is served by the server (php-cgi's default Status 302 reaches the client)`, async (t) => {
        if (!needPeer(t, lang.peer)) return;
        const res = await fetch(url('/local'), { redirect: 'manual' });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), 'static file\n');
        if (lang.name === 'php-cgi') {
          const sent = await fetch(url('/local-302'), { redirect: 'manual' });
          assert.equal(sent.status, 302);
          assert.equal(sent.headers.get('location'), '/static.txt?from=php');
        }
      });

      it(`${lang.name}: cookies go both ways`, async (t) => {
        if (!needPeer(t, lang.peer)) return;
        const res = await fetch(url('/cookie'), { headers: { Cookie: 'session=abc; theme=dark' } });
        assert.deepEqual(
          res.headers.getSetCookie().map((c) => c.split(';')[0]),
          ['flavour=oat', 'size=2'],
        );
        assert.equal(await res.text(), 'cookie=session=abc; theme=dark\n');
      });

      it(`${lang.name}: 50 MiB stream to a slow client with the script held back (bounded memory)`, async (t) => {
        if (!needPeer(t, lang.peer)) return;
        const before = server.errors.length;
        const res = await new Promise<IncomingMessage>((resolve, reject) => {
          httpRequest(url('/big'), resolve).on('error', reject).end();
        });
        assert.equal(res.statusCode, 200);
        // The client reads nothing for a while: the script must be blocked, not done.
        res.pause();
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(
          server.errors.slice(before).some((l) => l.includes('big done')),
          false,
          'the script finished while the client read nothing',
        );
        const rss0 = retainedRss();
        let peak = rss0;
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if ((received & 0xfffff) < chunk.length) peak = Math.max(peak, retainedRss());
        });
        res.resume();
        await new Promise((r) => res.on('end', r));
        assert.equal(received, BIG);
        assert.ok(
          peak - rss0 < 40 * 1024 * 1024,
          `memory grew by ${Math.round((peak - rss0) / 1048576)} MiB while relaying 50 MiB`,
        );
        await until(
          () => server.errors.slice(before).some((l) => l.includes('big done')),
          10_000,
          'the script stderr line',
        );
      });

      it(`${lang.name}: an unknown action gives the script's own status`, async (t) => {
        if (!needPeer(t, lang.peer)) return;
        const res = await fetch(url('/nothing'));
        assert.equal(res.status, 404);
        assert.equal(await res.text(), 'no /nothing\n');
      });
    });
  }
});
