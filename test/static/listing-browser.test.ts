// The directory listing in a real browser (Debian's chromium through playwright-core): hostile file
// names render as text, every link reaches its file, sorting works, nothing runs; a screenshot is kept.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { File } from '../../src/static/file.js';
import { Site } from '../../src/site.js';
import { needPeer } from '../helpers/peers.js';
import { ROOT, serveSite, tempDir } from '../helpers/server.js';

const HOSTILE = [
  '<script>alert(1)<script>.txt',
  '<b>bold<b> &lt;.txt',
  '<img src=x onerror=alert(2)>.html',
  `quote"apos'.txt`,
  '#fragment.txt',
  '?query.txt',
  '%41%2e.txt',
  'javascript:alert(3).txt',
  'a&amp;b.txt',
  'spaces  and\ttab.txt',
  'ünïcødé 日本.txt',
  'semi;colon,comma.txt',
];

test('the directory listing in Chromium: hostile names shown as text, links work, sortable, no script runs', async (t) => {
  const chromium = needPeer(t, 'chromium');
  if (!chromium) return;
  const { chromium: driver } = await import('playwright-core');
  const dir = tempDir('trellis-listing-');
  const profile = mkdtempSync(join(tmpdir(), 'trellis-chromium-'));
  const root = join(dir.path, 'www');
  mkdirSync(join(root, 'a sub dir'), { recursive: true });
  mkdirSync(join(root, 'zz-dir'));
  writeFileSync(join(root, '.secret'), 'hidden');
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(5000));
  HOSTILE.forEach((name, i) => writeFileSync(join(root, name), `content ${i}`));
  const server = await serveSite(new Site(new File(root)));
  const context = await driver.launchPersistentContext(profile, {
    executablePath: chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const response = await page.goto(`${server.base}/`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'Index of /');
    const rows = await page.$$eval('tbody tr td.n a', (links) => links.map((a) => ({ text: a.textContent ?? '', href: (a as unknown as { href: string }).href })));
    const texts = rows.map((r) => r.text);
    for (const name of HOSTILE) assert.ok(texts.includes(name), `listing shows ${JSON.stringify(name)}`);
    assert.ok(!texts.some((x) => x.includes('.secret')), 'dotfiles are hidden');
    assert.deepEqual(texts.slice(0, 2), ['a sub dir/', 'zz-dir/'], 'directories first');
    for (const [i, name] of HOSTILE.entries()) {
      const row = rows.find((r) => r.text === name)!;
      assert.ok(row.href.startsWith(`${server.base}/`), `${name} links inside the site: ${row.href}`);
      const res = await page.request.get(row.href);
      assert.equal(res.status(), 200, `${name} -> ${row.href}`);
      assert.equal(await res.text(), `content ${i}`);
    }
    // Sorting by size, largest first: the 5000-byte file leads the files.
    await page.click('th a:text("Size")');
    await page.click('th a:text("Size")');
    const bySize = await page.$$eval('tbody tr td.n a', (links) => links.map((a) => a.textContent));
    assert.equal(bySize[2], 'big.bin');
    assert.match(page.url(), /sort=size&order=desc/);
    await page.goto(`${server.base}/a%20sub%20dir/`);
    assert.equal(await page.title(), 'Index of /a sub dir/');
    await page.click('a:text("../")');
    assert.equal(new URL(page.url()).pathname, '/');
    assert.deepEqual(dialogs, [], 'no script ran');
    await page.goto(`${server.base}/`);
    mkdirSync(join(ROOT, 'test/.artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test/.artifacts/static-listing.png'), fullPage: true });
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    dir.cleanup();
  }
});
