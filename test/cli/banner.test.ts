import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { test } from 'node:test';
import { bannerText, networkUrls } from '../../src/cli/banner.js';
import { browserCommand } from '../../src/cli/open-browser.js';
import { devCertificateNames } from '../../src/cli/dev-certificate.js';

const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null }) as unknown as NetworkInterfaceInfo;
const INTERFACES = {
  lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)],
  eth0: [iface('192.168.1.20', 'IPv4'), iface('fd00::20', 'IPv6'), iface('fe80::1', 'IPv6')],
};

test('networkUrls lists every outside address for a listener on all interfaces, none for one interface', () => {
  const all = { endpoint: { type: 'tcp' as const, port: 0 }, url: 'http://localhost:8080/', port: 8080 };
  assert.deepEqual(networkUrls(all, INTERFACES), ['http://192.168.1.20:8080/', 'http://[fd00::20]:8080/']);
  const v4 = {
    endpoint: { type: 'ssl' as const, port: 0, interface: '0.0.0.0', privateKey: '', certKey: '' },
    url: 'https://localhost:8443/',
    port: 8443,
  };
  assert.deepEqual(networkUrls(v4, INTERFACES), ['https://192.168.1.20:8443/']);
  const one = {
    endpoint: { type: 'tcp' as const, port: 0, interface: '127.0.0.1' },
    url: 'http://127.0.0.1:8080/',
    port: 8080,
  };
  assert.deepEqual(networkUrls(one, INTERFACES), []);
});

test('bannerText: a serving line per listener, network lines under it, what is served, how to stop', () => {
  const text = bannerText({
    version: '1.2.3',
    listeners: [{ listener: { endpoint: { type: 'tcp', port: 0 }, url: 'http://localhost:8080/', port: 8080 } }],
    serves: 'Files from /srv/www (directory listings on)',
    notes: ['CORS: any origin'],
    interfaces: INTERFACES,
  });
  assert.equal(
    text,
    'Trellis 1.2.3 serving http://localhost:8080/\n  on your network: http://192.168.1.20:8080/\n  on your network: http://[fd00::20]:8080/\n' +
      'Files from /srv/www (directory listings on)\nCORS: any origin\nPress Ctrl+C to stop (SIGTERM also finishes in-flight requests first).\n',
  );
});

test('browserCommand opens nothing under CI or tests, or without a browser; uses BROWSER when set', () => {
  assert.deepEqual(browserCommand('http://x/', { CI: 'true' }, 'linux'), {
    reason: 'not opening a browser under CI or tests',
  });
  assert.deepEqual(browserCommand('http://x/', { NODE_TEST_CONTEXT: 'child' }, 'darwin'), {
    reason: 'not opening a browser under CI or tests',
  });
  assert.deepEqual(browserCommand('http://x/', { CI: 'false', BROWSER: 'firefox' }, 'linux'), {
    command: 'firefox',
    args: ['http://x/'],
  });
  assert.deepEqual(browserCommand('http://x/', {}, 'darwin'), { command: 'open', args: ['http://x/'] });
  assert.deepEqual(browserCommand('http://x/', { PATH: '/nonexistent' }, 'linux'), {
    reason: 'no browser found (set BROWSER to the command that opens one)',
  });
});

test('devCertificateNames covers localhost, loopback, the host name and outside addresses', () => {
  assert.deepEqual(devCertificateNames('box', INTERFACES), [
    'DNS:localhost',
    'IP:127.0.0.1',
    'IP:::1',
    'DNS:box',
    'IP:192.168.1.20',
    'IP:fd00::20',
  ]);
  assert.ok(!devCertificateNames('bad name,DNS:evil', {}).some((n) => n.includes('evil')));
});

test('httpsFiles: given files (each defaulting to the other), else server.pem when present, else a development certificate', async () => {
  const { httpsFiles } = await import('../../src/cli/web.js');
  const { defaultWebConfig } = await import('../../src/cli/web-config.js');
  const { tempDir } = await import('../helpers/server.js');
  const { writeFileSync } = await import('node:fs');
  const dir = tempDir();
  try {
    const config = defaultWebConfig();
    assert.equal(httpsFiles(config, dir.path), null);
    writeFileSync(`${dir.path}/server.pem`, '');
    assert.deepEqual(httpsFiles(config, dir.path), { privateKey: 'server.pem', certKey: 'server.pem' });
    assert.deepEqual(httpsFiles({ ...config, certificate: 'both.pem' }, dir.path), {
      privateKey: 'both.pem',
      certKey: 'both.pem',
    });
    assert.deepEqual(httpsFiles({ ...config, certificate: 'c.pem', privkey: 'k.pem' }, dir.path), {
      privateKey: 'k.pem',
      certKey: 'c.pem',
    });
    assert.deepEqual(httpsFiles({ ...config, privkey: 'k.pem' }, dir.path), { privateKey: 'k.pem', certKey: 'k.pem' });
  } finally {
    dir.cleanup();
  }
});
