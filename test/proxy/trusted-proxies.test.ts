import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import {
  CidrError,
  TrustedProxies,
  clientFromChain,
  parseForwarded,
  prefixSegments,
  trustForwarded,
} from '../../src/proxy/trusted-proxies.js';
import { RewriterResource } from '../../src/rewrite/rewriter.js';
import { Site } from '../../src/site.js';
import { serveSite } from '../helpers/server.js';
import { fetchRaw } from './http-client.js';
import { tree } from './fixtures.js';

describe('TrustedProxies', () => {
  test('matches addresses and CIDR ranges, IPv4-mapped included', () => {
    const t = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    assert.ok(t.contains('127.0.0.1'));
    assert.ok(t.contains('::ffff:10.2.3.4'));
    assert.ok(t.contains('fd12::1'));
    assert.equal(t.contains('127.0.0.2'), false);
    assert.equal(t.contains('unknown'), false);
    assert.equal(t.contains(null), false);
  });
  test('is empty by default and trusts nobody', () => {
    const t = new TrustedProxies();
    assert.ok(t.empty);
    assert.equal(t.contains('127.0.0.1'), false);
  });
  test('refuses what is not an address or CIDR', () => {
    for (const bad of ['', 'localhost', '10.0.0.0/33', '1.2.3.4/x', '::1/129', '1.2.3.4/8/9'])
      assert.throws(() => new TrustedProxies([bad]), CidrError, bad);
  });
});

describe('clientFromChain', () => {
  const t = new TrustedProxies(['10.0.0.0/8']);
  test('walks X-Forwarded-For from the right, skipping trusted hops', () => {
    assert.equal(clientFromChain(['1.2.3.4'], '10.0.0.1', t), '1.2.3.4');
    assert.equal(clientFromChain(['6.6.6.6', '1.2.3.4'], '10.0.0.1', t), '1.2.3.4');
    assert.equal(clientFromChain(['1.2.3.4', '10.0.0.2'], '10.0.0.1', t), '1.2.3.4');
    assert.equal(clientFromChain(['10.0.0.3', '10.0.0.2'], '10.0.0.1', t), '10.0.0.3');
  });
  test('an untrusted peer is the client whatever the chain says', () => {
    assert.equal(clientFromChain(['1.2.3.4'], '5.5.5.5', t), '5.5.5.5');
  });
  test('stops at a hop that is not an IP', () => {
    assert.equal(clientFromChain(['1.2.3.4', 'garbage'], '10.0.0.1', t), '10.0.0.1');
  });
});

describe('forwarding header parsing', () => {
  test('parseForwarded splits elements and pairs, unquoting', () => {
    assert.deepEqual(
      parseForwarded(['for=192.0.2.60;proto=http;by=203.0.113.43', 'for="[2001:db8::1]:4711";host="a.example, b"']),
      [
        { for: '192.0.2.60', proto: 'http', by: '203.0.113.43' },
        { for: '[2001:db8::1]:4711', host: 'a.example, b' },
      ],
    );
  });
  test('prefixSegments accepts absolute paths and refuses the rest', () => {
    assert.deepEqual(prefixSegments('/app/'), ['app']);
    assert.deepEqual(prefixSegments('/a%20b/c'), ['a b', 'c']);
    assert.deepEqual(prefixSegments('/'), []);
    for (const bad of ['app', '/a/../b', '/a?x', '/%zz', '/a\r\nb']) assert.equal(prefixSegments(bad), null, bad);
  });
});

describe('trustForwarded over a real socket', () => {
  let trusted: Awaited<ReturnType<typeof serveSite>>;
  let untrusted: Awaited<ReturnType<typeof serveSite>>;
  before(async () => {
    const yes = new TrustedProxies(['127.0.0.0/8']);
    const no = new TrustedProxies(['192.0.2.0/24']);
    trusted = await serveSite(new Site(new RewriterResource(tree(), (r) => void trustForwarded(r, { trusted: yes }))));
    untrusted = await serveSite(new Site(new RewriterResource(tree(), (r) => void trustForwarded(r, { trusted: no }))));
  });
  after(async () => {
    await trusted.close();
    await untrusted.close();
  });
  const headers = {
    Host: 'internal:8080',
    'X-Forwarded-For': '198.51.100.7, 127.0.0.1',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Host': 'www.example.com',
    'X-Forwarded-Prefix': '/app',
  };

  test('a trusted peer: X-Forwarded-* give client, scheme, host and mount path', async () => {
    const r = await fetchRaw(`${trusted.base}/where`, { headers });
    const seen = JSON.parse(r.body);
    assert.equal(seen.prePathURL, 'https://www.example.com/app/where');
    assert.equal(seen.client, '198.51.100.7');
    assert.equal(seen.secure, true);
    const d = await fetchRaw(`${trusted.base}/dir`, { headers });
    assert.equal(d.status, 301);
    assert.equal(d.headers.location, 'https://www.example.com/app/dir/');
  });

  test('an untrusted peer: the same headers change nothing', async () => {
    const seen = JSON.parse((await fetchRaw(`${untrusted.base}/where`, { headers })).body);
    assert.equal(seen.prePathURL, 'http://internal:8080/where');
    assert.equal(seen.client, '127.0.0.1');
    assert.equal(seen.secure, false);
    const d = await fetchRaw(`${untrusted.base}/dir`, { headers });
    assert.equal(d.headers.location, 'http://internal:8080/dir/');
  });

  test('RFC 7239 Forwarded and X-App-Location/-Scheme are honoured', async () => {
    const seen = JSON.parse(
      (
        await fetchRaw(`${trusted.base}/where`, {
          headers: {
            Host: 'internal',
            Forwarded: 'for=198.51.100.8;proto=http;host="pub.example:8443"',
            'X-App-Scheme': 'https',
            'X-App-Location': '/whatever/',
          },
        })
      ).body,
    );
    assert.equal(seen.prePathURL, 'https://pub.example:8443/whatever/where');
    assert.equal(seen.client, '198.51.100.8');
  });

  test('invalid forwarded values are ignored', async () => {
    const seen = JSON.parse(
      (
        await fetchRaw(`${trusted.base}/where`, {
          headers: {
            Host: 'internal',
            'X-Forwarded-Host': 'evil.example/<x>',
            'X-Forwarded-Proto': 'gopher',
            'X-Forwarded-Prefix': '../up',
            'X-Forwarded-For': 'not-an-ip',
          },
        })
      ).body,
    );
    assert.equal(seen.prePathURL, 'http://internal/where');
    assert.equal(seen.client, '127.0.0.1');
  });

  test('multiple X-Forwarded-For fields are read in order', async () => {
    const seen = JSON.parse(
      (
        await fetchRaw(`${trusted.base}/where`, {
          headers: ['Host', 'h', 'X-Forwarded-For', '203.0.113.1', 'X-Forwarded-For', '127.0.0.5'],
        })
      ).body,
    );
    assert.equal(seen.client, '203.0.113.1');
  });
});
