// The directory listing in a real browser (Debian's chromium through playwright-core): hostile file
// names render as text, every link reaches its file, sorting works, no hostile script runs; the page
// fits a 390 px phone, the filter box filters, the CSP lets nothing else in; screenshots of the
// listing (desktop and phone) and of an error page are kept in test/.artifacts/.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
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

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A page in a fresh headless Chromium profile, and how to close it; null when Chromium is missing (skipped). */
async function openChromium(
  t: TestContext,
  options: { javaScriptEnabled?: boolean } = {},
): Promise<{ page: Page; close(): Promise<void> } | null> {
  const chromium = needPeer(t, 'chromium');
  if (!chromium) return null;
  const { chromium: driver } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'trellis-chromium-'));
  const context = await driver.launchPersistentContext(profile, {
    executablePath: chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    ...options,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

test('the directory listing in Chromium: hostile names shown as text, links work, sortable, no script runs', async (t) => {
  const browser = await openChromium(t);
  if (!browser) return;
  const dir = tempDir('trellis-listing-');
  const root = join(dir.path, 'www');
  mkdirSync(join(root, 'a sub dir'), { recursive: true });
  mkdirSync(join(root, 'zz-dir'));
  writeFileSync(join(root, '.secret'), 'hidden');
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(5000));
  for (const [i, name] of HOSTILE.entries()) writeFileSync(join(root, name), `content ${i}`);
  const server = await serveSite(new Site(new File(root)));
  try {
    const { page } = browser;
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const response = await page.goto(`${server.base}/`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'Index of /');
    const rows = await page.$$eval('tbody tr td.n a', (links) =>
      links.map((a) => ({ text: a.textContent ?? '', href: (a as unknown as { href: string }).href })),
    );
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
    await browser.close();
    await server.close();
    dir.cleanup();
  }
});

test('the listing and an error page in Chromium: no horizontal overflow at 390 px and on a desktop, the filter box filters, icons inline, CSP quiet', async (t) => {
  const browser = await openChromium(t);
  if (!browser) return;
  const dir = tempDir('trellis-listing-');
  const root = join(dir.path, 'www');
  mkdirSync(join(root, 'assets', 'images'), { recursive: true });
  mkdirSync(join(root, 'docs'));
  const names = [
    'README.md',
    'index.js',
    'styles.css',
    'photo.jpg',
    'song.mp3',
    'archive.tar.gz',
    'report.pdf',
    'data.json',
    'a-very-long-file-name-without-any-spaces-that-would-overflow-a-narrow-phone-screen-if-it-did-not-wrap.txt',
  ];
  for (const name of names) writeFileSync(join(root, name), `content of ${name}`);
  writeFileSync(join(root, 'assets', 'images', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  const server = await serveSite(new Site(new File(root)));
  const artifacts = join(ROOT, 'test/.artifacts');
  mkdirSync(artifacts, { recursive: true });
  try {
    const { page } = browser;
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const overflow = () =>
      page.evaluate<{ scroll: number; client: number }>(
        '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })',
      );

    for (const [width, height, shot] of [
      [1280, 800, 'static-listing-desktop.png'],
      [390, 844, 'static-listing-390.png'],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.goto(`${server.base}/`);
      const o = await overflow();
      assert.ok(
        o.scroll <= o.client,
        `no horizontal overflow at ${width} px: scrollWidth ${o.scroll} > clientWidth ${o.client}`,
      );
      await page.screenshot({ path: join(artifacts, shot), fullPage: true });
    }
    // At 390 px the Type column is dropped; the name column still shows every name.
    assert.equal(await page.isVisible('th.t'), false, 'Type column hidden on a phone');
    assert.equal(await page.locator('tbody tr').count(), names.length + 2);

    // Icons are inline data: images, one class per kind; nothing was fetched but the page itself.
    const icons = await page.$$eval('td.n a', (links) =>
      links.map((a) => [
        a.className,
        (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundImage: string } })
          .getComputedStyle(a)
          .backgroundImage.slice(0, 24),
      ]),
    );
    const kinds = Object.fromEntries(icons.map(([cls, bg]) => [cls, bg]));
    for (const kind of ['dir', 'code', 'image', 'media', 'archive', 'doc', 'text']) {
      assert.ok(kinds[kind]?.startsWith('url("data:image/svg+xml'), `icon ${kind}: ${kinds[kind]}`);
    }
    assert.deepEqual(
      requests.filter((u) => !u.startsWith(server.base)),
      [],
      'no external requests',
    );

    // The filter box appears (its script ran under the CSP) and hides what does not match.
    assert.equal(await page.isVisible('#filter'), true, 'the filter script ran');
    await page.fill('#filter', 'JS');
    const visible = () =>
      page.$$eval('tbody tr', (rows) =>
        rows.filter((r) => !(r as unknown as { hidden: boolean }).hidden).map((r) => r.querySelector('a')!.textContent),
      );
    assert.deepEqual(await visible(), ['data.json', 'index.js']);
    assert.match((await page.textContent('footer')) ?? '', /2 shown/);
    await page.fill('#filter', '');
    assert.equal((await visible()).length, names.length + 2);

    // Breadcrumbs: /assets/images/ links back to /assets/ and /.
    await page.goto(`${server.base}/assets/images/`);
    const crumbs = await page.$$eval('h1 nav a', (links) =>
      links.map((a) => [a.textContent, (a as unknown as { href: string }).href]),
    );
    assert.deepEqual(crumbs, [
      ['/', `${server.base}/`],
      ['assets', `${server.base}/assets/`],
    ]);
    assert.equal(await page.textContent('h1 nav span'), 'images');

    // An error page in the same look, no overflow at 390 px either.
    const res = await page.goto(`${server.base}/missing/${'x'.repeat(120)}`);
    assert.equal(res?.status(), 404);
    assert.match(await page.title(), /^404 - /);
    const o = await overflow();
    assert.ok(o.scroll <= o.client, `error page: scrollWidth ${o.scroll} > clientWidth ${o.client}`);
    await page.screenshot({ path: join(artifacts, 'static-error-390.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: join(artifacts, 'static-error-desktop.png'), fullPage: true });
    assert.deepEqual(violations, [], 'no CSP violations');
  } finally {
    await browser.close();
    await server.close();
    dir.cleanup();
  }
});

test('the listing works with JavaScript off: every row shown, no filter box, sorting by links', async (t) => {
  const browser = await openChromium(t, { javaScriptEnabled: false });
  if (!browser) return;
  const dir = tempDir('trellis-listing-');
  writeFileSync(join(dir.path, 'small.txt'), 'a');
  writeFileSync(join(dir.path, 'large.txt'), 'a'.repeat(5000));
  const server = await serveSite(new Site(new File(dir.path)));
  try {
    const { page } = browser;
    await page.goto(`${server.base}/`);
    assert.equal(await page.isVisible('#filter'), false);
    await page.click('th a:text("Size")');
    await page.click('th a:text("Size")');
    assert.deepEqual(await page.$$eval('tbody tr td.n a', (links) => links.map((a) => a.textContent)), [
      'large.txt',
      'small.txt',
    ]);
  } finally {
    await browser.close();
    await server.close();
    dir.cleanup();
  }
});
