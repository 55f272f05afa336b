// The Site's path rule (SECURITY.md §1.1): a request whose decoded path holds a `.` or `..` segment is
// 400 for every resource, over a real socket, and no resource ever sees such a segment.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import type { Request } from '../src/request.js';
import { Resource } from '../src/resource.js';
import { Site } from '../src/site.js';
import { parseResponses, rawHttp } from './helpers/raw-http.js';
import { serveSite } from './helpers/server.js';

/** A leaf that answers with the segments it was handed. */
class Leaf extends Resource {
  override isLeaf = true;
  readonly seen: string[][] = [];
  override GET(request: Request): string {
    this.seen.push([...request.postpath]);
    return JSON.stringify(request.postpath);
  }
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const [res] = parseResponses(await rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`));
  return { status: res!.status, text: res!.text };
}

describe('Site path rule', () => {
  const leaf = new Leaf();
  let server: Awaited<ReturnType<typeof serveSite>>;
  before(async () => {
    const root = new Resource();
    const dir = new Resource();
    dir.putChild('leaf', leaf);
    root.putChild('leaf', leaf);
    root.putChild('dir', dir);
    server = await serveSite(new Site(root, { logError: () => {} }));
  });
  after(() => server.close());

  const refused = [
    '/leaf/../x',
    '/leaf/%2e%2e/x',
    '/leaf/.%2E/x',
    '/leaf/%2E./x',
    '/leaf/./x',
    '/leaf/%2e',
    '/leaf/x/..',
    '/leaf/x/../',
    '/../leaf',
    '/dir/../leaf',
    '/dir/leaf/%2e%2e/%2e%2e/x',
  ];
  for (const path of refused) {
    test(`Site answers 400 to ${path} and the leaf never sees it`, async () => {
      leaf.seen.length = 0;
      const r = await get(server.port!, path);
      assert.equal(r.status, 400);
      assert.deepEqual(leaf.seen, []);
    });
  }

  const served: Array<[string, string[]]> = [
    ['/leaf/.../x', ['...', 'x']],
    ['/leaf/.x/x.', ['.x', 'x.']],
    ['/leaf/..x', ['..x']],
    ['/leaf/%2e%2e%2fx', ['../x']],
    ['/leaf//x/', ['', 'x', '']],
  ];
  for (const [path, segments] of served) {
    test(`Site hands ${path} to the leaf as ${JSON.stringify(segments)}`, async () => {
      const r = await get(server.port!, path);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text), segments);
    });
  }
});
