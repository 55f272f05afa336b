// UserDirectory and the personal-server relay over real sockets, with users from a passwd text whose
// homes are temporary directories: /~name/ from public_html, the listing, the redirect to the public
// /~name/, program files refused, 404s, and /~name.trellis/ relayed over the UNIX socket in the home
// to a personal server (personalRoot) with prepath, host, scheme, client and session scope kept.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { wrapRoot, defaultProxyConfig } from '../../src/cli/proxy-config.js';
import type { Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { RewriterResource } from '../../src/rewrite/rewriter.js';
import { Site } from '../../src/site.js';
import { MemorySessionStore } from '../../src/session/memory-store.js';
import { parsePasswd, type UserDatabase } from '../../src/users/passwd.js';
import { UserVirtualHost, personalRoot } from '../../src/users/personal-server.js';
import { UserDirectory, personalSocketPath, userTildeRule } from '../../src/users/user-directory.js';
import { whereOf } from '../proxy/fixtures.js';
import { fetchRaw } from '../proxy/http-client.js';
import { serveSite, tempDir } from '../helpers/server.js';

const dir = tempDir('trellis-users-');
const home = (name: string) => join(dir.path, name);

function database(): UserDatabase {
  const entries = parsePasswd(
    [
      `alice:x:2001:2001:Alice <b>L</b>,,,:${home('alice')}:/bin/sh`,
      `bob:x:2002:2002::${home('bob')}:/bin/sh`,
      `carol:x:2003:2003:Carol:${home('carol')}:/bin/sh`,
      `gone:x:2004:2004::${home('gone')}:/bin/sh`,
    ].join('\n'),
  );
  return { lookup: (name) => entries.find((e) => e.name === name), list: () => entries };
}

/** What a personal server sees of a request, and a session it opens. */
class Where extends Resource {
  override isLeaf = true;
  override async GET(request: Request) {
    const session = await request.getSession();
    request.setHeader('Content-Type', 'application/json');
    return JSON.stringify({ ...whereOf(request), session: session.uid.length });
  }
}

function personalSite(): Site {
  const root = new Resource();
  root.putChild('where', new Where());
  return new Site(personalRoot(root), { sessionStore: new MemorySessionStore(), logError: () => {} });
}

describe('UserDirectory', () => {
  let users: UserDirectory;
  let main: Awaited<ReturnType<typeof serveSite>>;
  let trusting: Awaited<ReturnType<typeof serveSite>>;
  let vhost: Awaited<ReturnType<typeof serveSite>>;
  let personal: Awaited<ReturnType<typeof serveSite>>;
  let personalTcp: Awaited<ReturnType<typeof serveSite>>;

  before(async () => {
    mkdirSync(join(home('alice'), 'public_html', 'sub'), { recursive: true });
    writeFileSync(join(home('alice'), 'public_html', 'index.html'), '<p>alice</p>');
    writeFileSync(join(home('alice'), 'public_html', 'sub', 'index.html'), '<p>sub</p>');
    for (const name of ['hello.cgi', 'page.php', 'site.rpy.ts', 'run.pl'])
      writeFileSync(join(home('alice'), 'public_html', name), 'SOURCE');
    mkdirSync(home('bob'));
    mkdirSync(home('carol'));
    const site = personalSite();
    personal = await serveSite(site, `unix:${personalSocketPath(home('carol'))}`);
    personalTcp = await serveSite(site);

    users = new UserDirectory({ users: database() });
    const top = new Resource({ GET: (request) => users.listing(request, './~') });
    top.putChild('users', users);
    const root = new RewriterResource(top, userTildeRule);
    main = await serveSite(new Site(root, { logError: () => {} }));
    trusting = await serveSite(
      new Site(wrapRoot(root, { ...defaultProxyConfig(), trustProxy: ['127.0.0.1'] }), { logError: () => {} }),
    );
    vhost = await serveSite(
      new Site(new UserVirtualHost({ domain: 'example.test', users, default: root }), { logError: () => {} }),
    );
  });
  after(async () => {
    users.close();
    for (const s of [main, trusting, vhost, personalTcp]) await s.close();
    await personal.close().catch(() => {});
    dir.cleanup();
  });

  test('the root lists users with a public_html or a personal server, names escaped, ~ links', async () => {
    const res = await fetchRaw(`${main.base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html; charset=utf-8/);
    assert.match(res.body, /<a href="\.\/~alice\/">Alice &lt;b&gt;L&lt;\/b&gt;<\/a> \(files\)/);
    assert.match(res.body, /<a href="\.\/~carol\.trellis\/">Carol<\/a> \(personal server\)/);
    assert.doesNotMatch(res.body, /bob|gone/);
  });

  test('/users/ lists them with links relative to it; /users redirects to /users/', async () => {
    const res = await fetchRaw(`${main.base}/users/`);
    assert.match(res.body, /<a href="\.\/alice\/">/);
    const bare = await fetchRaw(`${main.base}/users`);
    assert.equal(bare.status, 302);
    assert.equal(bare.headers.location, './users/');
  });

  test('/~alice/ and /users/alice/ serve ~alice/public_html', async () => {
    for (const path of ['/~alice/', '/users/alice/', '/~alice/index.html']) {
      const res = await fetchRaw(`${main.base}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.body, '<p>alice</p>', path);
    }
    const sub = await fetchRaw(`${main.base}/~alice/sub`);
    assert.equal(sub.status, 302);
    assert.equal(sub.headers.location, './sub/');
  });

  test('/~alice redirects to the absolute public /~alice/, the query kept; /users/alice to /users/alice/', async () => {
    const tilde = await fetchRaw(`${main.base}/~alice?x=1`);
    assert.equal(tilde.status, 302);
    assert.equal(tilde.headers.location, `${main.base}/~alice/?x=1`);
    const plain = await fetchRaw(`${main.base}/users/alice`);
    assert.equal(plain.headers.location, `${main.base}/users/alice/`);
  });

  test('behind a trusted proxy, /~alice redirects to the public URL', async () => {
    const res = await fetchRaw(`${trusting.base}/~alice`, {
      headers: {
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'www.example.test',
        'X-Forwarded-Prefix': '/people',
      },
    });
    assert.equal(res.headers.location, 'https://www.example.test/people/~alice/');
  });

  test('program files in a user directory are 403 and never sent as source', async () => {
    for (const name of ['hello.cgi', 'page.php', 'site.rpy.ts', 'run.pl']) {
      const res = await fetchRaw(`${main.base}/~alice/${name}`);
      assert.equal(res.status, 403, name);
      assert.doesNotMatch(res.body, /SOURCE/, name);
    }
  });

  test('an unknown user, a user without public_html and a name that is no login name are 404', async () => {
    for (const path of ['/~nobody/', '/~bob/', '/~gone/', '/~bob', '/users/-x/', '/~a%20b/', '/~nobody.trellis/']) {
      const res = await fetchRaw(`${main.base}${path}`);
      assert.equal(res.status, 404, path);
    }
  });

  test('/~alice.trellis/ with no personal server socket is a 502 at once', async () => {
    const res = await fetchRaw(`${main.base}/~alice.trellis/`);
    assert.equal(res.status, 502);
  });

  test('/~carol.trellis redirects to /~carol.trellis/', async () => {
    const res = await fetchRaw(`${main.base}/~carol.trellis`);
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, `${main.base}/~carol.trellis/`);
  });

  test('/~carol.trellis/ is relayed with prepath, host, scheme and client kept, the session cookie under the prefix', async () => {
    const res = await fetchRaw(`${main.base}/~carol.trellis/where?q=1`);
    assert.equal(res.status, 200, res.body);
    const seen = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(seen.prePathURL, `${main.base}/~carol.trellis/where`);
    assert.deepEqual(seen.prepath, ['~carol.trellis', 'where']);
    assert.equal(seen.client, '127.0.0.1');
    assert.equal(seen.secure, false);
    assert.equal(seen.host, new URL(main.base).host);
    const cookie = res.headers['set-cookie']?.[0] ?? '';
    assert.match(cookie, /^TRELLIS_SESSION_~carol\.trellis=[0-9a-f]{64}; /);
    assert.match(cookie, /; Path=\/~carol\.trellis\/(;|$)/);
  });

  test('/users/carol.trellis/ keeps the /users/ form as its prefix', async () => {
    const res = await fetchRaw(`${main.base}/users/carol.trellis/where`);
    assert.deepEqual((JSON.parse(res.body) as { prepath: string[] }).prepath, ['users', 'carol.trellis', 'where']);
  });

  test('behind a trusted proxy, the personal server sees the public scheme, host, prefix and client', async () => {
    const res = await fetchRaw(`${trusting.base}/~carol.trellis/where`, {
      headers: {
        'X-Forwarded-For': '203.0.113.9',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'www.example.test',
        'X-Forwarded-Prefix': '/people',
      },
    });
    const seen = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(seen.prePathURL, 'https://www.example.test/people/~carol.trellis/where');
    assert.equal(seen.client, '203.0.113.9');
    assert.equal(seen.secure, true);
    assert.match(
      res.headers['set-cookie']?.[0] ?? '',
      /^TRELLIS_SECURE_SESSION_people_~carol\.trellis=.*; Path=\/people\/~carol\.trellis\//,
    );
  });

  test('a client cannot pass its own X-Forwarded-For through an untrusting main server', async () => {
    const res = await fetchRaw(`${main.base}/~carol.trellis/where`, {
      headers: { 'X-Forwarded-For': '198.51.100.1', 'X-Forwarded-Host': 'evil.example' },
    });
    const seen = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(seen.client, '127.0.0.1');
    assert.equal(seen.host, new URL(main.base).host);
  });

  test('a personal server believes no forwarding header over TCP', async () => {
    const res = await fetchRaw(`${personalTcp.base}/where`, {
      headers: { 'X-Forwarded-For': '198.51.100.1', 'X-Forwarded-Prefix': '/x', 'X-Forwarded-Proto': 'https' },
    });
    const seen = JSON.parse(res.body) as Record<string, unknown>;
    assert.deepEqual([seen.client, seen.secure, seen.prepath], ['127.0.0.1', false, ['where']]);
    assert.match(res.headers['set-cookie']?.[0] ?? '', /^TRELLIS_SESSION=.*; Path=\/(;|$)/);
  });

  test('UserVirtualHost relays NAME.DOMAIN to the personal server as its root; an unknown name is 404', async () => {
    const res = await fetchRaw(`${vhost.base}/where`, { headers: { host: 'carol.example.test' } });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(seen.prePathURL, 'http://carol.example.test/where');
    assert.match(res.headers['set-cookie']?.[0] ?? '', /^TRELLIS_SESSION=.*; Path=\/(;|$)/);
    assert.equal((await fetchRaw(`${vhost.base}/`, { headers: { host: 'nobody.example.test' } })).status, 404);
    const other = await fetchRaw(`${vhost.base}/~alice/`, { headers: { host: 'example.test' } });
    assert.equal(other.body, '<p>alice</p>');
  });

  test('a personal server that stops is a 502 at once, and answers again once back', async () => {
    await personal.close();
    const down = await fetchRaw(`${main.base}/~carol.trellis/where`);
    assert.equal(down.status, 502);
    personal = await serveSite(personalSite(), `unix:${personalSocketPath(home('carol'))}`);
    const up = await fetchRaw(`${main.base}/~carol.trellis/where`);
    assert.equal(up.status, 200);
  });
});
