// Responses to Upgrade and CONNECT requests that no resource took over: written straight to the
// raw socket by upgrade.ts with the shared head writer, then the connection closes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Request } from '../../src/request.js';
import { Resource } from '../../src/resource.js';
import { Site } from '../../src/site.js';
import { parseResponses, rawHttp } from '../helpers/raw-http.js';
import { serveSite } from '../helpers/server.js';

/** Declines every upgrade with a 426 whose reason phrase and fields come from the resource. */
class Decline extends Resource {
  override isLeaf = true;
  override GET(request: Request) {
    request.setResponseCode(426, 'Upgrade\r\nSet-Cookie: injected=1');
    request.setHeader('Upgrade', 'h2c');
    request.setHeader('Connection', 'upgrade');
    return 'no';
  }
}

let server: Awaited<ReturnType<typeof serveSite>>;
before(async () => {
  server = await serveSite(new Site(new Decline()));
});
after(() => server.close());

test('an Upgrade request answered without a take-over: one head, reason made safe, Connection: close', async () => {
  const ask = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n';
  const text = await rawHttp(server.port!, ask);
  const [res] = parseResponses(text);
  assert.equal(res!.status, 426);
  assert.equal(res!.reason, 'Upgrade  Set-Cookie: injected=1');
  assert.equal(res!.header('set-cookie'), undefined);
  assert.equal(res!.header('upgrade'), 'h2c');
  assert.equal(res!.header('connection'), 'close');
  assert.equal(res!.text, 'no');
});
