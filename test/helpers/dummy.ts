// A request without sockets for Trellis's own tests: the public `trellis/testing` helpers, plus a
// `render` that resolves (rather than rejects) when a response never finishes, for tests that look
// at a response left open on purpose.
import type { Request } from '../../src/request.js';
import type { Site } from '../../src/site.js';
import { testRequest, type TestRequestOptions, type TestResponse } from '../../src/testing.js';

export { testRequest as dummyRequest } from '../../src/testing.js';
export type { TestResponse as CapturedResponse, TestRequestOptions as DummyOptions } from '../../src/testing.js';

/** Serves one dummy request through `site`; resolves once the response ended, was aborted, or 2 s passed. */
export async function render(
  site: Site,
  options: TestRequestOptions = {},
): Promise<TestResponse & { request: Request }> {
  const { request, response } = testRequest(options);
  const done = new Promise<void>((resolve) => request.whenDone(() => resolve()));
  site.handle(request);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 2000)))]);
  clearTimeout(timer);
  // Encoded streams end a tick after whenDone; let them settle.
  await new Promise((r) => setImmediate(r));
  return Object.assign(response, { request });
}
