import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { runTrellis, spawnTrellis } from '../helpers/server.js';
import { fetchRaw } from '../proxy/http-client.js';

describe('trellis web proxy options', () => {
  const errors: Array<[string[], RegExp]> = [
    [['--trust-proxy', 'localhost'], /--trust-proxy: "localhost" is not an IP address or CIDR range/],
    [['--trust-proxy', '10.0.0.0/40'], /--trust-proxy: "10.0.0.0\/40"/],
    [['--vhost-monster'], /--vhost-monster needs --trust-proxy/],
    [['--public-url', 'example.com/app'], /--public-url: "example.com\/app" is not an absolute URL/],
    [['--public-url', 'https://example.com/?x=1'], /--public-url: .*must not carry credentials, a query or a fragment/],
    [['--proxy', 'app=http://127.0.0.1:9/'], /--proxy needs PATH=URL/],
    [['--proxy', '/app=https://127.0.0.1:9/'], /only http:\/\/ and unix:\/path backends are supported/],
    [['--proxy', '/app'], /--proxy needs PATH=URL/],
    [['--vhost-path', '/nonexistent/vhosts'], /--vhost-path \/nonexistent\/vhosts: .* is not a directory/],
  ];
  for (const [args, message] of errors) {
    test(`${args.join(' ')} is refused with one line`, async () => {
      const r = await runTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', ...args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }

  test('--trust-proxy honours forwarded headers from the listed peer only', async () => {
    const trusted = await spawnTrellis([
      'web',
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--class',
      'test/fixtures/proxy-site.ts#Root',
      '--trust-proxy',
      '127.0.0.1',
    ]);
    const untrusted = await spawnTrellis([
      'web',
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--class',
      'test/fixtures/proxy-site.ts#Root',
      '--trust-proxy',
      '10.0.0.0/8',
    ]);
    try {
      const headers = {
        Host: 'internal',
        'X-Forwarded-Host': 'pub.example',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Prefix': '/app',
        'X-Forwarded-For': '198.51.100.3',
      };
      const yes = JSON.parse((await fetchRaw(`${trusted.url}where`, { headers })).body);
      assert.equal(yes.prePathURL, 'https://pub.example/app/where');
      assert.equal(yes.client, '198.51.100.3');
      const no = JSON.parse((await fetchRaw(`${untrusted.url}where`, { headers })).body);
      assert.equal(no.prePathURL, 'http://internal/where');
      assert.equal(no.client, '127.0.0.1');
    } finally {
      await trusted.stop();
      await untrusted.stop();
    }
  });

  test('--public-url fixes the public URL for every request', async () => {
    const t = await spawnTrellis([
      'web',
      '--listen',
      'tcp:0:interface=127.0.0.1',
      '--class',
      'test/fixtures/proxy-site.ts#Root',
      '--public-url',
      'https://www.example.com/foo/',
    ]);
    try {
      const r = await fetchRaw(`${t.url}dir`);
      assert.equal(r.headers.location, 'https://www.example.com/foo/dir/');
    } finally {
      await t.stop();
    }
  });

  test('--vhost-path serves each subdirectory for the host of its name', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { tempDir } = await import('../helpers/server.js');
    const dir = tempDir();
    mkdirSync(`${dir.path}/a.example`);
    writeFileSync(`${dir.path}/a.example/index.html`, 'site a');
    const t = await spawnTrellis(['web', '--listen', 'tcp:0:interface=127.0.0.1', '--vhost-path', dir.path]);
    try {
      assert.equal((await fetchRaw(t.url, { headers: { Host: 'a.example' } })).body, 'site a');
      assert.equal((await fetchRaw(t.url, { headers: { Host: 'www.a.example' } })).body, 'site a');
      const other = await fetchRaw(t.url, { headers: { Host: 'b.example' } });
      assert.equal(other.status, 404);
      assert.doesNotMatch(other.body, /b\.example/);
      // A host directory added while serving is served on the next request, with no restart.
      mkdirSync(`${dir.path}/b.example`);
      writeFileSync(`${dir.path}/b.example/index.html`, 'site b');
      assert.equal((await fetchRaw(t.url, { headers: { Host: 'b.example' } })).body, 'site b');
    } finally {
      await t.stop();
      dir.cleanup();
    }
  });
});
