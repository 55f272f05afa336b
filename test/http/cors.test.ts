import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corsAnswer } from '../../src/http/cors.js';

const req = (over: Partial<Parameters<typeof corsAnswer>[1]> = {}) => ({
  method: 'GET',
  origin: undefined,
  requestMethod: undefined,
  requestHeaders: undefined,
  ...over,
});
const headerMap = (headers: Array<[string, string]>) => Object.fromEntries(headers);

test('corsAnswer adds nothing without Origin when any origin is allowed', () => {
  assert.deepEqual(corsAnswer({ origins: ['*'] }, req()), { headers: [], preflight: false });
});

test('corsAnswer allows any origin with *, never with credentials', () => {
  const a = corsAnswer({ origins: ['*'] }, req({ origin: 'https://x.example' }));
  assert.deepEqual(a, { headers: [['Access-Control-Allow-Origin', '*']], preflight: false });
});

test('corsAnswer names the origin, with Vary: Origin and credentials when asked', () => {
  const policy = { origins: ['https://app.example'], credentials: true };
  const ok = headerMap(corsAnswer(policy, req({ origin: 'https://app.example' })).headers);
  assert.deepEqual(ok, {
    Vary: 'Origin',
    'Access-Control-Allow-Origin': 'https://app.example',
    'Access-Control-Allow-Credentials': 'true',
  });
  assert.deepEqual(corsAnswer(policy, req({ origin: 'https://evil.example' })).headers, [['Vary', 'Origin']]);
  assert.deepEqual(
    corsAnswer(policy, req()).headers,
    [['Vary', 'Origin']],
    'Vary even without Origin, so caches keep them apart',
  );
});

test('corsAnswer answers a preflight with methods, the requested headers and a max age', () => {
  const a = corsAnswer(
    { origins: ['*'] },
    req({
      method: 'OPTIONS',
      origin: 'https://x.example',
      requestMethod: 'PUT',
      requestHeaders: 'Content-Type, X-Token',
    }),
  );
  assert.equal(a.preflight, true);
  const h = headerMap(a.headers);
  assert.equal(h['Access-Control-Allow-Methods'], 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
  assert.equal(h['Access-Control-Allow-Headers'], 'Content-Type, X-Token');
  assert.equal(h['Access-Control-Max-Age'], '600');
  assert.equal(h['Access-Control-Allow-Credentials'], undefined);
});

test('corsAnswer does not echo requested header names that are not tokens', () => {
  const a = corsAnswer(
    { origins: ['*'] },
    req({
      method: 'OPTIONS',
      origin: 'https://x.example',
      requestMethod: 'GET',
      requestHeaders: 'ok, bad header\r\nX: y',
    }),
  );
  assert.equal(headerMap(a.headers)['Access-Control-Allow-Headers'], undefined);
});

test('corsAnswer: OPTIONS without Access-Control-Request-Method is no preflight; a refused origin preflight gets no allow headers', () => {
  assert.equal(
    corsAnswer({ origins: ['*'] }, req({ method: 'OPTIONS', origin: 'https://x.example' })).preflight,
    false,
  );
  const refused = corsAnswer(
    { origins: ['https://a.example'] },
    req({ method: 'OPTIONS', origin: 'https://b.example', requestMethod: 'GET' }),
  );
  assert.deepEqual(refused, { headers: [['Vary', 'Origin']], preflight: true });
});
