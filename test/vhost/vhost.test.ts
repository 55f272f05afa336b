import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Data } from '../../src/data.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { NameVirtualHost } from '../../src/vhost/name-virtual-host.js';
import { VHostMonsterResource } from '../../src/vhost/vhost-monster.js';
import { VHostPath } from '../../src/vhost/vhost-path.js';
import { serveSite, tempDir } from '../helpers/server.js';
import { fetchRaw } from '../proxy/http-client.js';
import { Where, tree } from '../proxy/fixtures.js';

function text(body: string): Resource {
  const r = new Resource();
  r.putChild('', new Data(body, 'text/plain'));
  r.putChild('page', new Data(`${body} page`, 'text/plain'));
  return r;
}

describe('NameVirtualHost', () => {
  test('chooses by Host, case-insensitively, port dropped; parent domains fall back; default for the rest', async () => {
    const v = new NameVirtualHost({ default: text('default') });
    v.addHost('Example.com', text('example'));
    v.addHost('foo.com', text('foo'));
    const s = await serveSite(new Site(v));
    try {
      const get = async (host: string, path = '/') =>
        (await fetchRaw(`${s.base}${path}`, { headers: { Host: host } })).body;
      assert.equal(await get('example.com'), 'example');
      assert.equal(await get('EXAMPLE.COM:8080', '/page'), 'example page');
      assert.equal(await get('a.b.example.com'), 'example');
      assert.equal(await get('foo.com.'), 'foo');
      assert.equal(await get('other.org'), 'default');
      v.removeHost('foo.com');
      assert.equal(await get('foo.com'), 'default');
    } finally {
      await s.close();
    }
  });

  test('without a default an unknown host is a 404 with the host escaped', async () => {
    const v = new NameVirtualHost();
    v.addHost('example.com', text('example'));
    const s = await serveSite(new Site(v));
    try {
      const r = await fetchRaw(`${s.base}/`, { headers: { Host: 'a-b.org' } });
      assert.equal(r.status, 404);
      assert.match(r.body, /a-b\.org/);
      const bad = await fetchRaw(`${s.base}/`, { headers: { Host: '<script>' } });
      assert.equal(bad.status, 400);
      assert.doesNotMatch(bad.body, /<script>/);
    } finally {
      await s.close();
    }
  });

  test('nested matching can be turned off', async () => {
    const v = new NameVirtualHost({ supportNested: false });
    v.addHost('example.com', text('example'));
    const s = await serveSite(new Site(v));
    try {
      assert.equal((await fetchRaw(`${s.base}/`, { headers: { Host: 'www.example.com' } })).status, 404);
    } finally {
      await s.close();
    }
  });

  test('a leaf host resource gets the whole path', async () => {
    const v = new NameVirtualHost();
    v.addHost('leaf.example', new Where());
    const s = await serveSite(new Site(v));
    try {
      const seen = JSON.parse((await fetchRaw(`${s.base}/a/b`, { headers: { Host: 'leaf.example' } })).body);
      assert.deepEqual(seen.postpath, ['a', 'b']);
    } finally {
      await s.close();
    }
  });
});

describe('VHostPath', () => {
  test('serves each subdirectory as the host of its name and never leaves the directory', async () => {
    const dir = tempDir();
    mkdirSync(join(dir.path, 'one.example'));
    mkdirSync(join(dir.path, 'example.org'));
    const v = new VHostPath(dir.path, (path) => text(path.slice(dir.path.length + 1)));
    const s = await serveSite(new Site(v));
    try {
      const get = async (host: string) => fetchRaw(`${s.base}/`, { headers: { Host: host } });
      assert.equal((await get('one.example')).body, 'one.example');
      assert.equal((await get('www.example.org')).body, 'example.org');
      assert.equal((await get('two.example')).status, 404);
      assert.equal((await get('..')).status, 404);
      mkdirSync(join(dir.path, 'two.example'));
      assert.equal((await get('two.example')).body, 'two.example');
    } finally {
      await s.close();
      dir.cleanup();
    }
  });
});

describe('VHostMonsterResource', () => {
  async function withMonster(trusted: string[], fn: (base: string) => Promise<void>) {
    const root = tree();
    root.putChild('vhost', new VHostMonsterResource({ trustedProxies: trusted }));
    const s = await serveSite(new Site(root));
    try {
      await fn(s.base);
    } finally {
      await s.close();
    }
  }

  test('/vhost/http/host:port/rest is served as http://host:port/rest', () =>
    withMonster(['127.0.0.1'], async (base) => {
      const seen = JSON.parse((await fetchRaw(`${base}/vhost/http/www.example.com:8080/where`)).body);
      assert.equal(seen.prePathURL, 'http://www.example.com:8080/where');
      const d = await fetchRaw(`${base}/vhost/http/www.example.com:8080/dir`);
      assert.equal(d.headers.location, 'http://www.example.com:8080/dir/');
    }));

  test('https defaults to port 443', () =>
    withMonster(['127.0.0.1'], async (base) => {
      const seen = JSON.parse((await fetchRaw(`${base}/vhost/https/secure.example/where`)).body);
      assert.equal(seen.prePathURL, 'https://secure.example/where');
      assert.equal(seen.secure, true);
    }));

  test('an untrusted peer gets 404 for every child', () =>
    withMonster([], async (base) => {
      assert.equal((await fetchRaw(`${base}/vhost/http/www.example.com/where`)).status, 404);
    }));

  test('a bad scheme is 404, a bad host 400', () =>
    withMonster(['127.0.0.1'], async (base) => {
      assert.equal((await fetchRaw(`${base}/vhost/ftp/x/where`)).status, 404);
      assert.equal((await fetchRaw(`${base}/vhost/http/a%3Cb/where`)).status, 400);
      assert.equal((await fetchRaw(`${base}/vhost/http/a:99999/where`)).status, 400);
    }));

  test('works below the root too', async () => {
    const root = tree();
    const deep = new Resource();
    deep.putChild('vhost', new VHostMonsterResource({ trustedProxies: ['127.0.0.1'] }));
    root.putChild('deep', deep);
    const s = await serveSite(new Site(root));
    try {
      const seen = JSON.parse((await fetchRaw(`${s.base}/deep/vhost/http/pub.example/where`)).body);
      assert.equal(seen.prePathURL, 'http://pub.example/where');
    } finally {
      await s.close();
    }
  });
});
