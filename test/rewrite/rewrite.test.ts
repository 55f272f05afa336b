import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { RewriterResource, alias, tildeToUsers } from '../../src/rewrite/rewriter.js';
import { AutoVHostURIRewrite, VHostURIRewrite, parsePublicUrl } from '../../src/rewrite/vhost-uri-rewrite.js';
import { serveSite } from '../helpers/server.js';
import { fetchRaw } from '../proxy/http-client.js';
import { Where, tree } from '../proxy/fixtures.js';

async function serve(root: Resource, fn: (base: string) => Promise<void>) {
  const s = await serveSite(new Site(root, { logError: () => {} }));
  try {
    await fn(s.base);
  } finally {
    await s.close();
  }
}

describe('RewriterResource', () => {
  test('tildeToUsers maps /~user/x to /users/user/x', async () => {
    const users = new Resource();
    users.putChild('alice', new Where());
    const root = new Resource();
    root.putChild('users', users);
    await serve(new RewriterResource(root, tildeToUsers), async (base) => {
      const seen = JSON.parse((await fetchRaw(`${base}/~alice/notes`)).body);
      assert.deepEqual(seen.prepath, ['users', 'alice']);
      assert.deepEqual(seen.postpath, ['notes']);
      assert.equal((await fetchRaw(`${base}/~bob/x`)).status, 404);
    });
  });

  test('after tildeToUsers, a directory redirect is built from the URL the client asked for', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { tempDir } = await import('../helpers/server.js');
    const { File } = await import('../../src/static/file.js');
    const dir = tempDir();
    mkdirSync(`${dir.path}/alice`);
    writeFileSync(`${dir.path}/alice/index.html`, 'home of alice');
    const root = new Resource();
    root.putChild('users', new File(dir.path));
    try {
      await serve(new RewriterResource(root, tildeToUsers), async (base) => {
        const moved = await fetchRaw(`${base}/~alice?x=1`);
        assert.equal(moved.status, 302);
        assert.equal(moved.headers.location, './~alice/?x=1');
        assert.equal((await fetchRaw(new URL(moved.headers.location!, `${base}/~alice`).href)).body, 'home of alice');
      });
    } finally {
      dir.cleanup();
    }
  });

  test('alias serves a source path at an alias path, leaving other paths alone', async () => {
    const docs = new Resource();
    const v2 = new Resource();
    v2.putChild('manual', new Where());
    docs.putChild('v2', v2);
    const root = new Resource();
    root.putChild('docs', docs);
    root.putChild('other', new Where());
    await serve(new RewriterResource(root, alias('/manual', 'docs/v2/manual')), async (base) => {
      const seen = JSON.parse((await fetchRaw(`${base}/manual/intro`)).body);
      assert.deepEqual(seen.prepath, ['docs', 'v2', 'manual']);
      assert.deepEqual(seen.postpath, ['intro']);
      assert.deepEqual(JSON.parse((await fetchRaw(`${base}/other`)).body).prepath, ['other']);
      assert.equal((await fetchRaw(`${base}/manualx`)).status, 404);
    });
  });

  test('a leaf wrapped resource gets the whole path', async () => {
    await serve(new RewriterResource(new Where(), tildeToUsers), async (base) => {
      assert.deepEqual(JSON.parse((await fetchRaw(`${base}/~a/b`)).body).postpath, ['users', 'a', 'b']);
    });
  });
});

describe('VHostURIRewrite', () => {
  test('gives every request the fixed public URL, path included', async () => {
    await serve(new VHostURIRewrite('https://www.example.com/foo/', tree()), async (base) => {
      const seen = JSON.parse((await fetchRaw(`${base}/where`)).body);
      assert.equal(seen.prePathURL, 'https://www.example.com/foo/where');
      assert.equal((await fetchRaw(`${base}/dir`)).headers.location, 'https://www.example.com/foo/dir/');
    });
    await serve(new VHostURIRewrite('http://example.org:8080', tree()), async (base) => {
      assert.equal(JSON.parse((await fetchRaw(`${base}/where`)).body).prePathURL, 'http://example.org:8080/where');
    });
  });

  test('mounted as a child, the public URL replaces the parent segment (seed apache1_twohosts)', async () => {
    const root = new Resource();
    root.putChild('foo', new VHostURIRewrite('http://foo.myhostname.com/', tree()));
    root.putChild('bar', new VHostURIRewrite('https://bar.example/app/', tree()));
    await serve(root, async (base) => {
      assert.equal(
        JSON.parse((await fetchRaw(`${base}/foo/where`)).body).prePathURL,
        'http://foo.myhostname.com/where',
      );
      assert.equal((await fetchRaw(`${base}/foo/dir`)).headers.location, 'http://foo.myhostname.com/dir/');
      assert.equal(JSON.parse((await fetchRaw(`${base}/bar/where`)).body).prePathURL, 'https://bar.example/app/where');
    });
  });

  test('refuses URLs that are not plain http(s) base URLs', () => {
    for (const bad of ['example.com', 'ftp://x/', 'http://u:p@x/', 'http://x/?q', 'http://x/#f'])
      assert.throws(() => parsePublicUrl(bad), TypeError, bad);
  });
});

describe('AutoVHostURIRewrite', () => {
  const apache = {
    'X-Forwarded-Host': 'www.example.com',
    'X-Forwarded-For': '198.51.100.1',
    'X-App-Location': '/whatever/',
    'X-App-Scheme': 'https',
    Host: 'localhost:8538',
  };

  test('reads X-App-Location, X-App-Scheme, X-Forwarded-Host and X-Forwarded-For from a trusted peer', async () => {
    await serve(new AutoVHostURIRewrite(tree(), { trustedProxies: ['127.0.0.1'] }), async (base) => {
      const seen = JSON.parse((await fetchRaw(`${base}/where`, { headers: apache })).body);
      assert.equal(seen.prePathURL, 'https://www.example.com/whatever/where');
      assert.equal(seen.client, '198.51.100.1');
    });
  });

  test('mounted as a child, X-App-Location replaces the parent segment', async () => {
    const root = new Resource();
    root.putChild('inner', new AutoVHostURIRewrite(tree(), { trustedProxies: ['127.0.0.1'] }));
    await serve(root, async (base) => {
      const seen = JSON.parse((await fetchRaw(`${base}/inner/where`, { headers: apache })).body);
      assert.equal(seen.prePathURL, 'https://www.example.com/whatever/where');
    });
  });

  test('answers 400 to a trusted peer that sent no X-Forwarded-Host, unless sendsRealHost', async () => {
    await serve(new AutoVHostURIRewrite(tree(), { trustedProxies: ['127.0.0.1'] }), async (base) => {
      assert.equal((await fetchRaw(`${base}/where`, { headers: { 'X-Forwarded-For': '198.51.100.1' } })).status, 400);
    });
    await serve(
      new AutoVHostURIRewrite(tree(), { trustedProxies: ['127.0.0.1'], sendsRealHost: true }),
      async (base) => {
        const seen = JSON.parse(
          (await fetchRaw(`${base}/where`, { headers: { Host: 'pub.example', 'X-Forwarded-For': '198.51.100.1' } }))
            .body,
        );
        assert.equal(seen.prePathURL, 'http://pub.example/where');
      },
    );
  });

  test('from an untrusted peer the same headers change nothing', async () => {
    await serve(new AutoVHostURIRewrite(tree()), async (base) => {
      const seen = JSON.parse((await fetchRaw(`${base}/where`, { headers: apache })).body);
      assert.equal(seen.prePathURL, 'http://localhost:8538/where');
      assert.equal(seen.client, '127.0.0.1');
    });
  });
});
